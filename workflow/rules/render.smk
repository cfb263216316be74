# The five listening-test conditions of every test track, and their objective evaluation.


wildcard_constraints:
    condition="|".join(CONDITIONS),


rule excerpt:
    input:
        vocal=lambda wc: track_row(wc.track).get("vocal") or track_row(wc.track)["raw_vocal"],
        code=pkg("vocalmix.stages.render"),
    output:
        excerpt="results/renders/{track}/excerpt.json",
    log:
        "results/logs/excerpt/{track}.log",
    benchmark:
        "results/benchmarks/excerpt/{track}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=track_mem_mb("excerpt"),
    params:
        track="{track}",
        render=RENDER,
    script:
        "../scripts/excerpt.py"


rule render:
    input:
        unpack(render_inputs),
        genres="results/corpus/genres.tsv",
        code=pkg("vocalmix.stages.render"),
    output:
        audio="results/renders/{track}/{condition}.wav",
        vocal="results/renders/{track}/{condition}.vocal.flac",
        backing="results/renders/{track}/{condition}.backing.flac",
        json="results/renders/{track}/{condition}.json",
    log:
        "results/logs/render/{track}/{condition}.log",
    benchmark:
        "results/benchmarks/render/{track}/{condition}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=track_mem_mb("render"),
    params:
        row=lambda wc: track_row(wc.track),
        condition="{condition}",
        input_role=lambda wc: system_input(track_row(wc.track), RENDER_SETTINGS)[0],
        reference=lambda wc: professional_source(track_row(wc.track), RENDER["professional"]),
        commercial=lambda wc: commercial_source(track_row(wc.track), RENDER["commercial"]),
        genre=lambda wc: render_genre(wc)[0],
        genre_source=lambda wc: render_genre(wc)[1],
        render=RENDER,
        listening={k: config["listening"][k] for k in ("loudness_lufs", "true_peak_dbtp")},
        sample_rate=lookup(dpath="sample_rate", within=config),
        mixing=lookup(dpath="mixing", within=config),
        hop_s=lookup(dpath="features/hop_s", within=config),
        separation=lookup(dpath="separation", within=config),
        nice=render_nice,
    script:
        "../scripts/render.py"


rule render_index:
    input:
        code=pkg("vocalmix.stages.render"),
        json=lambda wc: rendered(".json"),
        audio=lambda wc: rendered(".wav"),
    output:
        index="results/renders/renders.tsv",
    log:
        "results/logs/render_index.log",
    benchmark:
        "results/benchmarks/render_index.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        left_out=lambda wc: {
            r["track_id"]: sorted(set(CONDITIONS) - set(conditions_for(r, RENDER_SETTINGS)))
            for r in render_tracks()
            if set(CONDITIONS) - set(conditions_for(r, RENDER_SETTINGS))
        },
    script:
        "../scripts/render_index.py"


rule evaluate_track:
    input:
        code=pkg("vocalmix.stages.objective"),
        json=lambda wc: rendered(".json", [wc.track]),
        audio=lambda wc: rendered(".wav", [wc.track]),
        vocal=lambda wc: rendered(".vocal.flac", [wc.track]),
        backing=lambda wc: rendered(".backing.flac", [wc.track]),
    output:
        table="results/evaluation/tracks/{track}.tsv",
    log:
        "results/logs/evaluate_track/{track}.log",
    benchmark:
        "results/benchmarks/evaluate_track/{track}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=track_mem_mb("evaluate_track"),
    params:
        track="{track}",
        dataset=lambda wc: track_row(wc.track)["dataset"],
        seed=lookup(dpath="seed", within=config),
        sample_rate=lookup(dpath="sample_rate", within=config),
        reverb=lookup(dpath="features/reverb", within=config),
    script:
        "../scripts/evaluate_track.py"


rule evaluate:
    input:
        code=pkg("vocalmix.stages.objective"),
        tables=lambda wc: expand(
            "results/evaluation/tracks/{track}.tsv",
            track=[
                r["track_id"]
                for r in render_tracks()
                if "professional" in conditions_for(r, RENDER_SETTINGS)
            ],
        ),
    output:
        per_track="results/evaluation/per_track.tsv",
        summary="results/evaluation/summary.tsv",
        table="results/evaluation/objective_table.tsv",
        table_html=report(
            "results/evaluation/objective_table.html",
            caption="../report/objective_table.rst",
            category="Objective evaluation",
            labels={"figure": "table per dataset"},
        ),
        comparisons="results/evaluation/comparisons.tsv",
        comparisons_html=report(
            "results/evaluation/comparisons.html",
            caption="../report/comparisons.rst",
            category="Objective evaluation",
            labels={"figure": "paired comparisons"},
        ),
        plot=report(
            "results/evaluation/metrics.png",
            caption="../report/evaluation.rst",
            category="Objective evaluation",
            labels={"figure": "metrics per track"},
        ),
    log:
        "results/logs/evaluate.log",
    benchmark:
        "results/benchmarks/evaluate.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        alpha=lookup(dpath="analysis/alpha", within=config),
    script:
        "../scripts/evaluate.py"
