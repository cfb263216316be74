"""Rule vocal_activity's stage and the commercial_mixes keys it reads (issue 24)."""

import csv

import numpy as np
import pytest
import soundfile as sf

from vocalmix.corpus.separated import activity_references, discover_mixes, read_sheet
from vocalmix.corpus.tracks import CorpusError
from vocalmix.stages.activity import vocal_activity

SR = 16000


def _song(path, sung, duration_s=20.0):
    """A 'separated vocal': noise bursts during the sung intervals, near silence elsewhere."""
    rng = np.random.default_rng(0)
    t = np.arange(int(duration_s * SR)) / SR
    x = 1e-5 * rng.standard_normal(t.size)
    for a, b in sung:
        sel = (t >= a) & (t < b)
        x[sel] += 0.1 * rng.standard_normal(sel.sum())
    sf.write(path, np.stack([x, x]).T.astype(np.float32), SR, subtype="FLOAT")


def _lines(path, sung):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["start_time", "end_time", "lyrics_line"])
        for a, b in sung:
            w.writerow([a, b, "la la"])


def test_stage_scores_each_song_and_skips_a_bad_one(tmp_path):
    sung = [(2.0, 6.0), (9.0, 14.0)]
    _song(tmp_path / "a.wav", sung)
    _lines(tmp_path / "a.csv", sung)
    _song(tmp_path / "b.wav", sung)
    _lines(tmp_path / "b.csv", [(3.0, 1.0)])  # end before start: reported, skipped
    tracks = [{"track_id": "separated_a", "genre": "pop", "vocal": str(tmp_path / "a.wav"),
               "lines": str(tmp_path / "a.csv")},
              {"track_id": "separated_b", "genre": "pop", "vocal": str(tmp_path / "b.wav"),
               "lines": str(tmp_path / "b.csv")}]
    out = {"table": tmp_path / "activity.tsv", "plot": tmp_path / "activity.png"}
    vocal_activity({}, out, {"tracks": tracks, "gate_lu": -20.0})
    rows = {r["track_id"]: r for r in csv.DictReader(open(out["table"]), delimiter="\t")}
    a = rows["separated_a"]
    # the blocks smear each sung stretch by about 0.1 s before and 0.2 s after: F1 > 0.9,
    # recall ~1; with the 0.5 s collar the smear is forgiven
    assert float(a["recall_collar_0s"]) > 0.97
    assert float(a["f1_collar_0s"]) > 0.9
    assert float(a["f1_collar_0.5s"]) > 0.97
    assert float(a["ref_active_fraction"]) == pytest.approx(0.45, abs=0.01)
    assert float(a["all_active_f1_collar_0s"]) == pytest.approx(2 * 0.45 / 1.45, abs=0.01)
    assert "skipped" in rows["separated_b"]["note"] and "b.csv" in rows["separated_b"]["note"]
    assert rows["mean"]["note"] == "1 songs"
    assert out["plot"].stat().st_size > 0


def test_sheet_genres_and_activity_folders(tmp_path):
    songs = tmp_path / "songs"
    songs.mkdir()
    for name in ("Hop_-_A.wav", "Rock_B.wav", "Extra.wav"):
        _song(songs / name, [(1.0, 2.0)], duration_s=4.0)
    sheet = tmp_path / "meta.csv"
    sheet.write_text("URL,Filepath,Genre\nx,Hop_-_A.mp3,Hip-Hop\nx,Rock_B.wav,Metal\n"
                     "x,Hop_-_A.wav,Hip-Hop\n", encoding="utf-8")
    lines = tmp_path / "lines"
    lines.mkdir()
    _lines(lines / "Hop_-_A.csv", [(1.0, 2.0)])
    cfg = {"commercial_mixes": [{"path": str(songs), "metadata": str(sheet), "genre": "pop",
                                 "activity": str(lines)}], "separation": {}}
    cands, _ = discover_mixes(cfg)
    genres = {c.track_id: c.genre for c in cands}
    # the sheet's row wins (aliases applied); a song missing from it keeps the entry's genre
    assert genres == {"separated_hop-a": "hiphop", "separated_rock-b": "heavy-metal",
                      "separated_extra": "pop"}
    assert activity_references(cfg) == {"separated_hop-a": str(lines / "Hop_-_A.csv")}


@pytest.mark.parametrize("text, problem", [
    ("Filepath,Style\na.wav,pop\n", "no genre column"),
    ("Name,Genre\na.wav,pop\n", "no file-name column"),
    ("File,Genre\na.wav,pop\na.wav,rock\n", "listed twice"),
])
def test_bad_sheets_are_refused_naming_the_sheet(tmp_path, text, problem):
    sheet = tmp_path / "meta.csv"
    sheet.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=problem) as err:
        read_sheet(sheet)
    assert str(sheet) in str(err.value)


def test_a_sheet_that_is_not_text_or_too_large_is_refused(tmp_path, monkeypatch):
    sheet = tmp_path / "meta.tsv"
    sheet.write_bytes(b"file\tgenre\n\xff\xfe\x00a.wav\tpop\n")
    with pytest.raises(CorpusError, match="not UTF-8"):
        read_sheet(sheet)
    sheet.write_text("file\tgenre\na.wav\tpop\n", encoding="utf-8")
    assert read_sheet(sheet)["a.wav"]["genre"] == "pop"  # tab-separated
    monkeypatch.setattr("vocalmix.corpus.separated.MAX_SHEET_BYTES", 8)
    with pytest.raises(CorpusError, match="more than"):
        read_sheet(sheet)
