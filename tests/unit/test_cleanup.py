"""Phone-take clean-up (``vocalmix.dsp.cleanup``): known answers on a synthetic sung take.

The take (:func:`sung_take`) is harmonic notes with delayed vibrato and a four-formant
envelope, separated by rests of digital silence. :func:`sibilant_take` adds bursts of
4-10 kHz noise, some in the rest just before a note and some on the note's start.
:func:`pink_noise` is the phone's noise. The measurements are those of
``benchmarks/cleanup.py``, which imports them from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import signal

from vocalmix.dsp.cleanup import (BLOCK_FRAMES, DEESSER_RANGES, NOISE_RANGES, Cleanup, DeEsser,
                                  NoiseReduction, apply_cleanup, deess, denoise, stft_size)
from vocalmix.measure.loudness import integrated_loudness

SR = 44100
#: (centre Hz, bandwidth Hz, amplitude) of the formant-like envelope (an open "ah")
FORMANTS = ((700.0, 130.0, 1.0), (1220.0, 150.0, 0.5), (2600.0, 250.0, 0.25),
            (3300.0, 300.0, 0.12))
NOTE_RMS_DBFS = -20.0


@dataclass(frozen=True)
class Take:
    """A synthetic take: ``audio`` (1, samples) float32, note and sibilant spans (samples)."""

    audio: np.ndarray
    sample_rate: int
    notes: tuple[tuple[int, int], ...]
    sibilants: tuple[tuple[int, int], ...] = ()

    def rests(self, margin_s: float = 0.1) -> list[tuple[int, int]]:
        """The gaps between notes, ``margin_s`` in from both notes (sibilants count as
        notes here: a rest is where only noise is)."""
        m = int(margin_s * self.sample_rate)
        busy = sorted(self.notes + self.sibilants)
        out, pos = [], 0
        for a, b in busy:
            if a - m > pos + m:
                out.append((pos + m, a - m))
            pos = max(pos, b)
        return out


def _tone(f0_hz: float, n: int, sample_rate: int, rng: np.random.Generator,
          tilt: float = 1.5) -> np.ndarray:
    """One sung note: harmonics of ``f0_hz`` with 5.5 Hz vibrato of 30 cents (after 150 ms),
    the formant envelope times ``(1 + f / 1 kHz) ** -tilt``, 30 ms attack, 60 ms release."""
    t = np.arange(n) / sample_rate
    cents = np.clip((t - 0.15) / 0.2, 0.0, 1.0) * 30.0
    f0 = f0_hz * 2.0 ** (cents / 1200.0 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    y = np.zeros(n)
    for h in range(1, int(0.45 * sample_rate / f0_hz) + 1):
        f = h * f0_hz
        env = sum(g / (1.0 + ((f - fc) / bw) ** 2) for fc, bw, g in FORMANTS) + 0.02
        y += env * (1.0 + f / 1000.0) ** -tilt * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    a, r = min(int(0.03 * sample_rate), n // 4), min(int(0.06 * sample_rate), n // 4)
    y[:a] *= np.linspace(0.0, 1.0, a)
    y[n - r:] *= np.linspace(1.0, 0.0, r)
    return y


def _burst(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited noise 4-10 kHz with 10 ms raised-cosine fades (an "s")."""
    sos = signal.butter(6, [4000.0, 10000.0], btype="band", fs=sample_rate, output="sos")
    y = signal.sosfilt(sos, rng.standard_normal(n + 2048))[2048:]
    f = int(0.01 * sample_rate)
    fade = 0.5 - 0.5 * np.cos(np.pi * np.arange(f) / f)
    y[:f] *= fade
    y[n - f:] *= fade[::-1]
    return y


