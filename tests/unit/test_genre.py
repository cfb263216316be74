"""Genre classifier of the backing, the genre resolution order, and their use in mixing."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from vocalmix.corpus import demo
from vocalmix.models import genre as G
from vocalmix.features.genre_features import backing_features, feature_names
from vocalmix.audio import resample, write_audio
from vocalmix.files import read_json

#: Seconds of backing analysed, as the pipeline's default (config ``genre.excerpt_s``).
EXCERPT_S = G.GenreSettings().excerpt_s

SR = 22050
SEED = 4242
GENRES = ("ballad", "hiphop", "pop", "rock")
TRAIN_PER_GENRE, TEST_PER_GENRE = 3, 2
STATS = {"pop": {"vocal_to_backing_lu": 1.5, "vocal_lra_lu": 5.5},
         "rock": {"vocal_to_backing_lu": -1.0, "vocal_lra_lu": 5.0},
         "hiphop": {"vocal_to_backing_lu": 3.0, "vocal_lra_lu": 5.0},
         "ballad": {"vocal_to_backing_lu": 2.0, "vocal_lra_lu": 7.0},
         "all": {"vocal_to_backing_lu": 0.5, "vocal_lra_lu": 5.5}}


@pytest.fixture(scope="module")
def corpus():
    """Five short demo songs per genre: backings, raw takes, features, splits."""
    songs = []
    n = TRAIN_PER_GENRE + TEST_PER_GENRE
    for i in range(n * len(GENRES)):
        genre = GENRES[i % len(GENRES)]
        audio, _ = demo.generate_song(f"demo_{i:03d}", genre, duration_s=6.0, sample_rate=SR,
                                      seed=SEED)
        split = "train" if i < TRAIN_PER_GENRE * len(GENRES) else "test"
        songs.append({"track_id": f"demo_{i:03d}", "genre": genre, "split": split,
                      "backing": audio["backing"], "raw_vocal": audio["raw_vocal"],
                      "features": backing_features(audio["backing"], SR,
                                                   excerpt_s=EXCERPT_S)})
    return songs


def _xy(songs, split):
    rows = [s for s in songs if s["split"] == split]
    X = np.array([[s["features"][n] for n in feature_names()] for s in rows])
    return X, [s["genre"] for s in rows]


@pytest.fixture(scope="module")
def model(corpus):
    X, y = _xy(corpus, "train")
    return G.train_classifier(X, y, feature_names=feature_names(), c=1.0)


def test_classifier_beats_the_majority_baseline_by_a_wide_margin(corpus, model):
    _, y_train = _xy(corpus, "train")
    X, y = _xy(corpus, "test")
    p = model.predict_proba(X)
    predicted = [model.labels[i] for i in p.argmax(axis=1)]
    accuracy = np.mean([a == b for a, b in zip(predicted, y)])
    baseline = np.mean([g == G.majority_genre(y_train) for g in y])
    assert baseline == pytest.approx(0.25)  # four balanced genres
    assert accuracy >= 0.875 and accuracy - baseline >= 0.5, (predicted, y)
    assert model.labels == sorted(GENRES)


def test_cross_validation_by_track_beats_the_baseline(corpus):
    X, y = _xy(corpus, "train")
    cv = G.cross_validate(X, y, folds=5, seed=1, c=1.0, feature_names=feature_names())
    assert cv["folds"] == TRAIN_PER_GENRE  # capped by the smallest genre's count
    assert cv["n"] == len(y) and len(cv["predicted"]) == len(y)
    assert cv["accuracy"] >= 0.75 and cv["accuracy"] - cv["majority_baseline"] >= 0.4


def test_numpy_prediction_equals_scikit_learn(corpus):
    """The saved softmax form reproduces LogisticRegression.predict_proba, including the
    two-genre case stored as (-w/2, +w/2)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = _xy(corpus, "train")
    Xt, _ = _xy(corpus, "test")
    for keep in (set(GENRES), {"pop", "rock"}):
        idx = [i for i, g in enumerate(y) if g in keep]
        m = G.train_classifier(X[idx], [y[i] for i in idx], feature_names=feature_names())
        scaler = StandardScaler().fit(X[idx])
        ref = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit(
            scaler.transform(X[idx]), [y[i] for i in idx])
        np.testing.assert_allclose(m.predict_proba(Xt), ref.predict_proba(scaler.transform(Xt)),
                                   atol=1e-6)
        assert m.labels == sorted(keep)


def test_saved_classifier_is_deterministic_json(tmp_path, corpus, model):
    X, y = _xy(corpus, "train")
    again = G.train_classifier(X, y, feature_names=feature_names(), c=1.0)
    model.save(tmp_path / "a.json")
    again.save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    loaded = G.load_classifier(tmp_path / "a.json")
    Xt, _ = _xy(corpus, "test")
    np.testing.assert_array_equal(loaded.predict_proba(Xt), model.predict_proba(Xt))
    assert json.loads((tmp_path / "a.json").read_text())["format"] == G.FORMAT


