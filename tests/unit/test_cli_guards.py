"""The CLI never writes over an input and answers careless input with one line (issue 17,
items 2 and 7): every case makes its files here and runs ``vocalmix`` in this process, so an
unexpected exception fails the test with its traceback."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vocalmix.cli import main
from vocalmix.cli._common import CliError, Output, check_outputs, expected_error

SR = 22050
SEP = ["--backend", "builtin", "--method", "repet_sim"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tone(seconds: float, channels: int = 1, f0: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = 0.2 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    return np.tile(x[:, None], (1, channels)).astype(np.float32)


@pytest.fixture()
def song(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    sf.write(d / "vocal.wav", _tone(4.0), SR)
    sf.write(d / "backing.wav", _tone(4.0, 2, 110.0), SR)
    sf.write(d / "backing.flac", _tone(4.0, 2, 110.0), SR)
    return d


def _mix(d: Path, *extra: str, backing: str = "backing.wav") -> list[str]:
    return ["mix", "--vocal", str(d / "vocal.wav"), "--backing", str(d / backing),
            "--genre-model", "none", *extra]


@pytest.mark.parametrize("args", [
    ["-o", "vocal.wav"],
    ["-o", "m.wav", "--recipe-out", "vocal.wav"],
    ["-o", "sub/../link.wav"],
    ["-o", "backing.flac", "--force"],
])
def test_mix_never_writes_over_an_input(song, capsys, args, monkeypatch):
    (song / "sub").mkdir()
    os.symlink(song / "vocal.wav", song / "link.wav")
    backing = "backing.flac" if "backing.flac" in args else "backing.wav"
    args = [str(song / a) if a.endswith((".wav", ".flac")) else a for a in args]
    before = {p.name: _digest(p) for p in song.iterdir() if p.is_file()}
    assert main(_mix(song, *args, backing=backing)) == 2
    err = capsys.readouterr().err
    assert err.startswith("vocalmix mix: ") and "is the input" in err and "Traceback" not in err
    assert {p.name: _digest(p) for p in song.iterdir() if p.is_file()} == before


def test_mix_checks_its_outputs_before_the_work(song, capsys, monkeypatch, tmp_path):
    import vocalmix.mixing.api as api

    monkeypatch.setattr(api, "mix_files", lambda **k: pytest.fail("mixed before the check"))
    (song / "folder").mkdir()
    (song / "precious.wav").write_bytes(b"not mine")
    cases = {str(song / "folder"): "is a folder", "/proc/nope/x.wav": "cannot be written",
             str(song / "precious.wav"): "use --force"}
    for out, words in cases.items():
        assert main(_mix(song, "-o", out)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"vocalmix mix: {out}: " in err and words in err
    assert (song / "precious.wav").read_bytes() == b"not mine"


def test_mix_again_replaces_its_own_output_and_force_replaces_another(song, capsys):
    out = song / "m.wav"
    assert main(_mix(song, "-o", str(out))) == 0
    assert main(_mix(song, "-o", str(out))) == 0  # its own: the recipe is beside it
    (song / "m.recipe.json").unlink()
    assert main(_mix(song, "-o", str(out))) == 2  # a WAV without its recipe: not its own
    assert "use --force" in capsys.readouterr().err
    assert main(_mix(song, "-o", str(out), "--force")) == 0


def test_separate_refuses_its_input_folder_and_a_file_as_folder(song, capsys):
    before = _digest(song / "backing.wav")
    assert main(["separate", str(song / "backing.wav"), "-o", str(song), *SEP]) == 2
    assert main(["separate", str(song / "backing.wav"), "-o", str(song), "--force", *SEP]) == 2
    err = capsys.readouterr().err
    assert "is the input" in err and "Traceback" not in err
    assert _digest(song / "backing.wav") == before
    assert main(["separate", str(song / "backing.wav"), "-o", str(song / "vocal.wav"),
                 *SEP]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_separate_refuses_short_and_multichannel_songs_naming_them(tmp_path, capsys):
    sf.write(tmp_path / "tiny.wav", _tone(0.05, 2), SR)
    sf.write(tmp_path / "six.wav", _tone(3.0, 6), SR)
    for name, words in (("tiny.wav", "0.050 s long"), ("six.wav", "6 channels")):
        out = tmp_path / f"out-{name}"
        assert main(["separate", str(tmp_path / name), "-o", str(out), *SEP]) == 2
        err = capsys.readouterr().err
        assert f"vocalmix separate: {tmp_path / name}: " in err and words in err
        assert not out.exists() or not any(out.iterdir())


def test_separate_warns_of_silence(tmp_path, capsys):
    sf.write(tmp_path / "silent.wav", np.zeros((3 * SR, 2), np.float32), SR)
    main(["separate", str(tmp_path / "silent.wav"), "-o", str(tmp_path / "o"), *SEP])
    assert "silent.wav: the audio is silent" in capsys.readouterr().err


def test_separate_writes_its_files_as_a_set_and_again(song, capsys, monkeypatch):
    import vocalmix.cli.separate as cli_sep

    out = song / "parts"
    monkeypatch.setattr(cli_sep, "write_json", lambda *a, **k: (_ for _ in ()).throw(
        OSError(28, "No space left on device", str(out / "report.json"))))
    assert main(["separate", str(song / "backing.wav"), "-o", str(out), *SEP]) == 2
    assert "report.json: No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == []  # neither WAV without the report
    monkeypatch.undo()
    assert main(["separate", str(song / "backing.wav"), "-o", str(out), *SEP]) == 0
    assert main(["separate", str(song / "backing.wav"), "-o", str(out), *SEP]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["backing.wav", "report.json", "vocal.wav"]


def _waet(tmp_path: Path) -> tuple[Path, Path]:
    from tests.unit.test_waet_hostile import _key, _result

    folder = tmp_path / "saves"
    folder.mkdir()
    for s in ("s1", "s2", "s3"):
        (folder / f"{s}.xml").write_text(_result(s))
    rows = list(_key().values())
    for row in rows:  # the hidden reference graded high, so nobody is screened out
        row.setdefault("file", "")
    key = tmp_path / "KEY.tsv"
    with open(key, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    return folder, key


def test_listening_import_writes_the_survey_and_refuses_bad_outputs(tmp_path, capsys):
    folder, key = _waet(tmp_path)
    ratings = tmp_path / "a" / "ratings.tsv"
    imp = ["listening", "import", str(folder), "--key", str(key)]
    assert main([*imp, "-o", "/proc/nope/r.tsv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vocalmix listening import: /proc/nope/r.tsv: ")
    assert main([*imp, "-o", str(folder / "s1.xml")]) == 2
    assert "is the input" in capsys.readouterr().err
    assert main([*imp, "-o", str(ratings)]) == 0
    with open(tmp_path / "a" / "survey.tsv", newline="") as fh:
        survey = list(csv.DictReader(fh, delimiter="\t"))
    assert [r["survey_listener_id"] for r in survey] == ["L-s1", "L-s2", "L-s3"]
    assert main([*imp, "-o", str(ratings)]) == 0  # its own tables: again without --force
    other = tmp_path / "b.tsv"
    assert main([*imp, "-o", str(ratings), "--survey", str(other)]) == 0
    assert other.read_text().startswith("listener\tsimulated\tfile")
    assert main([*imp, "-o", str(tmp_path / "c.tsv"), "--survey", str(key)]) == 2
    assert "is the input" in capsys.readouterr().err


def test_stats_joins_the_survey_for_listener_ids(tmp_path, capsys):
    folder, key = _waet(tmp_path)
    ratings = tmp_path / "a" / "ratings.tsv"
    assert main(["listening", "import", str(folder), "--key", str(key), "-o",
                 str(ratings)]) == 0
    (tmp_path / "file").write_text("x")
    assert main(["stats", str(ratings), "-o", str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    out = tmp_path / "an"
    assert main(["stats", str(ratings), "-o", str(out)]) == 0
    assert main(["stats", str(ratings), "-o", str(out)]) == 0  # its own tables again
    lines = [x for x in (out / "screening.tsv").read_text().splitlines()
             if not x.startswith("#")]
    ids = [r["listener_id"] for r in csv.DictReader(lines, delimiter="\t")]
    assert ids == ["L-s1", "L-s2", "L-s3"]
    (out / "anova.tsv").write_text("someone else's\n")
    (out / "stats_summary.json").write_text("{}")  # no longer recognisably its own
    assert main(["stats", str(ratings), "-o", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err


def test_stage_analyse_ratings_reads_the_survey(tmp_path):
    from vocalmix.stages.analysis import analyse_ratings
    from vocalmix.stats.analysis import OUTPUTS

    folder, key = _waet(tmp_path)
    ratings = tmp_path / "ratings.tsv"
    main(["listening", "import", str(folder), "--key", str(key), "-o", str(ratings)])
    outs = {k: str(tmp_path / "an" / v) for k, v in OUTPUTS.items()}
    params = {"analysis": {"alpha": 0.05, "screening": {"reference_below": 90.0,
                                                        "max_fraction": 0.15}}}
    analyse_ratings({"ratings": str(ratings), "survey": str(tmp_path / "survey.tsv")}, outs,
                    params)
    text = Path(outs["screening"]).read_text()
    assert "L-s1" in text and "L-s3" in text


def test_simulate_and_export_refuse_foreign_files(tmp_path, capsys):
    out = tmp_path / "sim"
    out.mkdir()
    (out / "complete-01.xml").write_text("<mine/>")
    assert main(["listening", "simulate", "-o", str(out), "-n", "1"]) == 2
    assert "complete-01.xml: exists and was not written" in capsys.readouterr().err
    exp = tmp_path / "waet"
    exp.mkdir()
    (exp / "KEY.tsv").write_text("a\tb\n")
    assert main(["listening", "export", "--renders", str(tmp_path / "r.tsv"), "-o",
                 str(exp)]) == 2
    assert "KEY.tsv: exists and was not written" in capsys.readouterr().err


def test_expected_and_unexpected_errors(tmp_path):
    from vocalmix.audio import AudioError

    assert expected_error(AudioError("a.wav", "bad")) == "a.wav: bad"
    assert expected_error(CliError("o.wav", "no")) == "o.wav: no"
    assert expected_error(FileNotFoundError(2, "No such file or directory", "/p/x")) == (
        "/p/x: No such file or directory")
    assert expected_error(KeyError("x")) is None  # a bug keeps its traceback
    assert expected_error(ValueError("numpy said")) is None
    with pytest.raises(CliError, match="written twice"):
        check_outputs([], [Output(tmp_path / "a"), Output(tmp_path / "x" / ".." / "a")])


def test_an_unexpected_error_keeps_its_traceback(song, monkeypatch):
    import vocalmix.mixing.api as api

    def boom(**kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(api, "mix_files", boom)
    with pytest.raises(KeyError):
        main(_mix(song, "-o", str(song / "m.wav")))
