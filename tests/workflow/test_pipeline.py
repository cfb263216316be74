"""End to end: the Snakefile on the tiny config, and what each stage leaves behind."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from tests.workflow.conftest import snakemake
from vocalmix.corpus.manifest import read_manifest, read_rejected
from vocalmix.audio import read_audio
from vocalmix.files import read_json

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
    # the demo songs are made by one job (issue 20: a song costs less than a job's start-up)
    assert (tiny_run / "results/benchmarks/make_demo_corpus.tsv").is_file()
    assert "4 demo songs" in (tiny_run / "results/logs/make_demo_corpus.log").read_text()


def test_dry_run_lists_nothing_after_a_complete_run(tiny_run):
    out = snakemake(tiny_run, "-n", "all").stdout
    assert "Nothing to be done" in out


def test_features_stage(tiny_run):
    from vocalmix.features.summary import OVERALL, read_genre_stats

    rows = read_manifest(tiny_run / "results/corpus/tracks.tsv")
    for r in rows:
        feats = read_json(tiny_run / f"results/features/{r['track_id']}.json")
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


def test_corruption_and_dataset_stages(tiny_run):
    import csv


    rows = read_manifest(tiny_run / "results/corpus/tracks.tsv")
    for r in rows:
        d = tiny_run / "results/corrupted" / r["track_id"]
        # v1's audio was temporary: read once, by build_dataset (rule corrupt_extra)
        assert sorted(p.name for p in d.iterdir()) == [
            "dereverberated.flac", "v0.flac", "v0.json", "v1.json"]
    with open(tiny_run / "results/dataset/index.tsv", newline="") as fh:
        index = list(csv.DictReader(fh, delimiter="\t"))
    split_of = {r["track_id"]: r["split"] for r in rows}
    assert {r["track_id"] for r in index} == set(split_of)
    for r in index:  # by track, never by window
        assert r["split"] == split_of[r["track_id"]]
    desc = read_json(tiny_run / "results/dataset/dataset.json")
    assert desc["counts"]["train"]["tracks"] == 2
    assert desc["input"]["windows"]["hop_s"] == 1.0


def test_models_stage(tiny_run):
    import csv


    for task in ("level", "eq", "compression", "reverb"):
        d = tiny_run / "results/models" / task
        with open(d / "curve.csv", newline="") as fh:
            assert len(list(csv.DictReader(fh))) == 2
        m = read_json(d / "metrics.json")
        assert m["task"] == task and m["epochs"] == 2 and m["device"] == "cpu"
        assert (d / "model.pt").stat().st_size > 1000
        assert (tiny_run / f"results/benchmarks/train_model/{task}.tsv").is_file()
    with open(tiny_run / "results/models/summary.tsv", newline="") as fh:
        summary = list(csv.DictReader(fh, delimiter="\t"))
    assert [r["target"] for r in summary] == ["level", "eq", "compression", "reverb"]
    for r in summary:
        assert r["dataset"] == "demo" and r["n_tracks"] == "1"
        for system in ("data_driven", "rule_based", "no_processing"):
            assert system in r
        assert float(r["data_driven"]) >= 0 and float(r["rule_based"]) >= 0
    with open(tiny_run / "results/models/per_track.tsv", newline="") as fh:
        per_track = list(csv.DictReader(fh, delimiter="\t"))
    assert sorted(r["system"] for r in per_track) == ["data_driven", "no_processing",
                                                      "rule_based"]
    assert (tiny_run / "results/models/summary.png").stat().st_size > 10000



def test_render_stage_gives_five_conditions_on_the_listening_loudness(tiny_run):
    import csv

    from vocalmix.conditions import CONDITIONS
    from vocalmix.measure.loudness import integrated_loudness, true_peak_dbtp

    rows = read_manifest(tiny_run / "results/corpus/tracks.tsv")
    test_tracks = [r["track_id"] for r in rows if r["split"] == "test"]
    with open(tiny_run / "results/renders/renders.tsv") as fh:
        index = list(csv.DictReader(fh, delimiter="\t"))
    assert [(r["track"], r["condition"]) for r in index] == [
        (t, c) for t in test_tracks for c in CONDITIONS]
    lengths = set()
    for r in index:
        audio, sr = read_audio(tiny_run / r["path"])
        lengths.add(audio.shape[1])
        assert integrated_loudness(audio, sr) == pytest.approx(-23.0, abs=0.1), r["path"]
        assert true_peak_dbtp(audio, sr) <= -1.0, r["path"]
        info = read_json(tiny_run / r["path"].replace(".wav", ".json"))
        assert info["condition"] == r["condition"]
    assert len(lengths) == 1  # the same excerpt for every condition
    sources = {r["condition"]: r["source"] for r in index}
    assert sources["commercial"] == "preset"  # nothing pretends to be commercial
    assert sources["professional"] == "reference_mix"


def test_evaluate_stage_tables(tiny_run):
    import csv

    with open(tiny_run / "results/evaluation/summary.tsv") as fh:
        summary = list(csv.DictReader(fh, delimiter="\t"))
    assert list(summary[0]) == ["dataset", "condition", "metric", "unit", "mean", "median",
                                "ci95_low", "ci95_high", "n"]
    # the tiny config's one dataset, then the block over all datasets: the same numbers
    assert list(dict.fromkeys(r["dataset"] for r in summary)) == ["demo", "all"]
    by_block = {d: [{k: v for k, v in r.items() if k != "dataset"} for r in summary
                    if r["dataset"] == d] for d in ("demo", "all")}
    assert by_block["demo"] == by_block["all"]
    ref = [r for r in summary if r["condition"] == "professional"]
    assert ref and all(float(r["mean"]) == 0.0 for r in ref if r["mean"])
    unproc = {r["metric"]: r for r in summary
              if r["condition"] == "unprocessed" and r["dataset"] == "all"}
    assert float(unproc["mel_distance_db"]["mean"]) > 0
    assert float(unproc["loudness_error_lu"]["mean"]) > 0  # measured before normalisation
    with open(tiny_run / "results/evaluation/objective_table.tsv") as fh:
        table = list(csv.DictReader(fh, delimiter="\t"))
    assert list(table[0])[:4] == ["dataset", "condition", "n_tracks", "loudness_error_lu"]
    assert {r["dataset"] for r in table} == {"demo"}
    assert (tiny_run / "results/evaluation/objective_table.html").stat().st_size > 1000
    assert (tiny_run / "results/evaluation/metrics.png").stat().st_size > 10_000
    # the paired comparisons: every pair of the systems' conditions, per metric, tested on
    # the songs that have both (the professional mix is no side)
    with open(tiny_run / "results/evaluation/comparisons.tsv") as fh:
        comparisons = list(csv.DictReader(fh, delimiter="\t"))
    pairs = {(r["condition_a"], r["condition_b"]) for r in comparisons}
    systems = [c for c in ("unprocessed", "commercial", "rule_based", "data_driven")
               if any(r["condition"] == c for r in table)]
    assert pairs == set(itertools.combinations(systems, 2))
    assert all(r["lower"] in (r["condition_a"], r["condition_b"], "neither")
               for r in comparisons)
    assert "<table>" in (tiny_run / "results/evaluation/comparisons.html").read_text()


def test_disk_no_copies_temporaries_gone_kept_audio_compressed(tiny_run):
    """Issue 19 (disk): the demo songs are read in place (no copy under results/corpus), the
    audio read once is gone after the run, kept intermediates are 24-bit FLAC, and the WAET
    stimuli are the renders' own bytes (hard links), not a second copy."""
    import soundfile as sf

    from vocalmix.corpus.ingest import sha256_file

    rows = read_manifest(tiny_run / "results/corpus/tracks.tsv")
    for r in rows:
        for role in ("vocal", "backing", "mixture", "raw_vocal"):
            assert r[role] == f"results/demo/{r['track_id']}/{role}.flac"
        sums = dict(item.split(":") for item in r["checksums"].split())
        assert sums == {role: sha256_file(tiny_run / r[role])
                        for role in ("vocal", "backing", "mixture", "raw_vocal")}
    assert [p.name for p in (tiny_run / "results/corpus/audio").iterdir()
            if not p.name.startswith(".")] == []
    assert not list((tiny_run / "results/corrupted").glob("*/v1.flac"))
    kept = [*(tiny_run / "results/demo").glob("*/*.flac"),
            *(tiny_run / "results/corrupted").glob("*/dereverberated.flac"),
            *(tiny_run / "results/corrupted").glob("*/v0.flac"),
            *(tiny_run / "results/renders").glob("*/*.vocal.flac"),
            *(tiny_run / "results/renders").glob("*/*.backing.flac")]
    assert len(kept) == 4 * 6 + 4 + 4 + 2 * 5
    for f in kept:
        info = sf.info(str(f))
        assert (info.format, info.subtype) == ("FLAC", "PCM_24"), f
    media = sorted((tiny_run / "listening_test/waet/media/vocalmix").glob("*/*.wav"))
    assert len(media) == 5
    for m in media:
        assert m.samefile(tiny_run / "results/renders" / m.parent.name / m.name)
    # the only WAVs left: the stimuli (the kept corrupted versions are FLAC too)
    from vocalmix.conditions import CONDITIONS

    tests = [r["track_id"] for r in rows if r["split"] == "test"]
    assert {str(p.relative_to(tiny_run / "results"))
            for p in (tiny_run / "results").rglob("*.wav")} == (
        {f"renders/{t}/{c}.wav" for t in tests for c in CONDITIONS})
