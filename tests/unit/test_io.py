"""vocalmix.audio and vocalmix.files: layouts, validation, atomic writes, resampling."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from vocalmix.audio import AudioError, read_audio, resample, to_channels, validate_audio, write_audio
from vocalmix.files import atomic_path



def test_roundtrip_float_wav_is_exact(tmp_path, rng):
    x = (0.1 * rng.standard_normal((2, 4410))).astype(np.float32)
    write_audio(tmp_path / "a.wav", x, 44100)
    y, sr = read_audio(tmp_path / "a.wav")
    assert sr == 44100 and y.shape == (2, 4410) and y.dtype == np.float32
    np.testing.assert_array_equal(x, y)


def test_flac_path_writes_24_bit_flac_within_one_step(tmp_path, rng):
    """A ``.flac`` path gives FLAC (lossless 24-bit PCM: within half a 2**-23 step of the
    float samples, the same bytes every time); FLAC cannot hold floats, so FLOAT is an
    error, and so is a sample beyond full scale under clip="error"."""
    x = (0.1 * rng.standard_normal((2, 4410))).astype(np.float32)
    write_audio(tmp_path / "a.flac", x, 44100, subtype="PCM_24")
    info = sf.info(str(tmp_path / "a.flac"))
    assert (info.format, info.subtype, info.channels) == ("FLAC", "PCM_24", 2)
    y, sr = read_audio(tmp_path / "a.flac")
    assert sr == 44100 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= 2.0 ** -24 + 1e-12
    write_audio(tmp_path / "b.flac", x, 44100, subtype="PCM_24")
    assert (tmp_path / "a.flac").read_bytes() == (tmp_path / "b.flac").read_bytes()
    with pytest.raises(ValueError, match="FLAC holds integer samples"):
        write_audio(tmp_path / "c.flac", x, 44100)
    with pytest.raises(AudioError, match="exceeds full scale"):
        write_audio(tmp_path / "d.flac", 2 * x / np.max(np.abs(x)), 44100, subtype="PCM_24",
                    clip="error")


def test_same_array_same_bytes_even_a_second_later(tmp_path, rng):
    """libsndfile stamps float WAVs with the time (PEAK chunk); io zeroes the stamp."""
    import time

    x = (0.1 * rng.standard_normal((1, 1000))).astype(np.float32)
    write_audio(tmp_path / "a.wav", x, 48000)
    time.sleep(1.1)
    write_audio(tmp_path / "b.wav", x, 48000)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_read_rejects_nan(tmp_path):
    x = np.zeros((100, 1), dtype=np.float32)
    x[10] = np.nan
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav.*NaN"):
        read_audio(tmp_path / "nan.wav")


def test_read_detects_truncation(tmp_path, rng):
    path = tmp_path / "t.wav"
    sf.write(path, rng.standard_normal((8000, 2)).astype(np.float32) * 0.1, 8000,
             subtype="FLOAT")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated"):
        read_audio(path)


def test_read_unreadable_names_the_file(tmp_path):
    bad = tmp_path / "garbage.wav"
    bad.write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioError, match="garbage.wav"):
        read_audio(bad)
    with pytest.raises(AudioError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")


def test_validate_refuses_channels_last():
    with pytest.raises(AudioError, match=r"\(channels, samples\)"):
        validate_audio(np.zeros((1000, 2), dtype=np.float32))
    with pytest.raises(TypeError):
        validate_audio(np.zeros((2, 100), dtype=np.int16))


@pytest.mark.parametrize("orig,target", [(16000, 44100), (48000, 44100), (44100, 48000)])
def test_resample_keeps_frequency_and_level(orig, target):
    t = np.arange(orig) / orig
    x = (0.5 * np.sin(2 * np.pi * 1000.0 * t))[None, :].astype(np.float32)
    y = resample(x, orig_sample_rate=orig, target_sample_rate=target)
    assert y.shape[1] == target
    seg = y[0, target // 4: 3 * target // 4].astype(np.float64)
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    peak_hz = np.argmax(spec) * target / seg.size
    assert peak_hz == pytest.approx(1000.0, abs=target / seg.size)
    rms_db = 20 * np.log10(np.sqrt(np.mean(seg ** 2)) / (0.5 / np.sqrt(2)))
    assert rms_db == pytest.approx(0.0, abs=0.05)


def test_to_channels():
    mono = np.ones((1, 10), dtype=np.float32)
    assert to_channels(mono, 2).shape == (2, 10)
    stereo = np.stack([np.ones(10), -np.ones(10)]).astype(np.float32)
    np.testing.assert_array_equal(to_channels(stereo, 1), np.zeros((1, 10)))


def test_a_killed_writers_leftover_is_removed_by_the_next_write(tmp_path):
    from vocalmix.files import atomic_path, write_json

    target = tmp_path / "out[1].json"  # glob metacharacters in the name are literal
    leftover = tmp_path / ".out[1].json.abc123.tmp"
    leftover.write_text("half")
    other = tmp_path / ".other.json.abc123.tmp"  # another file's leftover is not ours
    other.write_text("half")
    write_json(target, {"a": 1})
    assert target.read_text().strip().startswith("{")
    assert not leftover.exists() and other.exists()
    with atomic_path(tmp_path / "x.bin") as tmp:
        assert tmp.name.startswith(".x.bin.") and tmp.name.endswith(".tmp")
