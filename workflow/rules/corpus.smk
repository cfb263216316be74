# The corpus: the demo generator and the ingestion of every configured dataset.


# Every demo song in one job (its start-up outweighs a song's half CPU-second), made by
# up to `threads` worker processes; the files stay per song.
if DEMO_MADE:

    rule make_demo_corpus:
        input:
            code=pkg("vocalmix.stages.demo"),
        output:
            dry_vocal=expand("results/demo/{song}/dry_vocal.flac", song=DEMO_MADE_IDS),
            vocal=expand("results/demo/{song}/vocal.flac", song=DEMO_MADE_IDS),
            backing=expand("results/demo/{song}/backing.flac", song=DEMO_MADE_IDS),
            mixture=expand("results/demo/{song}/mixture.flac", song=DEMO_MADE_IDS),
            raw_vocal=expand("results/demo/{song}/raw_vocal.flac", song=DEMO_MADE_IDS),
            room_ir=expand("results/demo/{song}/room_ir.flac", song=DEMO_MADE_IDS),
            truth=expand("results/demo/{song}/truth.json", song=DEMO_MADE_IDS),
        log:
            "results/logs/make_demo_corpus.log",
        benchmark:
            "results/benchmarks/make_demo_corpus.tsv"
        conda:
            "../../envs/audio.yaml"
        threads: 4
        resources:
            mem_mb=1500,
        params:
            songs=DEMO_MADE,
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
