"""End to end: the Snakefile on the tiny config, and what each stage leaves behind."""

from __future__ import annotations

import hashlib

import pytest

from tests.workflow.conftest import snakemake
from vocalmix.corpus.manifest import read_manifest, read_rejected

pytestmark = pytest.mark.workflow


def _digests(root, pattern):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.glob(pattern)) if p.is_file()}


def test_corpus_stage(tiny_run):
    rows = read_manifest(tiny_run / "results/corpus/tracks.tsv")
    assert [r["track_id"] for r in rows] == ["demo_000", "demo_001", "demo_002", "demo_003"]
    assert sorted(r["split"] for r in rows) == ["test", "train", "train", "valid"]
    assert read_rejected(tiny_run / "results/corpus/rejected.tsv") == []
    for r in rows:
        for role in ("vocal", "backing", "mixture", "raw_vocal", "room_ir", "truth"):
            assert (tiny_run / r[role]).is_file(), (r["track_id"], role)
        assert r["duration_s"] == pytest.approx(6.0)
    assert (tiny_run / "results/logs/ingest.log").is_file()
    assert (tiny_run / "results/benchmarks/make_demo_corpus/demo_000.tsv").is_file()


def test_corpus_is_byte_identical_across_runs(tiny_run, tmp_path):
    snakemake(tmp_path, "results/corpus/tracks.tsv")
    for pattern in ("results/demo/**/*", "results/corpus/**/*"):
        assert _digests(tmp_path, pattern) == _digests(tiny_run, pattern)


def test_dry_run_lists_nothing_after_a_complete_run(tiny_run):
    out = snakemake(tiny_run, "-n", "all").stdout
    assert "Nothing to be done" in out


def test_features_stage(tiny_run):
    from vocalmix import io
    from vocalmix.features.summary import OVERALL, read_genre_stats

    rows = read_manifest(tiny_run / "results/corpus/tracks.tsv")
    for r in rows:
        feats = io.read_json(tiny_run / f"results/features/{r['track_id']}.json")
        assert feats["track_id"] == r["track_id"]
        assert len(feats["vocal"]["eq_db"]) == len(feats["bands_hz"]) == 31
        assert (tiny_run / f"results/features/{r['track_id']}.windows.tsv").is_file()
    stats = read_genre_stats(tiny_run / "results/features/genre_stats.tsv")
    assert OVERALL in stats
    train_genres = {r["genre"] for r in rows if r["split"] == "train"}
    assert set(stats) == train_genres | {OVERALL}
    assert (tiny_run / "results/features/feature_distributions.png").stat().st_size > 10000


def test_demo_ratio_matches_generator_truth_within_half_a_lu(tiny_run):
    import csv

    with open(tiny_run / "results/features/truth_check.tsv") as fh:
        checks = list(csv.DictReader(fh, delimiter="\t"))
    assert len(checks) == 4
    for c in checks:
        assert abs(float(c["error_vocal_to_backing_lu"])) <= 0.5, c
        assert abs(float(c["pyloudnorm_error_lu"])) <= 0.5, c