def sung_take(duration_s: float = 8.0, sample_rate: int = SR, seed: int = 1,
              sibilants: bool = False, tilt: float = 1.5) -> Take:
    """Notes of 0.6-1.2 s (G3-A#4) separated by rests of 0.35-0.6 s of digital silence, the
    notes at :data:`NOTE_RMS_DBFS` RMS. With ``sibilants``, every other note gets a burst of
    80-150 ms at -3 dB re the note RMS: alternately ending at the onset and starting on it."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sample_rate)
    x = np.zeros(n)
    notes, sibs = [], []
    pos = int(0.3 * sample_rate)
    k = 0
    while True:
        dur = int(rng.uniform(0.6, 1.2) * sample_rate)
        if pos + dur + int(0.3 * sample_rate) > n:
            break
        x[pos:pos + dur] = _tone(440.0 * 2 ** ((rng.uniform(55, 70) - 69) / 12), dur,
                                 sample_rate, rng, tilt)
        notes.append((pos, pos + dur))
        pos += dur + int(rng.uniform(0.35, 0.6) * sample_rate)
        k += 1
    x *= 10 ** (NOTE_RMS_DBFS / 20) / math.sqrt(_mean_square(x[None], notes))
    if sibilants:
        for j, (a, _) in enumerate(notes[::2]):
            m = int(rng.uniform(0.08, 0.15) * sample_rate)
            start = a - m if j % 2 == 0 else a
            burst = _burst(m, sample_rate, rng)
            burst *= 10 ** ((NOTE_RMS_DBFS - 3.0) / 20) / np.sqrt(np.mean(burst ** 2))
            x[start:start + m] += burst
            sibs.append((start, start + m))
    return Take(x[None].astype(np.float32), sample_rate, tuple(notes), tuple(sibs))


def pink_noise(n: int, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    """Gaussian noise with a 1/f power spectrum (above 20 Hz; flat below), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal((channels, n)), axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / SR)
    spec /= np.sqrt(np.maximum(f, 20.0))
    y = np.fft.irfft(spec, n=n, axis=-1)
    return y / np.sqrt(np.mean(y ** 2, axis=-1, keepdims=True))


def add_noise(take: Take, snr_db: float, rng: np.random.Generator,
              noise: np.ndarray | None = None) -> np.ndarray:
    """The take plus noise (pink unless given) at ``snr_db`` below the notes' mean power."""
    x = take.audio.astype(np.float64)
    noise = pink_noise(x.shape[1], rng, x.shape[0]) if noise is None else noise
    level = _mean_square(x, take.notes) / 10 ** (snr_db / 10)
    return (x + noise * np.sqrt(level / np.mean(noise ** 2))).astype(np.float32)


def _mean_square(x: np.ndarray, spans) -> float:
    return float(np.mean(np.concatenate([x[:, a:b] for a, b in spans], axis=1)
                         .astype(np.float64) ** 2))


def level_db(x: np.ndarray, spans) -> float:
    """Mean power (dB) of ``x`` over ``spans`` (all channels); ``-inf`` for silence."""
    ms = _mean_square(x, spans)
    return 10 * math.log10(ms) if ms > 0 else -math.inf


def notes_lufs(x: np.ndarray, take: Take) -> float:
    """Integrated loudness (LUFS) of the note spans, joined end to end."""
    return integrated_loudness(np.concatenate([x[:, a:b] for a, b in take.notes], axis=1),
                               take.sample_rate)


def band(x: np.ndarray, lo_hz: float, hi_hz: float, sample_rate: int = SR) -> np.ndarray:
    """Zero-phase 8th-order Butterworth band-pass."""
    sos = signal.butter(4, [lo_hz, hi_hz], btype="band", fs=sample_rate, output="sos")
    return signal.sosfiltfilt(sos, x.astype(np.float64), axis=-1)


def vowel_spans(take: Take, guard_s: float = 0.25) -> list[tuple[int, int]]:
    """Note spans with ``guard_s`` cut off after any sibilant that touches them (and
    before, for bursts ending at the onset): where only the vowel sounds."""
    g = int(guard_s * take.sample_rate)
    out = []
    for a, b in take.notes:
        start = a
        for s0, s1 in take.sibilants:
            if s0 - g <= a <= s1 + g:
                start = max(start, s1 + g)
        if b - start > int(0.1 * take.sample_rate):
            out.append((start, b))
    return out


