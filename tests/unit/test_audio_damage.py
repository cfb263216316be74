"""Damaged audio is refused by every reader through one function (issue 17, item 5).

``vocalmix loudness`` used to measure a truncated WAV without a word (exit 0, figures for
the half present) because the loudness meter streamed the file itself, while ``mix``,
``separate`` and ingestion (through ``read_audio``) refused it. Both now open files through
:func:`vocalmix.audio.open_audio`. The damaged files are made here.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vocalmix.audio import AudioError, open_audio, read_audio, stream_blocks, write_audio
from vocalmix.measure.loudness import analyse_file

SR = 48000


@pytest.fixture()
def good_wav(tmp_path):
    t = np.arange(2 * SR) / SR
    tone = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    path = tmp_path / "good.wav"
    write_audio(path, np.stack([tone, tone]), SR, subtype="PCM_16")
    return path


def _truncated(good, tmp_path):
    data = good.read_bytes()
    path = tmp_path / "truncated.wav"
    path.write_bytes(data[: len(data) // 2])  # the header still declares the full length
    return path


def _garbage(good, tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"RIFF" + np.random.default_rng(1).bytes(3000))
    return path


def _empty(good, tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    return path


def _no_samples(good, tmp_path):
    path = tmp_path / "no_samples.wav"
    write_audio(path, np.zeros((1, 0), np.float32), SR)
    return path


def _nan(good, tmp_path):
    path = tmp_path / "nan.wav"
    x = np.zeros((1, SR), np.float32)
    x[0, 100] = np.nan
    import soundfile as sf

    sf.write(str(path), x.T, SR, subtype="FLOAT")
    return path


DAMAGE = {"truncated": (_truncated, "truncated"), "garbage": (_garbage, "not readable"),
          "empty": (_empty, "not readable"), "no samples": (_no_samples, "no samples"),
          "nan": (_nan, "NaN")}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_every_reader_refuses_the_same_damage_naming_the_file(good_wav, tmp_path, case):
    make, words = DAMAGE[case]
    bad = make(good_wav, tmp_path)
    readers = {
        "read_audio": lambda: read_audio(bad),
        "stream_blocks": lambda: list(stream_blocks(bad, 4096)),
        "analyse_file": lambda: analyse_file(str(bad)),
    }
    for name, read in readers.items():
        with pytest.raises(AudioError, match=words) as err:
            read()
        assert str(bad) in str(err.value), name


def test_truncation_is_found_before_any_block_is_read(good_wav, tmp_path):
    bad = _truncated(good_wav, tmp_path)
    with pytest.raises(AudioError, match=r"declares \d+ data bytes but only \d+"):
        with open_audio(bad):
            pytest.fail("a truncated file was opened")


def test_streamed_blocks_equal_the_whole_file(good_wav):
    whole, sr = read_audio(good_wav)
    with open_audio(good_wav) as stream:
        assert (stream.sample_rate, stream.channels, stream.frames) == (SR, 2, whole.shape[1])
        blocks = list(stream.blocks(1000))
    assert all(b.dtype == np.float32 and b.shape[0] == 2 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole)


def test_cli_loudness_refuses_a_truncated_wav_and_names_it(good_wav, tmp_path):
    bad = _truncated(good_wav, tmp_path)
    out = subprocess.run([sys.executable, "-m", "vocalmix", "loudness", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert str(bad) in out.stderr and "truncated" in out.stderr
    assert "Traceback" not in out.stderr
    assert "LUFS" not in out.stdout  # no figures for the half that is there
    # the intact file still measures (with the same command, in the same call)
    both = subprocess.run([sys.executable, "-m", "vocalmix", "loudness", str(bad),
                           str(good_wav)], capture_output=True, text=True)
    assert both.returncode != 0 and str(good_wav) in both.stdout and "LUFS" in both.stdout
