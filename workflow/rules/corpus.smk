# The corpus: the demo generator and the ingestion of every configured dataset.


rule make_demo_corpus:
    input:
        code=pkg("vocalmix.stages.demo"),
    output:
        dry_vocal="results/demo/{song}/dry_vocal.flac",
        vocal="results/demo/{song}/vocal.flac",
        backing="results/demo/{song}/backing.flac",
        mixture="results/demo/{song}/mixture.flac",
        raw_vocal="results/demo/{song}/raw_vocal.flac",
        room_ir="results/demo/{song}/room_ir.flac",
        truth="results/demo/{song}/truth.json",
    log:
        "results/logs/make_demo_corpus/{song}.log",
    benchmark:
        "results/benchmarks/make_demo_corpus/{song}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        song_id="{song}",
        genre=demo_genre,
        duration_s=lookup(dpath="demo/duration_s", within=config),
        sample_rate=lookup(dpath="sample_rate", within=config),
        seed=lookup(dpath="seed", within=config),
    script:
        "../scripts/make_demo_corpus.py"


checkpoint ingest:
    input:
        code=pkg("vocalmix.stages.ingest"),
        genres=pkg_data("musdb18_genres.tsv"),
        files=ingest_inputs(),
    output:
        tracks="results/corpus/tracks.tsv",
        rejected="results/corpus/rejected.tsv",
        audio=directory("results/corpus/audio"),
    log:
        "results/logs/ingest.log",
    benchmark:
        "results/benchmarks/ingest.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 4
    resources:
        mem_mb=4000,
    params:
        config={
            **{k: config[k] for k in ("seed", "sample_rate", "datasets", "demo", "ingest")},
            "commercial_mixes": config["commercial_mixes"],
            "separation": {k: config["separation"][k] for k in ("split", "train_weight")},
        },
    script:
        "../scripts/ingest.py"
