"""The pure helpers of ``benchmarks/quality.py`` (the model-study tool): known answers on
hand-made rows; no pipeline results are read."""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def quality():
    """``benchmarks/quality.py`` as a module (benchmarks/ is no package)."""
    name = "benchmarks_quality"
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / "quality.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # its dataclass resolves annotations through sys.modules
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(name, None)


def _means(quality, **values):
    """condition -> metric -> mean, the metrics in METRIC_NAMES order."""
    return {c: dict(zip(quality.METRIC_NAMES, v)) for c, v in values.items()}


def test_win_count_counts_strictly_lower_means_over_finite_pairs(quality):
    n = len(quality.METRIC_NAMES)
    worse = [1.0] * n
    better = [0.5] * n
    better[0] = 2.0          # a loss
    better[1] = 1.0          # a tie: no win
    better[2] = math.nan     # not compared
    means = _means(quality, data_driven=better, rule_based=worse)
    assert quality.win_count(means, "data_driven", "rule_based") == (n - 3, n - 1)
    assert quality.win_count(means, "rule_based", "data_driven") == (1, n - 1)
    # a condition that is absent compares nothing
    assert quality.win_count(means, "data_driven", "unprocessed") == (0, 0)


def test_win_lines_name_the_targets_pairs_present(quality):
    n = len(quality.METRIC_NAMES)
    means = _means(quality, unprocessed=[3.0] * n, rule_based=[2.0] * n,
                   data_driven=[1.0] * (n - 1) + [9.0])
    assert quality.win_lines(means) == [
        f"data_driven beats rule_based on {n - 1} of {n} metrics (by mean)",
        f"rule_based beats unprocessed on {n} of {n} metrics (by mean)"]
    del means["data_driven"]
    assert quality.win_lines(means) == [
        f"rule_based beats unprocessed on {n} of {n} metrics (by mean)"]


def test_summary_rows_mean_median_n_over_finite_values(quality):
    m = quality.METRIC_NAMES[0]
    rows = [{"condition": "rule_based", m: 1.0}, {"condition": "rule_based", m: 2.0},
            {"condition": "rule_based", m: 6.0}, {"condition": "rule_based", m: math.nan},
            {"condition": "unprocessed", m: None}, {"condition": "unprocessed", m: ""}]
    summary = quality.summary_rows(rows, metrics=[m])
    # the pipeline's condition order, not the rows' order
    assert summary == [
        {"condition": "unprocessed", "metric": m, "mean": None, "median": None, "n": 0},
        {"condition": "rule_based", "metric": m, "mean": 3.0, "median": 2.0, "n": 3}]
    means = quality.condition_means(summary)
    assert means["rule_based"][m] == 3.0 and math.isnan(means["unprocessed"][m])


def test_summary_rows_cover_every_metric_by_default(quality):
    rows = [{"condition": "data_driven", **{k: 1.0 for k in quality.METRIC_NAMES}}]
    summary = quality.summary_rows(rows)
    assert [s["metric"] for s in summary] == list(quality.METRIC_NAMES)
    assert all(s["n"] == 1 and s["mean"] == 1.0 for s in summary)


def test_format_table_shows_means_and_dashes_for_nan(quality):
    n = len(quality.METRIC_NAMES)
    text = quality.format_table(_means(quality, rule_based=[0.5] + [math.nan] * (n - 1)))
    head, line = text.splitlines()
    assert head.split()[0] == "condition" and len(head.split()) == n + 1
    assert line.split() == ["rule_based", "0.500"] + ["-"] * (n - 1)


def test_select_rows_keeps_the_split_with_vocal_and_backing(quality):
    manifest = [
        {"track_id": "a", "split": "valid", "vocal": "v", "backing": "b"},
        {"track_id": "b", "split": "valid", "vocal": None, "backing": "b", "raw_vocal": "r"},
        {"track_id": "c", "split": "test", "vocal": "v", "backing": "b"},
        {"track_id": "d", "split": "valid", "vocal": "v", "backing": "b"},
    ]
    assert [r["track_id"] for r in quality.select_rows(manifest, "valid")] == ["a", "d"]
    assert [r["track_id"] for r in quality.select_rows(manifest, "valid", ["d"])] == ["d"]
    with pytest.raises(SystemExit, match="c"):
        quality.select_rows(manifest, "valid", ["c"])


def test_check_against_finds_the_largest_difference(quality):
    m1, m2 = quality.METRIC_NAMES[:2]
    ours = [{"track": "t1", "condition": "rule_based", m1: 1.0, m2: math.nan},
            {"track": "t2", "condition": "rule_based", m1: 2.5, m2: 1.0},
            {"track": "t3", "condition": "rule_based", m1: 9.0, m2: 1.0}]  # not in theirs
    theirs = [{"track": "t1", "condition": "rule_based", m1: "1.0000", m2: "0.5"},
              {"track": "t2", "condition": "rule_based", m1: "2.0000", m2: "1.0"}]
    out = quality.check_against(ours, theirs, columns=[m1, m2, "absent"])
    assert out[m1] == {"max_abs": 0.5, "at": ("t2", "rule_based"), "n": 2, "nan_mismatch": 0}
    assert out[m2] == {"max_abs": 0.0, "at": ("t2", "rule_based"), "n": 1, "nan_mismatch": 1}
    assert out["absent"] is None


def test_as_written_is_24_bit_audio(quality):
    x = np.random.default_rng(7).uniform(-0.9, 0.9, size=(2, 1000)).astype(np.float32)
    for fmt in ("WAV", "FLAC"):
        y = quality._as_written(x, 44100, fmt)
        assert y.shape == x.shape and y.dtype == np.float32
        assert np.max(np.abs(y - x)) <= 2.0 ** -23
        # already on the 24-bit grid: a second pass changes nothing
        assert np.array_equal(quality._as_written(y, 44100, fmt), y)
