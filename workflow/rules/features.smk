# Ground-truth features per track, and the corpus-level tables (genre statistics).


rule extract_features:
    input:
        unpack(lambda wc: track_audio(wc, ROLES + ("room_ir",))),
        code=pkg("vocalmix.stages.features"),
    output:
        features="results/features/{track}.json",
        windows="results/features/{track}.windows.tsv",
    log:
        "results/logs/extract_features/{track}.log",
    benchmark:
        "results/benchmarks/extract_features/{track}.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=track_mem_mb("extract_features"),
    params:
        track=lambda wildcards: track_row(wildcards.track),
        sample_rate=lookup(dpath="sample_rate", within=config),
        features=lookup(dpath="features", within=config),
        seed=lookup(dpath="seed", within=config),
    script:
        "../scripts/extract_features.py"


rule summarise_features:
    input:
        code=pkg("vocalmix.stages.summary"),
        features=lambda wildcards: expand("results/features/{track}.json", track=track_ids()),
        truth=lambda wildcards: [r["truth"] for r in truth_tracks()],
        truth_vocal=lambda wildcards: [r["vocal"] for r in truth_tracks()],
        truth_backing=lambda wildcards: [r["backing"] for r in truth_tracks()],
        # the separator's bias on real tracks with true stems, subtracted from separated songs
        correction=["results/separated/correction.tsv"] if SEPARATED else [],
        # published priors for genres with too few real songs (and no synthetic ones)
        priors=pkg_data("genre_stats_default.tsv"),
    output:
        summary="results/features/summary.tsv",
        genre_stats="results/features/genre_stats.tsv",
        truth_check="results/features/truth_check.tsv",
        plot=report(
            "results/features/feature_distributions.png",
            caption="../report/feature_distributions.rst",
            category="Features",
        ),
    log:
        "results/logs/summarise_features.log",
    benchmark:
        "results/benchmarks/summarise_features.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        truth_tracks=lambda wildcards: [r["track_id"] for r in truth_tracks()],
        synthetic_datasets=synthetic_datasets(config),
        min_real_songs=lookup(dpath="genre/min_real_songs", within=config),
    script:
        "../scripts/summarise_features.py"
