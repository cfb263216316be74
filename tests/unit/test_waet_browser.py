"""The exported test in a real WAET checkout, in headless Chromium (optional).

Runs only where ``VOCALMIX_WAET_DIR`` names a WAET checkout and Chromium, chromedriver and
selenium are installed (``apt-get install chromium chromium-driver``; ``pip install
'.[test]'``); it skips cleanly elsewhere. See ``tests/waet_browser.py``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests import waet_browser
from tests.listening_fixtures import make_renders
from vocalmix.listening.export import export_test, read_key
from vocalmix.listening.results import import_results

WHY = waet_browser.available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=str(WHY))


def test_full_pass_in_chromium_imports_back_exactly(tmp_path):
    make_renders(tmp_path, tracks=("demo_001", "demo_002", "demo_003"), duration_s=1.0)
    out = tmp_path / "waet"
    s = export_test(tmp_path / "results/renders/renders.tsv", out, seed=2, base=tmp_path)
    run = waet_browser.run_pass(out, keep=tmp_path / "saves", timeout=180)
    assert waet_browser.severe_errors(run["console"]) == []
    assert sorted(run["pages"]) == sorted(f"item-{t}" for t in s["tracks"])
    assert len(run["grades"]) == s["stimuli"] == 15
    rows, summary = import_results(tmp_path / "saves", read_key(out / "KEY.tsv"))
    assert summary["complete"] == 1 and summary["skipped"] == [] and not summary["simulated"]
    back = {r["element"]: r["rating"] for r in rows}
    assert back == {k: float(Decimal(v) * 100) for k, v in run["grades"].items()}
    conds = {r["element"]: r["condition"] for r in rows}
    assert all(conds[k] == k.rsplit("-", 1)[1] for k in conds)
    for key, answer in waet_browser.SURVEY_ANSWERS.items():
        assert rows[0][f"survey_{key}"] == answer
