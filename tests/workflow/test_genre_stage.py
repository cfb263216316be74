"""End to end on the tiny config: the genre features, classifier and genres table."""

from __future__ import annotations

import csv

import pytest

from vocalmix.corpus.manifest import read_manifest
from vocalmix.models.genre import load_classifier, read_genres
from vocalmix.files import read_json

pytestmark = pytest.mark.workflow


def test_genre_stage_outputs(tiny_run):
    tracks = read_manifest(tiny_run / "results/corpus/tracks.tsv")
    train_genres = sorted({r["genre"] for r in tracks if r["split"] == "train"})
    model = load_classifier(tiny_run / "results/genre")
    metrics = read_json(tiny_run / "results/genre/metrics.json")
    # the tiny corpus has one song per genre: two training genres, no room for CV
    assert model.trained and model.labels == train_genres
    assert metrics["n_train"] == 2 and metrics["cv"] is None
    assert metrics["splits"]["test"]["n"] == 1
    assert (tiny_run / "results/genre/confusion.png").stat().st_size > 5000
    with open(tiny_run / "results/genre/confusion.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [r["evaluation"] for r in rows if int(r["n"])] == ["test"]

    genres = read_genres(tiny_run / "results/corpus/genres.tsv")
    assert sorted(genres) == [r["track_id"] for r in tracks]
    for r in tracks:
        g = genres[r["track_id"]]
        assert (g["genre"], g["genre_source"]) == (r["genre"], "metadata")
        assert (g["genre_resolved"], g["genre_resolved_source"]) == (r["genre"], "metadata")
        assert g["genre_predicted"] in train_genres and 0.5 <= g["genre_confidence"] <= 1.0
    for name in ("genre_features", "train_genre_classifier", "predict_genres"):
        assert (tiny_run / f"results/logs/{name}.log").is_file()
        assert (tiny_run / f"results/benchmarks/{name}.tsv").is_file()

