"""``vocalmix stats``: the statistics of the listening test's ratings."""

from __future__ import annotations

import argparse

from vocalmix.cli._common import (Output, add_force, check_outputs, error, is_json_with,
                                  own_if)

from vocalmix.layout import ANALYSIS_DIR

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "stats",
        help="statistics of listening-test ratings (post-screening, ANOVA, post-hoc, LMM)",
        description=(
            "Analyse a ratings table (vocalmix listening import): BS.1534-3 post-screening, "
            "descriptive statistics per condition, repeated-measures ANOVA (condition x item "
            "within listeners) with Greenhouse-Geisser/Huynh-Feldt corrections and partial eta "
            "squared, Friedman test, paired t and Wilcoxon post-hoc tests with Holm "
            "correction, a linear mixed model with random listener and item intercepts, and "
            "figures. Tables from simulated ratings say SIMULATED in their titles."),
    )
    p.add_argument("ratings", metavar="RATINGS.tsv", help="the ratings table")
    p.add_argument("-o", "--output", default=ANALYSIS_DIR, metavar="DIR",
                   help=f"folder for the tables and figures (default {ANALYSIS_DIR})")
    p.add_argument("--alpha", type=float, default=None,
                   help="significance level (default: config analysis.alpha, 0.05)")
    p.add_argument("--reference-below", type=float, default=None, metavar="GRADE",
                   help="post-screening: a hidden-reference grade below this is a lapse "
                        "(default 90)")
    p.add_argument("--max-fraction", type=float, default=None, metavar="F",
                   help="post-screening: lapses on more than this share of items exclude a "
                        "listener (default 0.15)")
    p.add_argument("--survey", metavar="TSV", default=None,
                   help="survey table of the import (one row per listener) for the "
                        "listener ids in screening.tsv (default: survey.tsv beside the "
                        "ratings table when it exists; 'none' to skip)")
    add_force(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vocalmix.stats.analysis import OUTPUTS, AnalysisSettings, StatsError, analyse

    # options given on the command line; the rest are the config schema's defaults
    screening = {k: v for k, v in (("reference_below", args.reference_below),
                                   ("max_fraction", args.max_fraction)) if v is not None}
    settings = AnalysisSettings.from_mapping(
        {"screening": screening, **({} if args.alpha is None else {"alpha": args.alpha})})
    out = Path(args.output)
    survey = args.survey
    if survey is None:
        beside = Path(args.ratings).with_name("survey.tsv")
        survey = str(beside) if beside.is_file() else None
    elif survey.lower() == "none":
        survey = None
    # before any work: never over the ratings or the survey; the tables of an earlier run
    # (its stats_summary.json) are replaced, anything else only with --force
    own = own_if(out / OUTPUTS["summary"], is_json_with("listeners", "listeners_kept",
                                                         "alpha"))
    check_outputs([args.ratings, survey],
                  [Output(out, folder=True)] + [Output(out / v, own) for v in OUTPUTS.values()],
                  force=args.force)
    out.mkdir(parents=True, exist_ok=True)
    try:
        s = analyse(args.ratings, {k: out / v for k, v in OUTPUTS.items()}, settings=settings,
                    survey_tsv=survey)
    except (StatsError, ValueError, OSError) as exc:
        error("stats", str(exc))
        return 2
    tag = "SIMULATED ratings: " if s["simulated"] else ""
    print(f"{tag}{s['listeners_kept']} of {s['listeners']} listeners kept after "
          f"post-screening, {s['items']} items")
    for c, m in s["means"].items():
        print(f"  {c:14s} mean grade {m:6.1f}")
    ce = s.get("condition_effect")
    if ce:
        print(f"  condition: F({ce['df1']:g}, {ce['df2']:g}) = {ce['F']:.2f}, p = {ce['p']:.3g}"
              f" (GG {ce['p_gg']:.3g}, HF {ce['p_hf']:.3g}), partial eta^2 = "
              f"{ce['partial_eta_sq']:.3f}")
    for n in s["notes"]:
        print(f"  note: {n}")
    print(f"tables and figures in {out}/")
    return 0
