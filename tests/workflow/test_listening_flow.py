"""The listening test in the tiny run: WAET export, simulated panel, import, statistics and
the report, all labelled SIMULATED; and real WAET saves replacing the simulated panel."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import pytest

from tests.workflow.conftest import snakemake
from vocalmix.conditions import REFERENCE
from vocalmix.listening import SIMULATED_PLATFORM, TEST_XML
from vocalmix.listening.spec import check_structure

pytestmark = pytest.mark.workflow

ANALYSIS_TABLES = ("anova.tsv", "posthoc.tsv", "descriptives.tsv", "descriptives_items.tsv",
                   "friedman.tsv", "screening.tsv")


def _renders(root):
    with open(root / "results/renders/renders.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_waet_export_in_the_working_directory(tiny_run):
    waet = tiny_run / "listening_test" / "waet"
    spec = ET.parse(waet / TEST_XML).getroot()
    check_structure(spec)
    renders = _renders(tiny_run)
    tracks = sorted({r["track"] for r in renders if r["condition"] == REFERENCE})
    assert sorted(p.get("id") for p in spec.findall("page")) == [f"item-{t}" for t in tracks]
    for page in spec.findall("page"):
        for ae in page.findall("audioelement"):
            assert (waet / (page.get("hostURL") + ae.get("url"))).is_file()
    with open(waet / "KEY.tsv", newline="") as fh:
        key = list(csv.DictReader(fh, delimiter="\t"))
    assert len(key) == len(list(spec.iter("audioelement")))
    assert (waet / "README-vocalmix.md").is_file()


def test_simulated_panel_and_import(tiny_run):
    sim = tiny_run / "results/listening/simulated"
    complete = sorted(sim.glob("complete-*.xml"))
    assert len(complete) == 24 and len(list(sim.glob("abandoned-*.xml"))) == 1
    for f in complete:
        root = ET.parse(f).getroot()
        assert root.get("state") == "complete"
        assert root.findtext("navigator/platform") == SIMULATED_PLATFORM
    summary = json.loads((tiny_run / "results/analysis/import_summary.json").read_text())
    assert summary["source"] == "simulated" and summary["simulated"] is True
    assert (summary["complete"], len(summary["abandoned"]), summary["skipped"]) == (24, 1, [])
    n_stimuli = len(_renders(tiny_run))
    assert summary["ratings"] == 24 * n_stimuli


def test_analysis_outputs_say_simulated(tiny_run):
    d = tiny_run / "results/analysis"
    for name in ANALYSIS_TABLES:
        first = (d / name).read_text().splitlines()[0]
        assert first.startswith("# SIMULATED"), (name, first)
    # ratings.tsv has no comment line (plain readers): its simulated column says it
    with open(d / "ratings.tsv", newline="") as fh:
        assert {r["simulated"] for r in csv.DictReader(fh, delimiter="\t")} == {"true"}
    assert "SIMULATED" in (d / "mixedlm.txt").read_text().splitlines()[0]
    assert "SIMULATED" in (d / "summary.html").read_text()
    with open(d / "anova.tsv") as fh:
        fh.readline()
        anova = {r["effect"]: r for r in csv.DictReader(fh, delimiter="\t")}
    assert float(anova["condition"]["F"]) > 0 and 0 <= float(anova["condition"]["p"]) <= 1
    for png in ("ratings_per_condition.png", "ratings_per_item.png"):
        assert (d / png).stat().st_size > 10000


def test_report_has_the_listening_test_section(tiny_run):
    report = tiny_run / "results" / "report.html"
    snakemake(tiny_run, "--report", str(report))
    html = report.read_text()
    for category in ("Corpus", "Features", "Models", "Objective evaluation", "Listening test"):
        assert f'"{category}"' in html, category
    assert "SIMULATED ratings" in html


def test_real_saves_replace_the_simulated_panel(tiny_run, saves_run, tmp_path_factory):
    # a copy of the tiny run, marked up to date, given three "real" sessions (the simulated
    # files with a browser's navigator and new keys), one abandoned session and one file
    # that is not a WAET result: tests/workflow/background.py, RealSavesRun, started with
    # the session where it could be (here otherwise)
    from tests.workflow.background import RealSavesRun

    if saves_run is None:
        saves_run = RealSavesRun(tiny_run, tmp_path_factory.mktemp("saves") / "run")
    steps = saves_run.result()
    work = steps["work"]
    for name in ("touch", "dry", "run"):
        proc = steps[name]
        assert proc.returncode == 0, (name, proc.stdout[-3000:], proc.stderr[-4000:])
    dry = steps["dry"].stdout
    jobs = {line.split()[-1].rstrip(":") for line in dry.splitlines()
            if line.startswith(("rule ", "localrule "))}
    assert jobs == {"import_ratings", "analyse_ratings", "all"}, dry[-3000:]
    d = work / "results/analysis"
    summary = json.loads((d / "import_summary.json").read_text())
    assert summary["source"] == "real" and not summary["simulated"]
    assert (summary["complete"], len(summary["abandoned"])) == (3, 1)
    assert [s["file"].rsplit("/", 1)[1] for s in summary["skipped"]] == ["notes.xml"]
    for name in ANALYSIS_TABLES:
        assert "SIMULATED" not in (d / name).read_text().splitlines()[0], name
    assert "SIMULATED" not in (d / "summary.html").read_text()
