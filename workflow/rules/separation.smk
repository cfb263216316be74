# Source separation: finished songs (commercial_mixes) -> vocal + backing pairs that ingestion
# adds to tracks.tsv as source=separated, and the separation quality report. Nothing here
# reads the manifest (ingest depends on these outputs), so the separated tracks, the training
# stems of the builtin separator and the held-out tracks come from CANDIDATES (discovery at
# parse time). Each separating rule exists once per backend (its own conda env); wildcard
# constraints let only the configured backend's variant match. Helpers: common.smk.


rule train_separator:
    input:
        code=pkg("vocalmix.stages.separator"),
        stems=candidate_files("train", "valid"),
    output:
        model=SEPARATOR_MODEL,
        curve="results/separated/model/curve.csv",
        plot=report(
            "results/separated/model/curve.png",
            caption="../report/separator_training.rst",
            category="Separation",
        ),
    log:
        "results/logs/train_separator.log",
    benchmark:
        "results/benchmarks/train_separator.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=2000 + 25 * len(separation_candidates("train") + separation_candidates("valid")),
    params:
        train=separation_candidates("train"),
        valid=separation_candidates("valid"),
        config={**separation_config(), "separation": {"builtin": SEPARATION["builtin"]}},
    script:
        "../scripts/train_separator.py"


rule separate:
    input:
        unpack(separator_model),
        mix=lambda wc: SEPARATED[wc.track].origin,
        code=pkg("vocalmix.stages.separate"),
        runners=separator_runners(),
    output:
        vocal="results/separated/{track}/vocal.wav",
        backing="results/separated/{track}/backing.wav",
        report="results/separated/{track}/report.json",
    log:
        "results/logs/separate/{track}.log",
    benchmark:
        "results/benchmarks/separate/{track}.tsv"
    wildcard_constraints:
        track=backend_tracks("builtin", SEPARATED),
    conda:
        "../../envs/models.yaml"
    threads: 2
    resources:
        mem_mb=3000,
    params:
        track="{track}",
        sample_rate=lookup(dpath="sample_rate", within=config),
        separation=separation_params(),
    script:
        "../scripts/separate.py"


use rule separate as separate_pretrained with:
    wildcard_constraints:
        track=backend_tracks("pretrained", SEPARATED),
    resources:
        # streamed in blocks: 521 and 562 MiB peak on 3- and 10-minute songs
        # (benchmarks/results/separation_memory.csv), 25 % margin
        mem_mb=800,


use rule separate as separate_spleeter with:
    wildcard_constraints:
        track=backend_tracks("spleeter", SEPARATED),
    conda:
        "../../envs/spleeter.yaml"


use rule separate as separate_demucs with:
    wildcard_constraints:
        track=backend_tracks("demucs", SEPARATED),
    conda:
        "../../envs/demucs.yaml"


rule separate_heldout:
    input:
        unpack(separator_model),
        stems=lambda wc: HELDOUT[wc.track].all_files(),
        code=pkg("vocalmix.stages.heldout"),
        runners=separator_runners(),
    output:
        vocal="results/separated/heldout/{track}/vocal.wav",
        backing="results/separated/heldout/{track}/backing.wav",
    log:
        "results/logs/separate_heldout/{track}.log",
    benchmark:
        "results/benchmarks/separate_heldout/{track}.tsv"
    wildcard_constraints:
        track=backend_tracks("builtin", HELDOUT),
    conda:
        "../../envs/models.yaml"
    threads: 2
    resources:
        mem_mb=3000,
    params:
        candidate=lambda wc: asdict(HELDOUT[wc.track]),
        config=separation_config(),
        separation=separation_params(),
    script:
        "../scripts/separate_heldout.py"


use rule separate_heldout as separate_heldout_pretrained with:
    wildcard_constraints:
        track=backend_tracks("pretrained", HELDOUT),


use rule separate_heldout as separate_heldout_spleeter with:
    wildcard_constraints:
        track=backend_tracks("spleeter", HELDOUT),
    conda:
        "../../envs/spleeter.yaml"


use rule separate_heldout as separate_heldout_demucs with:
    wildcard_constraints:
        track=backend_tracks("demucs", HELDOUT),
    conda:
        "../../envs/demucs.yaml"


rule separation_quality:
    input:
        code=pkg("vocalmix.stages.separation_quality"),
        stems=sorted({f for c in HELDOUT.values() for f in c.all_files()}),
        estimates=[f for e in heldout_estimates().values() for f in e.values()],
        reports=[separated_paths(t)["report"] for t in SEPARATED],
    output:
        table="results/separated/quality.tsv",
        summary="results/separated/quality_summary.tsv",
        plot=report(
            "results/separated/quality.png",
            caption="../report/separation_quality.rst",
            category="Separation",
        ),
        bias="results/separated/bias.tsv",
        bias_summary="results/separated/bias_summary.tsv",
        bias_plot=report(
            "results/separated/bias.png",
            caption="../report/separation_bias.rst",
            category="Real material",
        ),
        correction="results/separated/correction.tsv",
    log:
        "results/logs/separation_quality.log",
    benchmark:
        "results/benchmarks/separation_quality.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=3000,
    params:
        heldout=[asdict(HELDOUT[t]) for t in sorted(HELDOUT)],
        estimates=heldout_estimates(),
        splits={t: c.split for t, c in SEPARATED.items()},
        separation=separation_params(),
        config=separation_config(),
    script:
        "../scripts/separation_quality.py"


rule vocal_activity:
    input:
        code=pkg("vocalmix.stages.activity"),
        vocals=[separated_paths(t)["vocal"] for t in ACTIVITY],
        lines=list(ACTIVITY.values()),
    output:
        table="results/separated/activity.tsv",
        plot=report(
            "results/separated/activity.png",
            caption="../report/vocal_activity.rst",
            category="Real material",
        ),
    log:
        "results/logs/vocal_activity.log",
    benchmark:
        "results/benchmarks/vocal_activity.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1500,
    params:
        tracks=[
            {
                "track_id": t,
                "genre": SEPARATED[t].genre,
                "vocal": separated_paths(t)["vocal"],
                "lines": p,
            }
            for t, p in ACTIVITY.items()
        ],
        gate_lu=lookup(dpath="features/gate_lu", within=config),
    script:
        "../scripts/vocal_activity.py"
