# Report-only summaries: the corpus at a glance (the other stages report their own plots).


rule corpus_overview:
    input:
        tracks="results/corpus/tracks.tsv",
        rejected="results/corpus/rejected.tsv",
        code=pkg("vocalmix.stages.overview"),
    output:
        table="results/corpus/overview.tsv",
        plot=report(
            "results/corpus/overview.png",
            caption="../report/corpus_overview.rst",
            category="Corpus",
        ),
    log:
        "results/logs/corpus_overview.log",
    benchmark:
        "results/benchmarks/corpus_overview.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=500,
    script:
        "../scripts/corpus_overview.py"
