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