def denoise_figures(take: Take, noisy: np.ndarray, settings: NoiseReduction | None = None
                    ) -> dict:
    """Noise reduction in the rests (dB) and the notes' loudness change (LU) against the
    clean and the noisy notes; with the report."""
    y, report = denoise(noisy, take.sample_rate, settings)
    rests = take.rests()
    clean = take.audio
    return {"rest_reduction_db": level_db(noisy, rests) - level_db(y, rests),
            "notes_vs_clean_lu": notes_lufs(y, take) - notes_lufs(clean, take),
            "notes_vs_noisy_lu": notes_lufs(y, take) - notes_lufs(noisy, take),
            "report": report, "output": y}


def deess_figures(take: Take, settings: DeEsser | None = None) -> dict:
    """Sibilant-band (5-10 kHz) reduction during the bursts, and the vowels' change in that
    band, in level and in loudness; with the report."""
    x = take.audio
    y, report = deess(x, take.sample_rate, settings)
    bx, by = band(x, 5000, 10000), band(y, 5000, 10000)
    vowels = vowel_spans(take)
    joined = [np.concatenate([s[:, a:b] for a, b in vowels], axis=1) for s in (x, y)]
    return {"sibilant_reduction_db": level_db(bx, take.sibilants) - level_db(by, take.sibilants),
            "vowel_band_change_db": level_db(by, vowels) - level_db(bx, vowels),
            "vowel_level_change_db": level_db(y, vowels) - level_db(x, vowels),
            "vowel_loudness_change_lu": (integrated_loudness(joined[1], take.sample_rate)
                                         - integrated_loudness(joined[0], take.sample_rate)),
            "report": report, "output": y}


# ------------------------------------------------------------------------------------------
# tests


@pytest.fixture(scope="module")
def take() -> Take:
    return sung_take(8.0, seed=3)


@pytest.fixture(scope="module")
def sib_take() -> Take:
    return sung_take(8.0, seed=5, sibilants=True)


@pytest.fixture(scope="module")
def noisy(take: Take) -> np.ndarray:
    return add_noise(take, 20.0, np.random.default_rng(440))


@pytest.fixture(scope="module")
def denoised(take: Take, noisy: np.ndarray) -> dict:
    return denoise_figures(take, noisy)


def test_material_is_what_it_says(take: Take, noisy: np.ndarray, sib_take: Take):
    whole = [(0, take.audio.shape[1])]
    assert level_db(noisy - take.audio, whole) == pytest.approx(NOTE_RMS_DBFS - 20.0, abs=0.01)
    assert level_db(take.audio, take.rests()) == -math.inf  # rests are digital silence
    assert len(take.notes) >= 5 and len(sib_take.sibilants) >= 3


def test_denoise_lowers_noise_in_rests_by_10_db(denoised: dict):
    assert denoised["rest_reduction_db"] >= 10.0


def test_denoise_keeps_note_loudness_within_half_lu(denoised: dict):
    # against the clean notes (what the singer sang) and the noisy ones (what came in)
    assert abs(denoised["notes_vs_clean_lu"]) <= 0.5
    assert abs(denoised["notes_vs_noisy_lu"]) <= 0.5


def test_denoise_report_knows_the_noise(take: Take, denoised: dict):
    r = denoised["report"]
    noise_dbfs = NOTE_RMS_DBFS - 20.0  # the noise runs at one level through the take
    assert r["applied"]
    assert r["noise_floor_dbfs"] == pytest.approx(noise_dbfs, abs=0.5)
    assert r["snr_db"] == pytest.approx(20.0, abs=1.0)
    assert r["rest_reduction_db"] >= 10.0
    assert 0.2 <= r["rest_share"] <= 0.6
    # pink noise: equal power per octave
    octs = [r["noise_octaves_dbfs"][k] for k in ("250", "500", "1000", "2000", "4000")]
    assert np.ptp(octs) <= 1.0


