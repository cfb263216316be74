"""The corruption stage's own STFT pair against nara-wpe's (issue 20, ``make run``).

``nara_wpe.utils`` imports scipy.signal (0.5 CPU-s in each of the 48 corrupt jobs of the
demo); the stage computes the same transform itself. The numbers must be the very same.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vocalmix.dsp.corruption import _analysis_window, wpe_istft, wpe_stft


def test_the_analysis_window_is_nara_wpes_periodic_blackman():
    from scipy.signal.windows import blackman

    for size in (512, 2048):
        assert np.array_equal(_analysis_window(size), blackman(size + 1)[:-1])


@pytest.mark.parametrize("samples", [100, 2048, 3000, 44100 * 3 + 17])
@pytest.mark.parametrize("size, shift", [(2048, 512), (1024, 256)])
def test_the_stft_pair_gives_nara_wpes_numbers(samples, size, shift):
    from nara_wpe.utils import istft, stft

    x = np.random.default_rng(samples).standard_normal((1, samples))
    spec = wpe_stft(x, size, shift)
    expected = stft(x, size=size, shift=shift)
    assert spec.shape == expected.shape
    assert np.array_equal(spec, expected)
    # a spectrogram WPE has changed (not an STFT of anything): the same synthesis
    changed = expected * np.exp(1j * np.random.default_rng(1).uniform(0, 6, expected.shape))
    assert np.array_equal(wpe_istft(changed, size, shift), istft(changed, size=size, shift=shift))


def test_the_corrupt_stage_does_not_import_scipy_signal(tmp_path):
    """Dereverberation, the versions and the dry-note report run without scipy.signal."""
    import json

    from vocalmix.config import load_config

    sr = 22050
    t = np.arange(3 * sr) / sr
    vocal = 0.2 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    sf.write(tmp_path / "v.flac", np.stack([vocal, vocal], axis=1), sr)
    sf.write(tmp_path / "dry.flac", vocal, sr)
    (tmp_path / "truth.json").write_text('{"notes": [{"onset_s": 0.5, "duration_s": 1.5}]}')
    config = load_config("config.yaml")
    code = (
        "import sys, json; from vocalmix.stages.corrupt import corrupt\n"
        "d = sys.argv[1]; cfg = json.loads(sys.argv[2])\n"
        "corrupt(inputs={'vocal': d + '/v.flac', 'dry_vocal': d + '/dry.flac',"
        " 'truth': d + '/truth.json'}, outputs={'audio': [d + '/v0.flac'],"
        " 'params': [d + '/v0.json'], 'dereverberated': d + '/d.flac'},"
        " params={'track': 't', 'seed': 1, 'corruption': cfg})\n"
        "print('LOADED' if 'scipy.signal' in sys.modules else 'NOT LOADED')")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path),
                          json.dumps({**config["corruption"], "versions": 1,
                                                     "note_check": True})],
                         capture_output=True, text=True, check=True).stdout
    assert (tmp_path / "d.flac").exists() and (tmp_path / "v0.flac").exists()
    assert json.loads((tmp_path / "v0.json").read_text())["wpe_on_dry_notes"]["sustained"]["n"] == 1
    assert out.strip().endswith("NOT LOADED")
