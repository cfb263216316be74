# Synthetic corruption, the windowed dataset, the task models and their held-out evaluation.


wildcard_constraints:
    task="|".join(TASKS),


rule corrupt:
    input:
        unpack(corrupt_inputs),
        code=pkg("vocalmix.stages.corrupt"),
    output:
        audio=expand("results/corrupted/{{track}}/v{k}.flac", k=KEPT_VERSIONS),
        params=expand("results/corrupted/{{track}}/v{k}.json", k=VERSIONS),
        dereverberated="results/corrupted/{track}/dereverberated.flac",
    log:
        "results/logs/corrupt/{track}.log",
    benchmark:
        "results/benchmarks/corrupt/{track}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=track_mem_mb("corrupt"),
    params:
        track="{track}",
        seed=lookup(dpath="seed", within=config),
        corruption=lookup(dpath="corruption", within=config),
        audio_versions=KEPT_VERSIONS,
    script:
        "../scripts/corrupt.py"


# The other versions' audio, read once (by build_dataset): temporary, and remade from the
# stored dereverberated vocal (no WPE) when the dataset is rebuilt.
if EXTRA_VERSIONS:

    rule corrupt_extra:
        input:
            dereverberated="results/corrupted/{track}/dereverberated.flac",
            code=pkg("vocalmix.stages.corrupt"),
        output:
            audio=temp(expand("results/corrupted/{{track}}/v{k}.flac", k=EXTRA_VERSIONS)),
        log:
            "results/logs/corrupt_extra/{track}.log",
        benchmark:
            "results/benchmarks/corrupt_extra/{track}.tsv"
        conda:
            "../../envs/audio.yaml"
        threads: 1
        resources:
            mem_mb=track_mem_mb("corrupt_extra"),
        params:
            track="{track}",
            seed=lookup(dpath="seed", within=config),
            versions=EXTRA_VERSIONS,
        script:
            "../scripts/corrupt_extra.py"


rule build_dataset:
    input:
        code=pkg("vocalmix.stages.dataset"),
        features=lambda wc: expand(
            "results/features/{track}.json", track=[r["track_id"] for r in vocal_tracks()]
        ),
        windows=lambda wc: expand(
            "results/features/{track}.windows.tsv",
            track=[r["track_id"] for r in vocal_tracks()],
        ),
        backing=lambda wc: [r["backing"] for r in vocal_tracks()],
        corrupted=lambda wc: corrupted(vocal_tracks()),
    output:
        dataset=directory("results/dataset"),
    log:
        "results/logs/build_dataset.log",
    benchmark:
        "results/benchmarks/build_dataset.tsv"
    priority: CRITICAL_PRIORITY
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=400,  # streamed: 154 MiB, flat in the corpus (corpus_jobs_memory.csv)
    params:
        tracks=lambda wc: [
            {k: r[k] for k in ("track_id", "split", "source", "weight", "backing")}
            for r in vocal_tracks()
        ],
        sample_rate=lookup(dpath="sample_rate", within=config),
        windows={
            k: config["features"][k]
            for k in ("window_s", "hop_s", "gate_lu", "min_active_fraction")
        },
        dataset=lookup(dpath="dataset", within=config),
    script:
        "../scripts/build_dataset.py"


rule train_model:
    input:
        code=pkg("vocalmix.stages.train"),
        dataset="results/dataset",
    output:
        model="results/models/{task}/model.pt",
        curve="results/models/{task}/curve.csv",
        plot=report(
            "results/models/{task}/curve.png",
            caption="../report/training_curve.rst",
            category="Models",
            subcategory="{task}",
        ),
        metrics="results/models/{task}/metrics.json",
    log:
        "results/logs/train_model/{task}.log",
    benchmark:
        "results/benchmarks/train_model/{task}.tsv"
    priority: CRITICAL_PRIORITY
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=1000,  # 590 MiB on CPU, flat in the corpus (corpus_jobs_memory.csv)
        gpu=lookup(dpath="train/gpus", within=config),
    params:
        task="{task}",
        seed=lookup(dpath="seed", within=config),
        train=lookup(dpath="train", within=config),
        nice=train_nice,
    script:
        "../scripts/train_model.py"


rule evaluate_models:
    input:
        code=pkg("vocalmix.stages.systems"),
        models=expand("results/models/{task}/model.pt", task=TASKS),
        genre_stats="results/features/genre_stats.tsv",
        genres="results/corpus/genres.tsv",
        features=lambda wc: expand(
            "results/features/{track}.json",
            track=[r["track_id"] for r in vocal_tracks(split=("test",))],
        ),
        backing=lambda wc: [r["backing"] for r in vocal_tracks(split=("test",))],
        corrupted=lambda wc: corrupted(vocal_tracks(split=("test",)), versions=[0]),
        dereverberated=lambda wc: expand(
            "results/corrupted/{track}/dereverberated.flac",
            track=[r["track_id"] for r in vocal_tracks(split=("test",))],
        ),
        excerpts=lambda wc: expand(
            "results/renders/{track}/excerpt.json",
            track=[r["track_id"] for r in vocal_tracks(split=("test",))],
        ),
    output:
        per_track="results/models/per_track.tsv",
        summary="results/models/summary.tsv",
        plot=report(
            "results/models/summary.png",
            caption="../report/model_summary.rst",
            category="Models",
        ),
    log:
        "results/logs/evaluate_models.log",
    benchmark:
        "results/benchmarks/evaluate_models.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=1400,  # 835-1061 MiB measured: the mixers on 180-s windows (corpus_jobs_memory.csv)
    params:
        tracks=lambda wc: [with_genre(r) for r in vocal_tracks(split=("test",))],
        mixing=lookup(dpath="mixing", within=config),
        features=lookup(dpath="features", within=config),
    script:
        "../scripts/evaluate_models.py"
