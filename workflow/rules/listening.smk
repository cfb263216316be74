# The listening test: WAET export, returned (or simulated) results, statistics, report.
#
# Real WAET saves dropped into listening_test/results/ are used as soon as one of them is a
# complete session; until then a simulated listener panel stands in and every output derived
# from it says SIMULATED.

from vocalmix.listening.results import scan_results

LISTENING_RESULTS = "listening_test/results"
LISTENING_FILES, LISTENING_COMPLETE = scan_results(LISTENING_RESULTS)
SIMULATED_RATINGS = not LISTENING_COMPLETE
SIMULATED_LABEL = "SIMULATED" if SIMULATED_RATINGS else ""
SIMULATED_COMPLETE = [
    f"results/listening/simulated/complete-{i:02d}.xml"
    for i in range(1, config["listening"]["simulation"]["listeners"] + 1)
]
SIMULATED_ABANDONED = [
    f"results/listening/simulated/abandoned-{i:02d}.xml"
    for i in range(1, config["listening"]["simulation"]["abandoned"] + 1)
]


rule export_waet:
    input:
        renders="results/renders/renders.tsv",
        code=pkg("vocalmix.stages.export"),
    output:
        test="listening_test/waet/tests/vocalmix.xml",
        key="listening_test/waet/KEY.tsv",
        readme="listening_test/waet/README-vocalmix.md",
        media=directory("listening_test/waet/media/vocalmix"),
    log:
        "results/logs/export_waet.log",
    benchmark:
        "results/benchmarks/export_waet.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        seed=lookup(dpath="seed", within=config),
        listening={k: v for k, v in config["listening"].items() if k != "simulation"},
    script:
        "../scripts/export_waet.py"


rule simulate_listeners:
    input:
        test="listening_test/waet/tests/vocalmix.xml",
        key="listening_test/waet/KEY.tsv",
        media="listening_test/waet/media/vocalmix",
        metrics="results/evaluation/per_track.tsv",
        code=pkg("vocalmix.stages.simulate"),
    output:
        complete=SIMULATED_COMPLETE,
        abandoned=SIMULATED_ABANDONED,
        model="results/listening/simulated/model.json",
    log:
        "results/logs/simulate_listeners.log",
    benchmark:
        "results/benchmarks/simulate_listeners.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        seed=lookup(dpath="seed", within=config),
        simulation=lookup(dpath="listening/simulation", within=config),
    script:
        "../scripts/simulate_listeners.py"


rule import_ratings:
    input:
        results=(SIMULATED_COMPLETE + SIMULATED_ABANDONED if SIMULATED_RATINGS else LISTENING_FILES),
        key="listening_test/waet/KEY.tsv",
        code=pkg("vocalmix.stages.ratings"),
    output:
        ratings="results/analysis/ratings.tsv",
        survey="results/analysis/survey.tsv",
        summary="results/analysis/import_summary.json",
    log:
        "results/logs/import_ratings.log",
    benchmark:
        "results/benchmarks/import_ratings.tsv"
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        source="simulated" if SIMULATED_RATINGS else "real",
        results_dir=LISTENING_RESULTS,
        real_files_not_used=LISTENING_FILES if SIMULATED_RATINGS else [],
    script:
        "../scripts/import_ratings.py"


rule analyse_ratings:
    input:
        ratings="results/analysis/ratings.tsv",
        survey="results/analysis/survey.tsv",
        import_summary="results/analysis/import_summary.json",
        code=pkg("vocalmix.stages.analysis"),
    output:
        screening="results/analysis/screening.tsv",
        descriptives="results/analysis/descriptives.tsv",
        descriptives_items="results/analysis/descriptives_items.tsv",
        anova="results/analysis/anova.tsv",
        friedman="results/analysis/friedman.tsv",
        posthoc="results/analysis/posthoc.tsv",
        mixedlm="results/analysis/mixedlm.txt",
        plot_conditions=report(
            "results/analysis/ratings_per_condition.png",
            caption="../report/listening_conditions.rst",
            category="Listening test",
            labels={"figure": "grades per condition", "ratings": SIMULATED_LABEL or "real"},
        ),
        plot_items=report(
            "results/analysis/ratings_per_item.png",
            caption="../report/listening_items.rst",
            category="Listening test",
            labels={"figure": "grades per item", "ratings": SIMULATED_LABEL or "real"},
        ),
        html=report(
            "results/analysis/summary.html",
            caption="../report/listening_summary.rst",
            category="Listening test",
            labels={"figure": "statistics", "ratings": SIMULATED_LABEL or "real"},
        ),
        summary="results/analysis/stats_summary.json",
    log:
        "results/logs/analyse_ratings.log",
    benchmark:
        "results/benchmarks/analyse_ratings.tsv"
    conda:
        "../../envs/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        analysis=lookup(dpath="analysis", within=config),
        label=SIMULATED_LABEL,
    script:
        "../scripts/analyse_ratings.py"
