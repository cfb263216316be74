# Genre for every track: features of each backing, a classifier trained on the training
# split's metadata genres, and the track sheet's genre columns with the predictions filled in.
#
# tracks.tsv is written by the ingest checkpoint before any feature exists, so the predictions
# cannot go into it without a cycle: predict_genres writes results/corpus/genres.tsv (one row
# per track: metadata genre, prediction, confidence, resolved genre and its source) for the
# consumers of genres. It is a checkpoint so that rules can take a track's resolved genre
# as a param (track_genre in common.smk): a retrained classifier then reruns only the jobs of the
# tracks whose genre changed.


rule genre_features:
    input:
        code=pkg("vocalmix.stages.genre_features"),
        backing=lambda wc: [r["backing"] for r in manifest()],
    output:
        features="results/genre/features.tsv",
    log:
        "results/logs/genre_features.log",
    benchmark:
        "results/benchmarks/genre_features.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 2
    resources:
        mem_mb=500,  # streamed: 348-358 MiB (two worker processes; corpus_jobs_memory.csv)
    params:
        tracks=lambda wc: genre_feature_tracks(),
        excerpt_s=lookup(dpath="genre/excerpt_s", within=config),
    script:
        "../scripts/genre_features.py"


rule train_genre_classifier:
    input:
        code=pkg("vocalmix.stages.genre"),
        features="results/genre/features.tsv",
    output:
        model="results/genre/model.json",
        confusion="results/genre/confusion.tsv",
        plot=report(
            "results/genre/confusion.png",
            caption="../report/genre_confusion.rst",
            category="Features",
            subcategory="Genre classifier",
        ),
        metrics="results/genre/metrics.json",
    log:
        "results/logs/train_genre_classifier.log",
    benchmark:
        "results/benchmarks/train_genre_classifier.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        seed=lookup(dpath="seed", within=config),
        genre=lookup(dpath="genre", within=config),
    script:
        "../scripts/train_genre_classifier.py"


checkpoint predict_genres:
    input:
        code=pkg("vocalmix.stages.genre"),
        features="results/genre/features.tsv",
        model="results/genre/model.json",
        tracks="results/corpus/tracks.tsv",
    output:
        genres="results/corpus/genres.tsv",
    log:
        "results/logs/predict_genres.log",
    benchmark:
        "results/benchmarks/predict_genres.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        confidence_threshold=lookup(dpath="genre/confidence_threshold", within=config),
    script:
        "../scripts/predict_genres.py"
