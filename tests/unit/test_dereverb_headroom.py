"""The corrupt stage's dereverberated vocal when it overshoots full scale (a loud separated
vocal after WPE peaked at 1.10 on a real song): scaled to -1 dBFS and made again, never
clipped, never a failed track."""

import numpy as np
import pytest
import soundfile as sf

from vocalmix.audio import read_audio
from vocalmix.stages.corrupt import FullScaleError, as_stored, store_dereverberated

SR = 16000


def _vocal(path, peak):
    t = np.arange(2 * SR) / SR
    x = np.sin(2 * np.pi * 220 * t) * np.linspace(0.2, 1.0, t.size) * peak
    sf.write(path, np.stack([x, x]).T.astype(np.float32), SR, subtype="FLOAT")


def test_an_overshooting_vocal_is_scaled_to_minus_1_dbfs(tmp_path):
    _vocal(tmp_path / "v.wav", 1.5)
    sr, gain_db = store_dereverberated(str(tmp_path / "v.wav"), tmp_path / "d.flac", False, "t")
    stored, _ = read_audio(tmp_path / "d.flac")
    assert sr == SR
    assert gain_db == pytest.approx(-1.0 - 20 * np.log10(1.5), abs=0.01)
    assert 20 * np.log10(np.abs(stored).max()) == pytest.approx(-1.0, abs=0.01)


def test_a_vocal_in_range_is_stored_unscaled(tmp_path):
    _vocal(tmp_path / "v.wav", 0.9)
    _, gain_db = store_dereverberated(str(tmp_path / "v.wav"), tmp_path / "d.flac", False, "t")
    stored, _ = read_audio(tmp_path / "d.flac")
    src, _ = read_audio(tmp_path / "v.wav")
    assert gain_db == 0.0
    assert np.abs(stored[0] - src.mean(axis=0)).max() < 2 ** -22


def test_the_error_names_the_signal_and_its_peak():
    with pytest.raises(FullScaleError, match="song: peak 1.250") as err:
        as_stored(np.full((1, 10), 1.25, dtype=np.float32), SR, name="song")
    assert err.value.peak == pytest.approx(1.25)