def test_denoise_white_noise_octaves_rise_3_db(take: Take, rng):
    noise = rng.standard_normal(take.audio.shape)
    noisy = add_noise(take, 30.0, rng, noise)
    _, r = denoise(noisy, SR)
    o = r["noise_octaves_dbfs"]
    assert r["noise_floor_dbfs"] == pytest.approx(NOTE_RMS_DBFS - 30.0, abs=0.5)
    for lo, hi in (("500", "1000"), ("1000", "2000"), ("2000", "4000")):
        assert o[hi] - o[lo] == pytest.approx(10 * math.log10(2), abs=0.5)


def test_clean_take_passes_unchanged(take: Take):
    y, r = denoise(take.audio, SR)
    assert abs(notes_lufs(y, take) - notes_lufs(take.audio, take)) <= 0.2
    # rests of digital silence: no noise found, every gain 1, the output is the input
    assert r["noise_floor_dbfs"] == -math.inf
    np.testing.assert_array_equal(y, take.audio)


def test_deesser_reduces_sibilants_not_vowels(sib_take: Take):
    f = deess_figures(sib_take)
    assert f["sibilant_reduction_db"] >= 4.0
    assert abs(f["vowel_band_change_db"]) <= 0.5
    assert abs(f["vowel_level_change_db"]) <= 0.5
    assert abs(f["vowel_loudness_change_lu"]) <= 0.5
    r = f["report"]
    assert r["sibilant_frames"] > 0 and 0 < r["sibilant_share"] < 0.3
    assert 0 < r["mean_reduction_db"] <= r["max_reduction_db"] <= DeEsser().max_reduction_db


def test_deesser_leaves_bright_vowels_alone():
    bright = sung_take(4.0, seed=9, tilt=0.0)  # no spectral tilt: bright
    share = level_db(band(bright.audio, 5000, 20000), bright.notes) - level_db(bright.audio,
                                                                               bright.notes)
    assert share > -20.0
    y, r = deess(bright.audio, SR)
    assert r["sibilant_frames"] == 0
    np.testing.assert_array_equal(y, bright.audio)


def test_both_effects_in_one_pass(sib_take: Take):
    # noise reduction, then de-essing: what each does alone, and deess(denoise(x)) to within
    # the STFT's inconsistency (60 dB below the take)
    noisy = add_noise(sib_take, 20.0, np.random.default_rng(7))
    y, r = apply_cleanup(noisy, SR, Cleanup(NoiseReduction(), DeEsser()))
    step, _ = denoise(noisy, SR)
    step, r_de = deess(step, SR)
    whole = [(0, y.shape[1])]
    assert level_db(y - step, whole) <= level_db(step, whole) - 60.0
    assert r["deesser"]["sibilant_frames"] == r_de["sibilant_frames"]
    rests = sib_take.rests()
    assert level_db(noisy, rests) - level_db(y, rests) >= 10.0
    sibs = sib_take.sibilants
    assert (level_db(band(noisy, 5000, 10000), sibs) - level_db(band(y, 5000, 10000), sibs)
            >= 4.0)
    vowels = vowel_spans(sib_take)
    assert abs(level_db(y, vowels) - level_db(noisy, vowels)) <= 0.5
    # one effect alone is that effect's function, bit for bit
    for cleanup, fn in ((Cleanup(noise_reduction=NoiseReduction()), denoise),
                        (Cleanup(deesser=DeEsser()), deess)):
        alone, report = apply_cleanup(noisy, SR, cleanup)
        direct, direct_report = fn(noisy, SR)
        assert alone.tobytes() == direct.tobytes()
        assert report[next(k for k, v in report.items() if v is not None)] == direct_report


def test_unity_gains_reconstruct_exactly(take: Take):
    # with no reduction anywhere, the blockwise STFT is exact (the output is the input)
    y, r = deess(take.audio, SR, DeEsser(max_reduction_db=0.0))
    np.testing.assert_array_equal(y, take.audio)


