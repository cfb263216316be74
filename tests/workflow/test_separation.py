"""End to end: a finished song listed under commercial_mixes is separated, ingested as
source=separated (training split, weight 0.5), and carried through features and corruption;
the quality table scores the held-out demo song and the bias tables measure what the
separation does to its training targets; spleeter without a checkpoint
stops the run before any job."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from tests.workflow.conftest import snakemake
from vocalmix.corpus.manifest import read_manifest
from vocalmix.files import read_json

pytestmark = pytest.mark.workflow

CONFIG = __import__("pathlib").Path(__file__).resolve().parent / "config_separation.yaml"


def _finished_song(path):
    """A demo-generator song (own seed, not in the corpus) as an .ogg 'finished song'; beside
    it a metadata sheet giving its genre (Jamendo's spelling) and its sung phrases as
    lyric-line timings (``lines/<stem>.csv``)."""
    from vocalmix.corpus.demo import generate_song

    audio, truth = generate_song("mix_x", "rock", duration_s=6.0, sample_rate=44100, seed=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio["mixture"].T, 44100, format="OGG", subtype="VORBIS")
    (path.parent / "sheet.csv").write_text(f"URL,Filepath,Genre\nx,{path.name},Hip-Hop\n",
                                           encoding="utf-8")
    phrases: dict[int, list[float]] = {}
    for n in truth["notes"]:
        span = phrases.setdefault(n["phrase"], [n["onset_s"], n["onset_s"]])
        span[1] = max(span[1], n["onset_s"] + n["duration_s"])
    (path.parent / "lines").mkdir(exist_ok=True)
    (path.parent / "lines" / f"{path.stem}.csv").write_text(
        "start_time,end_time,lyrics_line\n"
        + "".join(f"{a:.3f},{b:.3f},la\n" for a, b in phrases.values()), encoding="utf-8")


#: What the separation workflow makes for the tests below.
TARGETS = ("results/separated/quality.tsv", "results/features/separated_my-song.json",
           "results/corrupted/separated_my-song/v0.flac", "results/separated/activity.tsv")


def start_separation_run(workdir):
    """The finished song and its sheet in ``workdir``, and the workflow making
    :data:`TARGETS` started there (tests/workflow/background.py)."""
    from tests.workflow.background import LATE_NICE, BackgroundRun, tiny_command

    _finished_song(workdir / "mixes" / "My Song.ogg")
    return BackgroundRun(tiny_command(workdir, *TARGETS, config=CONFIG), workdir,
                         nice=LATE_NICE)


@pytest.fixture(scope="module")
def separation_run(separation_run_started, tmp_path_factory):
    """The separation workflow's working directory once its run is done: the run started
    with the session (``separation_run_started``, tests/conftest.py), or here."""
    run = separation_run_started or start_separation_run(
        tmp_path_factory.mktemp("separation_run"))
    return run.succeeded()


def _tsv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_separated_song_enters_the_manifest(separation_run):
    rows = {r["track_id"]: r for r in read_manifest(separation_run / "results/corpus/tracks.tsv")}
    row = rows["separated_my-song"]
    assert (row["genre"], row["genre_source"]) == ("hiphop", "metadata")  # from the sheet
    assert (row["source"], row["adapter"], row["dataset"], row["split"], row["weight"]) == (
        "separated", "separated", "separated", "train", 0.5)
    assert row["duration_s"] == pytest.approx(6.0, abs=0.05)
    assert {r["source"] for t, r in rows.items() if t != "separated_my-song"} == {"stems"}
    d = separation_run / "results/separated/separated_my-song"
    v, sr = sf.read(d / "vocal.wav")
    b, _ = sf.read(d / "backing.wav")
    m, _ = sf.read(separation_run / "mixes" / "My Song.ogg")
    assert sr == 44100 and v.shape == m.shape
    assert np.max(np.abs(v + b - m)) < 1e-4  # builtin: the parts sum to the song
    assert (separation_run / "results/separated/model/separator.pt").is_file()
    assert (separation_run / "results/logs/separate/separated_my-song.log").is_file()
    assert (separation_run / "results/benchmarks/train_separator.tsv").is_file()


def test_separated_track_is_used_downstream(separation_run):
    """Features and corruption take the separated track like any other (the dataset then
    carries its manifest weight into index.tsv and the training loss)."""

    feats = read_json(separation_run / "results/features/separated_my-song.json")
    assert feats["source"] == "separated" and feats["split"] == "train"
    corrupted = read_json(separation_run / "results/corrupted/separated_my-song/v0.json")
    assert corrupted and (separation_run / "results/corrupted/separated_my-song/v0.flac").is_file()


def test_quality_table(separation_run):
    table = _tsv(separation_run / "results/separated/quality.tsv")
    scored = [r for r in table if r["ground_truth"] == "yes"]
    assert len({r["track_id"] for r in scored}) == 1  # the tiny corpus's one test song
    assert {(r["dataset"], r["split"]) for r in scored} == {("demo", "test")}
    assert {r["estimate"] for r in scored} == {"builtin:network", "mixture", "half_mixture",
                                              "ideal_ratio_mask"}
    by = {r["estimate"]: r for r in scored}
    assert float(by["mixture"]["vocal_si_sdr_gain_db"]) == 0.0
    assert float(by["half_mixture"]["vocal_si_sdr_db"]) == pytest.approx(
        float(by["mixture"]["vocal_si_sdr_db"]), abs=1e-3)
    oracle = float(by["ideal_ratio_mask"]["vocal_si_sdr_db"])
    assert oracle > float(by["mixture"]["vocal_si_sdr_db"])
    song = [r for r in table if r["track_id"] == "separated_my-song"]
    assert len(song) == 1 and song[0]["ground_truth"] == "no" and song[0]["vocal_sdr_db"] == ""
    assert "no ground truth" in song[0]["note"]
    assert (separation_run / "results/separated/quality.png").stat().st_size > 5000


def test_bias_tables(separation_run):
    """The held-out song's targets on the truth and the estimate, and their summary."""
    from vocalmix.separation import bias
    from vocalmix.separation.quality import BIAS_COLUMNS, BIAS_SUMMARY_COLUMNS

    with open(separation_run / "results/separated/bias.tsv", newline="") as fh:
        assert next(csv.reader(fh, delimiter="\t")) == list(BIAS_COLUMNS)
    rows = _tsv(separation_run / "results/separated/bias.tsv")
    assert [(r["dataset"], r["split"], r["estimate"]) for r in rows] == [
        ("demo", "test", "builtin:network")]
    row = rows[0]
    for t in ("vocal_to_backing_lu", "vocal_lra_lu", *bias.EQ_TARGETS):
        true, est, b = (float(row[f"{k}_{t}"]) for k in ("true", "est", "bias"))
        assert b == pytest.approx(est - true, abs=2e-4), t
    assert float(row[bias.EQ_RMS]) >= 0.0
    with open(separation_run / "results/separated/bias_summary.tsv", newline="") as fh:
        assert next(csv.reader(fh, delimiter="\t")) == list(BIAS_SUMMARY_COLUMNS)
    summary = _tsv(separation_run / "results/separated/bias_summary.tsv")
    assert [(s["dataset"], s["target"]) for s in summary] == [
        ("demo", t) for t in bias.BIAS_MEASURES]
    vbr = summary[0]
    assert vbr["n_tracks"] == "1"
    assert float(vbr["mean_bias"]) == pytest.approx(float(row["bias_vocal_to_backing_lu"]),
                                                    abs=2e-4)
    assert (separation_run / "results/separated/bias.png").stat().st_size > 5000
    assert {s["split"] for s in summary} == {"test"}
    # the demo's synthetic songs never calibrate the separator: no correction applied
    corr = _tsv(separation_run / "results/separated/correction.tsv")
    assert [c["target"] for c in corr] == list(bias.CORRECTED_TARGETS)
    assert {(c["n_tracks"], c["applied"]) for c in corr} == {("0", "no")}


def test_spleeter_without_checkpoint_stops_before_any_job(tmp_path):
    _finished_song(tmp_path / "mixes" / "song.ogg")
    (tmp_path / "models" / "2stems").mkdir(parents=True)  # exists, but holds no checkpoint
    proc = snakemake(tmp_path, "-n", "results/corpus/tracks.tsv", "--config",
                     "separation={backend: spleeter, spleeter: {model_path: models}}",
                     check=False, timeout=300, config=CONFIG)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "separation.backend spleeter" in out and "random weights" in out
    assert "rule separate" not in out  # refused before planning any job


def test_vocal_activity_is_scored_against_the_songs_line_timings(separation_run):
    from vocalmix.stages.activity import COLUMNS

    with open(separation_run / "results/separated/activity.tsv", newline="") as fh:
        assert next(csv.reader(fh, delimiter="\t")) == list(COLUMNS)
    rows = {r["track_id"]: r for r in _tsv(separation_run / "results/separated/activity.tsv")}
    assert set(rows) == {"separated_my-song", "mean"}
    song = rows["separated_my-song"]
    assert song["note"] == ""
    for k in ("precision_collar_0s", "recall_collar_0s", "f1_collar_0s", "f1_collar_0.5s"):
        assert 0.0 <= float(song[k]) <= 1.0
    assert 0.0 < float(song["ref_active_fraction"]) < 1.0
    assert float(song["duration_s"]) == pytest.approx(6.0, abs=0.1)
    assert (separation_run / "results/separated/activity.png").stat().st_size > 5000