def test_features_ignore_level_and_sample_rate(corpus, model):
    song = corpus[-1]
    quiet = backing_features(song["backing"] * np.float32(10 ** (-15 / 20)), SR,
                             excerpt_s=EXCERPT_S)
    for name, value in song["features"].items():
        assert quiet[name] == pytest.approx(value, rel=1e-3, abs=1e-3), name
    at44 = resample(song["backing"], orig_sample_rate=SR, target_sample_rate=44100)
    a, b = model.predict_audio(song["backing"], SR), model.predict_audio(at44, 44100)
    assert a.genre == b.genre
    for g in GENRES:
        assert abs(a.probabilities[g] - b.probabilities[g]) <= 0.02, g


def test_prediction_reports_top_three(corpus, model):
    pred = model.predict_audio(corpus[0]["backing"], SR)
    top = pred.top(3)
    assert len(top) == 3 and top[0] == (pred.genre, pred.confidence)
    assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-9)


def test_too_short_or_silent_backing_is_a_clear_error():
    with pytest.raises(ValueError, match=r"beat\.wav: 0\.50 s of audio"):
        backing_features(np.ones((2, SR // 2), np.float32), SR, excerpt_s=EXCERPT_S,
                         name="beat.wav")
    with pytest.raises(ValueError, match="silence"):
        backing_features(np.zeros((2, SR * 3), np.float32), SR, excerpt_s=EXCERPT_S)



def test_a_files_features_are_read_from_its_excerpts_alone(tmp_path, corpus):
    """A file is streamed (its memory does not grow with its length): the excerpts kept are
    the whole file's samples there, and the features are those of the whole array."""
    from vocalmix.audio import read_audio
    from vocalmix.features.genre_features import excerpt_slices, file_features, read_excerpts

    long = np.concatenate([s["backing"] for s in corpus[:4]], axis=1)  # 24 s, 3 excerpts
    path = tmp_path / "long.wav"
    write_audio(path, long, SR, subtype="FLOAT")
    whole, _ = read_audio(path)
    excerpts, sr = read_excerpts(str(path), excerpt_s=9.0)
    slices = excerpt_slices(whole.shape[1], SR, 9.0)
    assert sr == SR and len(excerpts) == len(slices) == 3
    for x, sl in zip(excerpts, slices):
        assert np.array_equal(x, whole[:, sl])
    assert file_features(str(path), excerpt_s=9.0) == backing_features(
        whole, SR, excerpt_s=9.0, name=str(path))


def test_a_silent_short_or_damaged_file_is_a_clear_error_naming_it(tmp_path):
    import soundfile as sf

    from vocalmix.audio import AudioError
    from vocalmix.features.genre_features import file_features

    silent = tmp_path / "silent.wav"
    write_audio(silent, np.zeros((2, SR * 3), np.float32), SR)
    with pytest.raises(ValueError, match=r"silent\.wav: the backing is digital silence"):
        file_features(str(silent), excerpt_s=EXCERPT_S)
    short = tmp_path / "short.wav"
    write_audio(short, np.ones((1, SR // 2), np.float32) * 0.1, SR)
    with pytest.raises(ValueError, match=r"short\.wav: 0\.50 s of audio"):
        file_features(str(short), excerpt_s=EXCERPT_S)
    bad = np.full((1, SR * 3), 0.1, np.float32)
    bad[0, SR * 2] = np.nan  # outside every excerpt (0.4 s at 25/50/75 %): still checked
    nan = tmp_path / "nan.wav"
    sf.write(nan, bad.T, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav.*NaN"):
        file_features(str(nan), excerpt_s=1.2)

# ----------------------------------------------------------------------------- resolution
def test_resolution_order_metadata_then_confident_prediction_then_average():
    pred = G.GenrePrediction("rock", 0.8, {"rock": 0.8, "pop": 0.2})
    assert G.resolve_genre("pop", pred, 0.5) == ("pop", "metadata")
    assert G.resolve_genre("unknown", pred, 0.5) == ("rock", "predicted")
    assert G.resolve_genre(None, ("rock", 0.8), 0.8) == ("rock", "predicted")  # at threshold
    assert G.resolve_genre(None, pred, 0.81) == (None, "average")  # low confidence
    assert G.resolve_genre(None, None, 0.5) == (None, "average")
    # targets only for some genres: others get the average, never an untargeted row
    assert G.resolve_genre("Jazz", pred, 0.5, known_genres=["pop", "rock"]) == (None, "average")
    assert G.resolve_genre(None, pred, 0.5, known_genres=["pop", "all"]) == (None, "average")
    # rows of tracks.tsv / genres.tsv
    row = {"genre": "unknown", "genre_source": "unknown", "genre_predicted": "hiphop",
           "genre_confidence": 0.66}
    assert G.resolve_genre(row, threshold=0.6) == ("hiphop", "predicted")
    assert G.resolve_genre(row, threshold=0.7) == (None, "average")
    assert G.resolve_genre({"genre": "Heavy Metal", "genre_source": "metadata"}) == (
        "heavy-metal", "metadata")


def test_override_wins_and_an_unknown_one_lists_the_known_genres():
    assert G.resolve_genre("pop", None, override="Rock", known_genres=STATS) == ("rock",
                                                                                 "override")
    with pytest.raises(G.GenreError) as exc:
        G.resolve_genre(None, None, override="polka", known_genres=STATS)
    assert str(exc.value) == "unknown genre 'polka'; known genres: ballad, hiphop, pop, rock"


def test_one_genre_gives_an_untrained_classifier_and_the_average(corpus):
    X, y = _xy(corpus, "train")
    idx = [i for i, g in enumerate(y) if g == "pop"]
    m = G.train_classifier(X[idx], ["pop"] * len(idx), feature_names=feature_names())
    assert not m.trained and "only one genre (pop)" in m.reason
    assert m.predict_audio(corpus[0]["backing"], SR) is None
    assert G.resolve_genre(None, None) == (None, "average")


# ----------------------------------------------------------------------------- mixing
def _write_stats(path):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["genre", "n_tracks", "vocal_to_backing_lu", "vocal_lra_lu"])
        for g, r in STATS.items():
            w.writerow([g, 3, r["vocal_to_backing_lu"], r["vocal_lra_lu"]])


def test_rule_based_level_uses_a_confident_prediction_else_the_average(tmp_path, corpus, model):
    """A track without a genre: the level target is the predicted genre's row when the
    prediction is confident, the overall average row when it is not."""
    from vocalmix.measure import loudness
    from vocalmix.mixing.api import choose_recipe

    model.save(tmp_path / "model.json")
    _write_stats(tmp_path / "stats.tsv")
    song = next(s for s in corpus if s["split"] == "test" and s["genre"] == "rock")
    vocal, backing = song["raw_vocal"], song["backing"]
    conf = model.predict_audio(backing, SR).confidence
    assert conf > 0.5
    for threshold, row in ((conf - 0.01, "rock"), (min(1.0, conf + 0.01), "all")):
        choice = choose_recipe(vocal, backing, SR, system="rule_based",
                               genre_stats=str(tmp_path / "stats.tsv"),
                               genre_model=str(tmp_path), genre_threshold=threshold)
        a = choice.recipe.analysis
        assert a["genre_stats_row"] == row
        assert a["genre_source"] == ("predicted" if row == "rock" else "average")
        assert a["genre_predicted"] == "rock" and a["genre_confidence"] == pytest.approx(conf)
        assert a["target_vocal_to_backing_lu"] == STATS[row]["vocal_to_backing_lu"]
        res = choice.render(vocal, backing, SR)
        ratio = (loudness.integrated_loudness(res.vocal, SR)
                 - loudness.integrated_loudness(res.backing, SR))
        assert ratio == pytest.approx(STATS[row]["vocal_to_backing_lu"], abs=0.5)


def test_mix_override_and_unknown_genre(tmp_path, corpus):
    from vocalmix.mixing.api import MixError, pick_genre

    _write_stats(tmp_path / "stats.tsv")
    from vocalmix.features.summary import read_genre_stats

    table = read_genre_stats(tmp_path / "stats.tsv")
    backing = corpus[0]["backing"]
    assert pick_genre(backing, SR, table, genre="Pop")[:2] == ("pop", "override")
    assert pick_genre(backing, SR, table, genre="jazz", genre_source="metadata")[:2] == (
        "jazz", "metadata")  # resolved elsewhere: the mixer falls back to the 'all' row
    assert pick_genre(backing, SR, table, genre_model="none")[:2] == (None, "average")
    with pytest.raises(MixError, match="unknown genre 'polka'; known genres: ballad, hiphop, "
                                       "pop, rock"):
        pick_genre(backing, SR, table, genre="polka")


# ----------------------------------------------------------------------------- stages
def _features_tsv(path, songs, extra=()):
    names = feature_names()
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["track_id", "dataset", "split", "genre", "genre_source", *names])
        for s in [*songs, *extra]:
            src = "metadata" if s["genre"] != "unknown" else "unknown"
            w.writerow([s["track_id"], "demo", s["split"], s["genre"], src,
                        *[repr(s["features"][n]) for n in names]])


def test_train_and_predict_stages(tmp_path, corpus):
    from vocalmix.corpus.manifest import write_manifest
    from vocalmix.stages.genre import predict_genres, train_genre_classifier

    # a track without metadata: the rock test song's backing under another id
    rock = next(s for s in corpus if s["split"] == "test" and s["genre"] == "rock")
    nameless = {**rock, "track_id": "user_beat", "genre": "unknown", "split": "test"}
    _features_tsv(tmp_path / "features.tsv", corpus, [nameless])
    out = {k: str(tmp_path / v) for k, v in (("model", "g/model.json"),
                                              ("confusion", "g/confusion.tsv"),
                                              ("plot", "g/confusion.png"),
                                              ("metrics", "g/metrics.json"))}
    params = {"seed": 7, "genre": {"confidence_threshold": 0.5, "excerpt_s": 30.0,
                                   "regularisation_c": 1.0, "cv_folds": 5}}
    train_genre_classifier({"features": str(tmp_path / "features.tsv")}, out, params)
    metrics = read_json(out["metrics"])
    assert metrics["labels"] == sorted(GENRES) and metrics["n_train"] == 12
    test = metrics["splits"]["test"]
    assert test["n"] == 8  # the nameless track is not evaluated
    assert test["accuracy"] - test["majority_baseline"] >= 0.5
    assert metrics["cv"]["folds"] == 3
    with open(out["confusion"]) as fh:
        table = list(csv.DictReader(fh, delimiter="\t"))
    assert {r["evaluation"] for r in table} == {"test", "cv"}
    assert sum(int(r["n"]) for r in table if r["evaluation"] == "test") == 8
    assert (tmp_path / "g/confusion.png").stat().st_size > 5000

    rows = [{"track_id": s["track_id"], "dataset": "demo", "adapter": "demo",
             "split": s["split"], "source": "stems", "genre": s["genre"],
             "genre_source": "metadata" if s["genre"] != "unknown" else "unknown",
             "duration_s": 6.0, "sample_rate": SR, "vocal_channels": 1,
             "backing_channels": 2, "weight": 1.0, "backing": "b.wav", "mixture": "m.wav"}
            for s in [*corpus, nameless]]
    write_manifest(tmp_path / "tracks.tsv", rows)
    predict_genres({"model": out["model"], "features": str(tmp_path / "features.tsv"),
                    "tracks": str(tmp_path / "tracks.tsv")},
                   {"genres": str(tmp_path / "genres.tsv")}, {"confidence_threshold": 0.5})
    genres = G.read_genres(tmp_path / "genres.tsv")
    assert len(genres) == len(corpus) + 1
    beat = genres["user_beat"]
    assert beat["genre"] == "unknown" and beat["genre_source"] == "unknown"  # kept apart
    assert beat["genre_predicted"] == "rock" and beat["genre_confidence"] >= 0.5
    assert (beat["genre_resolved"], beat["genre_resolved_source"]) == ("rock", "predicted")
    assert beat["genre_top3"].startswith("rock ")
    for s in corpus:
        r = genres[s["track_id"]]
        assert (r["genre_resolved"], r["genre_resolved_source"]) == (s["genre"], "metadata")
    # the CLI prints the prediction and the top three
    write_audio(tmp_path / "beat.wav", rock["backing"], SR)
    proc = subprocess.run([sys.executable, "-m", "vocalmix", "genre", str(tmp_path / "beat.wav"),
                           "--model", out["model"]], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'beat.wav'}: rock (")
    assert [ln.split()[0] for ln in lines[1:]] == ["1.", "2.", "3."]
    assert lines[1].split()[1] == "rock"
    assert sum(float(ln.split()[2]) for ln in lines[1:]) <= 1.0 + 1e-3


def test_cli_genre_without_a_classifier_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vocalmix", "genre", "x.wav", "--model",
                           str(tmp_path / "nope")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "no genre classifier there" in proc.stderr and "snakemake" in proc.stderr


def test_default_threshold_is_the_config_default():
    from vocalmix.config import validate_config

    assert validate_config({})["genre"]["confidence_threshold"] == (
        G.GenreSettings().confidence_threshold)


def test_bundled_musdb_genres_name_their_source_and_match_the_track_list():
    from tests.conftest import REAL
    from vocalmix.corpus.adapters import DATA_DIR, _musdb_genres

    bundled = DATA_DIR / "musdb18_genres.tsv"
    assert "Source: the SigSep project" in bundled.read_text()
    genres = _musdb_genres({})
    assert len(genres) == 150
    shared = REAL.parent / "musdb18_tracklist.csv"
    if not shared.is_file():
        pytest.skip("../shared/data/musdb18_tracklist.csv is absent")
    with open(shared, newline="") as fh:
        listed = {r["Track Name"].strip(): r["Genre"].strip() for r in csv.DictReader(fh)}
    assert genres == listed