def test_blocks_join_seamlessly(take: Take, noisy: np.ndarray, sib_take: Take, monkeypatch):
    whole_n, _ = denoise(noisy, SR)
    whole_d, _ = deess(sib_take.audio, SR)
    monkeypatch.setattr("vocalmix.dsp.cleanup.BLOCK_FRAMES", 7)
    assert BLOCK_FRAMES != 7
    np.testing.assert_allclose(denoise(noisy, SR)[0], whole_n, atol=2e-6)
    np.testing.assert_allclose(deess(sib_take.audio, SR)[0], whole_d, atol=2e-6)


def test_stereo_shares_one_gain(take: Take, noisy: np.ndarray, sib_take: Take):
    # a panned source (right = half the left): equal gains keep the ratio exactly
    stereo = np.concatenate([noisy, 0.5 * noisy]).astype(np.float32)
    y, _ = denoise(stereo, SR)
    np.testing.assert_allclose(y[1], 0.5 * y[0], atol=1e-6)
    sib = np.concatenate([sib_take.audio, 0.5 * sib_take.audio]).astype(np.float32)
    y, _ = deess(sib, SR)
    np.testing.assert_allclose(y[1], 0.5 * y[0], atol=1e-6)
    # dual mono gives the mono result on each channel
    mono, _ = denoise(noisy, SR)
    dual, _ = denoise(np.concatenate([noisy, noisy]), SR)
    np.testing.assert_allclose(dual, np.concatenate([mono, mono]), atol=1e-6)


def test_stereo_image_holds(take: Take, rng):
    # a vocal panned left (right 6 dB down) with independent noise in each channel: the
    # notes keep their balance and both channels lose their noise in the rests
    x = np.concatenate([take.audio, 0.5 * take.audio])
    noisy = add_noise(Take(x, SR, take.notes), 20.0, rng)
    y, _ = denoise(noisy, SR)
    rests = take.rests()
    balance = [level_db(s[:1], take.notes) - level_db(s[1:], take.notes) for s in (x, y)]
    assert balance[1] == pytest.approx(balance[0], abs=0.1)
    for c in (0, 1):
        assert level_db(noisy[c:c + 1], rests) - level_db(y[c:c + 1], rests) >= 10.0


def test_memory_does_not_grow_with_the_take(rng):
    # 60 s of stereo noise (every block processed): beyond the output array, the blocks and
    # the bounded noise summary only (about 40 MB; the input is 20 MB)
    import tracemalloc

    x = (rng.standard_normal((2, 60 * SR)) * 0.01).astype(np.float32)
    tracemalloc.start()
    try:
        y, _ = apply_cleanup(x, SR, Cleanup(NoiseReduction(), DeEsser()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - y.nbytes < 64 * 2 ** 20


@pytest.mark.parametrize("shape", [(1, 0), (1, 10), (2, 100), (1, 2047)])
def test_tiny_inputs_pass_through(shape, rng):
    x = rng.standard_normal(shape).astype(np.float32) * 0.1
    cleanup = Cleanup(NoiseReduction(), DeEsser())
    y, r = apply_cleanup(x, SR, cleanup)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y, x)
    assert r["noise_reduction"]["applied"] is False
    assert "shorter than one STFT frame" in r["deesser"]["reason"]
    assert stft_size(SR) == 2048


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_silence_stays_silent(sample_rate, channels):
    x = np.zeros((channels, sample_rate), dtype=np.float32)
    y, r = apply_cleanup(x, sample_rate, Cleanup(NoiseReduction(), DeEsser()))
    assert y.dtype == np.float32 and y.shape == x.shape
    assert not np.isnan(y).any() and not y.any()
    assert r["noise_reduction"]["noise_floor_dbfs"] == -math.inf
    assert r["deesser"]["sibilant_frames"] == 0


def test_deterministic(noisy: np.ndarray, sib_take: Take):
    cleanup = Cleanup(NoiseReduction(), DeEsser())
    a = apply_cleanup(noisy + sib_take.audio, SR, cleanup)
    b = apply_cleanup(noisy + sib_take.audio, SR, cleanup)
    assert a[0].tobytes() == b[0].tobytes()
    assert a[1] == b[1]


def test_output_keeps_shape_and_dtype(noisy: np.ndarray):
    y, _ = apply_cleanup(noisy.astype(np.float64), SR, Cleanup(NoiseReduction(), DeEsser()))
    assert y.shape == noisy.shape and y.dtype == np.float32
    y, r = apply_cleanup(noisy, SR, Cleanup())
    np.testing.assert_array_equal(y, noisy)
    assert r == {"noise_reduction": None, "deesser": None}


# ------------------------------------------------------------------------------------------
# the recipe


def test_recipe_round_trip():
    import json

    c = Cleanup(NoiseReduction(max_reduction_db=18.0, smoothing_ms=80.0),
                DeEsser(frequency_hz=6000.0, threshold_db=-30.0))
    d = json.loads(json.dumps(c.to_dict()))
    assert d["noise_reduction"]["max_reduction_db"] == 18.0
    assert d["deesser"]["frequency_hz"] == 6000.0
    assert Cleanup.from_dict(d) == c
    assert Cleanup.from_dict({"noise_reduction": None, "deesser": None}) == Cleanup()
    assert Cleanup.from_dict({"deesser": {}}) == Cleanup(deesser=DeEsser())
    assert set(NOISE_RANGES) == set(NoiseReduction().to_dict())
    assert set(DEESSER_RANGES) == set(DeEsser().to_dict())


@pytest.mark.parametrize("d, words", [
    ({"noise_reduction": {"max_reduction_db": 80.0}}, ["max_reduction_db", "[0, 60]", "80"]),
    ({"noise_reduction": {"noise_percentile": 0.0}}, ["noise_percentile", "[1, 50]"]),
    ({"noise_reduction": {"smoothing_ms": float("nan")}}, ["smoothing_ms", "nan"]),
    ({"noise_reduction": {"max_reduction_db": "24"}}, ["max_reduction_db", "'24'"]),
    ({"noise_reduction": {"max_reduction_db": True}}, ["max_reduction_db"]),
    ({"deesser": {"frequency_hz": 500.0}}, ["frequency_hz", "[2000, 16000] Hz"]),
    ({"deesser": {"ratio": 0.5}}, ["ratio", "[1, 20]"]),
    ({"deesser": {"release_ms": -1.0}}, ["release_ms", "[0, 1000] ms"]),
    ({"deesser": {"threshold": -20.0}}, ["unknown de-esser", "threshold", "threshold_db"]),
    ({"noise_reduction": {"reduction_db": 6.0}}, ["unknown noise reduction", "reduction_db"]),
    ({"denoise": {}}, ["unknown cleanup key", "denoise"]),
    ({"deesser": 5.0}, ["de-esser", "object"]),
    ([], ["cleanup", "object"]),
])
def test_recipe_refuses_bad_values(d, words):
    with pytest.raises(ValueError) as err:
        Cleanup.from_dict(d)
    for w in words:
        assert w in str(err.value)


def test_bad_calls_are_refused(take: Take):
    with pytest.raises(ValueError, match="frequency_hz"):
        deess(take.audio[:, :16000], 8000, DeEsser(frequency_hz=5000.0))
    with pytest.raises(ValueError, match="sample_rate"):
        denoise(take.audio, 0)
    with pytest.raises(TypeError):
        denoise(take.audio.astype(np.int16), SR)
    with pytest.raises(ValueError, match="NaN"):
        denoise(np.full((1, 4096), np.nan, dtype=np.float32), SR)
    with pytest.raises(ValueError, match="noise_reduction"):
        Cleanup(noise_reduction=DeEsser())


def test_module_does_not_import_torch():
    import ast
    import inspect

    import vocalmix.dsp.cleanup as mod

    tree = ast.parse(inspect.getsource(mod))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom)}
    assert "torch" not in names and names <= {"__future__", "math", "dataclasses", "functools",
                                              "typing", "numpy", "scipy", "vocalmix"}
