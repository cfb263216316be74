"""The fast paths of issue 20 against the reference computations they replace.

The loudness meter runs scipy's ``sosfilt`` kernel without importing ``scipy.signal`` and
reads 16/24-bit PCM as integers; the results must be the very same numbers.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from vocalmix.kernels import sosfilt_kernel
from vocalmix.measure import loudness as L


def _reference_hop_energy(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    from scipy import signal

    sos = L.k_weighting_sos(sample_rate)
    hop = L._grid(float(sample_rate)).hop
    total = 0.0
    for w, ch in zip(L.channel_weights(audio.shape[0]), audio):
        y = signal.sosfilt(sos, ch.astype(np.float64))
        whole = (y.size // hop) * hop
        total = total + w * np.square(y[:whole]).reshape(-1, hop).sum(axis=1)
    return total


def test_the_kernel_filters_exactly_as_scipy_signal_sosfilt():
    from scipy import signal

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 50_000))
    sos = L.k_weighting_sos(44100)
    y = x.copy()
    zi = np.zeros((2, sos.shape[0], 2))
    sosfilt_kernel()(sos, y, zi)
    assert np.array_equal(y, signal.sosfilt(sos, x, axis=-1))


def test_streamed_hop_energies_equal_the_whole_signal_filtered_at_once():
    rng = np.random.default_rng(1)
    sr = 44100
    x = (0.1 * rng.standard_normal((2, 25 * sr))).astype(np.float32)
    acc = L._PowerAccumulator(sr, 2)
    step = 3 * sr + 17  # not a whole number of hops: the remainder is carried
    for start in range(0, x.shape[1], step):
        acc.add(x[:, start:start + step])
    got = acc.hop_energy()
    want = _reference_hop_energy(x, sr)
    assert np.array_equal(got[: want.size], want)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_a_file_reads_the_same_numbers_as_the_array(tmp_path, subtype):
    from vocalmix.audio import read_audio

    rng = np.random.default_rng(2)
    sr = 48000
    x = np.clip(0.2 * rng.standard_normal((12 * sr, 2)), -1, 1)
    path = tmp_path / f"x_{subtype}.wav"
    sf.write(path, x, sr, subtype=subtype)
    audio, _ = read_audio(path)
    a = L.analyse(audio, sr)
    f = L.analyse_file(str(path), chunk_s=2.5)
    assert f.summary() == a.summary()
    assert np.array_equal(f.short_term_lufs, a.short_term_lufs)


def test_nan_in_a_file_is_still_reported(tmp_path):
    from vocalmix.audio import AudioError

    x = np.zeros((5 * 44100, 2), dtype=np.float32)
    x[100_000, 1] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        L.analyse_file(str(path), chunk_s=1.0)


def test_the_loudness_command_does_not_import_scipy_signal(tmp_path):
    path = tmp_path / "tone.wav"
    t = np.arange(44100 * 2) / 44100
    sf.write(path, 0.1 * np.sin(2 * np.pi * 1000 * t), 44100)
    code = ("import sys; from vocalmix.cli import main; main(['loudness', sys.argv[1]]); "
            "print('LOADED' if 'scipy.signal' in sys.modules else 'NOT LOADED')")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().endswith("NOT LOADED")


def test_the_mix_scales_the_vocal_branch_rendered_while_choosing():
    from vocalmix.dsp import chain
    from vocalmix.mixing.base import MixContext
    from vocalmix.mixing.registry import get_mixer
    from vocalmix.mixing.api import _genre_table

    rng = np.random.default_rng(3)
    sr = 22050
    n = 8 * sr
    t = np.arange(n) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 0.4 * t) ** 2
    vocal = (0.2 * env * np.sin(2 * np.pi * 220 * t * (1 + 0.01 * np.sin(2 * np.pi * 5 * t)))
             + 0.003 * rng.standard_normal(n)).astype(np.float32)[None, :]
    vocal[:, : sr // 2] = 0.0  # silence before the take: the stem is still the whole take's
    backing = (0.1 * rng.standard_normal((2, n))).astype(np.float32)
    context = MixContext(genre_stats=_genre_table(None))
    choice = get_mixer("rule_based").choose(vocal, backing, sr, context)
    assert choice.rendered is not None and choice.rendered.matches(vocal, choice.recipe.vocal)
    fast = choice.render(vocal, backing, sr)
    slow = chain.render(vocal, backing, sr, choice.recipe)
    assert np.max(np.abs(fast.vocal - slow.vocal)) < 1e-5
    lf = L.analyse(fast.vocal, sr).integrated_lufs - L.analyse(fast.backing, sr).integrated_lufs
    ls = L.analyse(slow.vocal, sr).integrated_lufs - L.analyse(slow.backing, sr).integrated_lufs
    assert abs(lf - ls) < 0.001
    # another vocal or an edited recipe is rendered afresh
    assert not choice.rendered.matches(vocal * 0.5, choice.recipe.vocal)


def test_the_coarse_pitch_track_gives_the_full_tracks_highpass_cutoff():
    from vocalmix.corpus.demo import generate_song
    from vocalmix.mixing.common import vocal_highpass_hz

    for seed, genre in ((3, "pop"), (4, "rock")):
        audio, _ = generate_song("hp", genre, duration_s=8.0, sample_rate=44100, seed=seed)
        take = audio["raw_vocal"]
        coarse = vocal_highpass_hz(take, 44100)
        full = vocal_highpass_hz(take, 44100, track_settings={})
        assert abs(coarse - full) < 1.0, (genre, coarse, full)


@pytest.mark.parametrize("kind", ["noise", "clipped", "sparse", "tiny"])
@pytest.mark.parametrize("sr", [44100, 96000])
def test_true_peak_equals_the_whole_signal_interpolation(kind, sr):
    """The block-pruned true-peak meter reads the peak of scipy's upfirdn over the whole
    signal (ends included) within float32 rounding."""
    from scipy import signal

    rng = np.random.default_rng(7)
    n = {"tiny": 5}.get(kind, 3 * sr)
    x = (0.3 * rng.standard_normal((2, n))).astype(np.float32)
    if kind == "clipped":
        x = np.clip(3 * x, -0.5, 0.5)
    if kind == "sparse":  # one loud click in quiet noise, and a full-scale last sample
        x *= 0.01
        x[0, n // 3] = 0.9
        x[1, -1] = -1.0
    factor = 4 if sr <= 48000 else 2
    h = L._true_peak_filter(factor)
    full = signal.upfirdn(h, x, up=factor, axis=-1)
    expected = 20 * np.log10(max(np.abs(full).max(), np.abs(x).max()))
    assert L.true_peak_dbtp(x, sr) == pytest.approx(expected, abs=1e-4)


def test_true_peak_of_long_channels_in_threads_is_the_largest_channels_exactly():
    """Long multichannel audio is metered one channel per thread; the reading is the very
    number of the loudest channel metered alone (and it is where the channels differ)."""
    rng = np.random.default_rng(11)
    n = L._TRUE_PEAK_PARALLEL_SAMPLES + 40000
    x = (0.05 * rng.standard_normal((2, n))).astype(np.float32)
    x[1, n // 2] = 0.95  # the right channel's click is the peak
    alone = [L.true_peak_dbtp(x[c:c + 1], 44100) for c in range(2)]
    assert alone[1] > alone[0]
    assert L.true_peak_dbtp(x, 44100) == max(alone)
    assert L.true_peak_dbtp(x[::-1].copy(), 44100) == max(alone)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize("tuned", [False, True])
def test_the_command_line_reuses_freed_song_sized_arrays(tuned):
    """With :func:`keep_freed_memory` (what ``vocalmix`` does first) a freed 100 MB array's
    pages are reused by the next one: touching it again faults almost no page in, where
    the default allocator unmaps and maps it again."""
    code = f"""
import resource, numpy as np
from vocalmix.cli import keep_freed_memory
applied = keep_freed_memory() if {tuned} else False
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(100 * 2**20 // 8)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    del a
print(applied, faults[-1])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    applied, faults = out[0] == "True", int(out[1])
    assert applied == tuned
    if tuned:
        assert faults < 100, faults  # the heap's pages, already there
    else:
        assert faults > 40, faults  # 100 MB of fresh pages (at least 2 MB each with THP)


@pytest.mark.parametrize("user", [None, "1"])
def test_the_command_line_gives_numpy_no_huge_page_advice(user):
    """``vocalmix`` imports numpy with NUMPY_MADVISE_HUGEPAGE=0 (vocalmix/hugepages.py),
    unless the user set it: then numpy keeps the user's choice."""
    code = """
import os, sys
import vocalmix.cli  # imports numpy after the call
import numpy
from numpy._core import multiarray
print(os.environ.get("NUMPY_MADVISE_HUGEPAGE"), multiarray._get_madvise_hugepage())
"""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if user is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = user
    setting, advised = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                      text=True, check=True, env=env).stdout.split()
    if user is None:
        assert (setting, advised) == ("0", "False")
    else:
        assert (setting, advised) == (user, "True")


def test_onset_strength_in_blocks_equals_all_frames_at_once():
    """The tempo's onset envelope computed block by block (bounded memory) is the one of the
    whole STFT at once, across block edges; short clips give an envelope too."""
    from scipy import fft

    from vocalmix.measure import tempo

    sr = 22050
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(sr * 15) * np.repeat(rng.uniform(0.1, 1, 150), sr // 10)
         ).astype(np.float32)
    hop, n_fft = int(round(tempo.HOP_S * sr)), 2048
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    assert frames.shape[0] > tempo.BLOCK_FRAMES
    spec = np.abs(fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    expected = np.zeros(spec.shape[0] - 1)
    for lo, hi, weight in ((40.0, 300.0, 2.0), (300.0, 8000.0, 1.0)):
        band = (freqs >= lo) & (freqs < hi)
        f = np.maximum(np.diff(np.log1p(1000.0 * spec[:, band]), axis=0), 0.0).sum(axis=1)
        expected += weight * (f - np.convolve(f, np.ones(51) / 51, mode="same"))
    np.testing.assert_allclose(tempo.onset_strength(x, sr), expected, rtol=0, atol=1e-9)
    assert tempo.onset_strength(x[: n_fft + 5 * hop], sr).shape == (5,)


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_octave_band_powers_equal_the_integrated_cumulative_spectrum(sr):
    """The rule-based mixer's octave-band powers (one matrix product per signal) are the
    integral of each frame's piecewise-linear cumulative power spectrum between the band
    edges, as computed bin by bin."""
    from vocalmix.measure.spectrum import frame_power
    from vocalmix.mixing import rule_based as rb

    x = np.random.default_rng(11).standard_normal((2, 3 * sr)).astype(np.float32)
    x[1] *= np.linspace(0.01, 1.0, x.shape[1], dtype=np.float32)
    freqs, power = frame_power(x, sr, n_fft=4096, hop=2048)
    edges = np.concatenate([[0.0], freqs + (freqs[1] - freqs[0]) / 2])
    lo = rb.OCTAVES_HZ / np.sqrt(2)
    hi = np.minimum(rb.OCTAVES_HZ * np.sqrt(2), sr / 2)
    expected = []
    for frame in power.astype(np.float64):
        cum = np.concatenate([[0.0], np.cumsum(frame)])
        expected.append(np.interp(hi, edges, cum) - np.interp(lo, edges, cum))
    bands, total = rb._band_frames(x, sr)
    np.testing.assert_allclose(10 * np.log10(bands), 10 * np.log10(np.maximum(expected, 1e-20)),
                               rtol=0, atol=1e-4)
    np.testing.assert_allclose(total, power.sum(axis=1))


def test_the_limiters_safety_gain_moves_the_reported_true_peak_by_itself():
    """An inter-sample peak the sample-peak limiter lets through (a quarter-rate tone at
    45 degrees) gets the static safety gain; the true peak reported after it (the peak
    before the gain, plus the gain) is what the meter reads on the output, under the
    ceiling."""
    from vocalmix.dsp.chain import bus_limit

    sr = 44100
    t = np.arange(2 * sr) / sr
    x = np.tile((1.5 * np.sin(2 * np.pi * sr / 4 * t + np.pi / 4)).astype(np.float32), (2, 1))
    out, info = bus_limit(x, sr, -1.0, 50.0)
    assert info["limited"] and info["safety_gain_db"] < 0
    assert info["true_peak_after_dbtp"] == pytest.approx(L.true_peak_dbtp(out, sr), abs=1e-3)
    assert info["true_peak_after_dbtp"] <= -1.0


def test_log_mel_in_blocks_equals_the_whole_transform():
    """The log-mel spectrogram computed in blocks of frames (bounded memory) is the one of
    all frames at once."""
    from scipy import fft

    from vocalmix.measure.mel import LogMel

    sr = 22050
    x = np.random.default_rng(2).standard_normal(sr * 60).astype(np.float32)
    mel = LogMel(sr)
    padded = np.pad(x, (0, mel.n_fft))
    frames = np.lib.stride_tricks.sliding_window_view(padded, mel.n_fft)[:: mel.hop]
    assert frames.shape[0] > LogMel.BLOCK_FRAMES
    spec = fft.rfft(frames * mel.window, axis=1)
    power = (spec.real ** 2 + spec.imag ** 2) / (mel.n_fft * float(np.sum(mel.window ** 2)))
    expected = 10.0 * np.log10(mel.fb @ power.T + 1e-10)
    np.testing.assert_allclose(mel(x), expected, rtol=0, atol=1e-4)


def test_the_mix_command_does_not_import_scipy_signal(tmp_path):
    """``vocalmix mix`` (without the genre classifier, whose features resample with
    scipy.signal) runs on vocalmix.kernels: ``import scipy.signal`` alone is 0.5-0.9 s."""
    sr = 22050
    t = np.arange(4 * sr) / sr
    rng = np.random.default_rng(4)
    vocal = 0.2 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    sf.write(tmp_path / "v.wav", vocal + 0.002 * rng.standard_normal(t.size), sr)
    sf.write(tmp_path / "b.wav", 0.05 * rng.standard_normal((t.size, 2)), sr)
    code = ("import sys; from vocalmix.cli import main; main(sys.argv[1:]); "
            "print('LOADED' if 'scipy.signal' in sys.modules else 'NOT LOADED')")
    out = subprocess.run([sys.executable, "-c", code, "mix", "--vocal", str(tmp_path / "v.wav"),
                          "--backing", str(tmp_path / "b.wav"), "-o", str(tmp_path / "m.wav"),
                          "--genre-model", "none"],
                         capture_output=True, text=True, check=True).stdout
    assert (tmp_path / "m.wav").exists()
    assert out.strip().endswith("NOT LOADED")


def test_tonal_eq_measures_a_pass_from_the_spectrum_as_filtering_would():
    """tonal_eq's passes read the filtered take's balance off the take's long-term spectrum
    times the filters' power response; filtering the audio gives the same bands within
    0.1 dB (the filters are linear; only the STFT frames' leakage differs)."""
    from vocalmix.dsp.effects import EQBand, apply_eq
    from vocalmix.measure.spectrum import long_term_spectrum, octave_shape_db
    from vocalmix.mixing.common import filtered_balance_db

    sr = 44100
    rng = np.random.default_rng(3)
    t = np.arange(6 * sr) / sr
    # a sung-like take: harmonics of a gliding f0 in syllables, plus some breath noise
    f0 = 220 * 2 ** (0.2 * np.sin(2 * np.pi * 0.3 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 30)) * (np.sin(2 * np.pi * 2 * t) > -0.3)
    x = (0.1 * x + 0.003 * rng.standard_normal(t.size))[None, :].astype(np.float32)
    bands = [EQBand("peak", 250.0, 9.0, 1.41), EQBand("peak", 500.0, -3.8, 1.41),
             EQBand("peak", 4000.0, 2.5, 1.41)]
    analytic = filtered_balance_db(long_term_spectrum(x, sr), bands, sr)
    filtered = octave_shape_db(long_term_spectrum(apply_eq(x, sr, bands), sr).bands_db)
    assert np.max(np.abs(analytic - filtered)) < 0.1


def test_the_mixers_decimated_mid_band_reads_the_same_drr():
    """match_drr's blind DRR from the band signal at about 11 kHz agrees with the full-rate
    estimate (the features stage's) within 0.25 dB on a reverberant sung phrase."""
    from vocalmix.dsp.reverb import ReverbSettings, reverb_return
    from vocalmix.measure.reverb_blind import estimate_from_band, mid_band, mid_band_decimated

    sr = 44100
    t = np.arange(8 * sr) / sr
    f0 = 262 * 2 ** (np.floor(t * 2) % 5 / 12)  # steps of a scale, two notes a second
    phase = 2 * np.pi * np.cumsum(f0) / sr
    gate = (np.sin(2 * np.pi * 1.0 * t) > 0.2).astype(float)  # phrases with rests
    dry = (0.2 * gate * sum(np.sin(k * phase) / k for k in range(1, 25)))[None, :]
    wet = dry + reverb_return(dry.astype(np.float32), sr,
                              ReverbSettings(room_size=0.8, wet_db=-8.0))[:, : dry.shape[1]]
    full = estimate_from_band(mid_band(wet, sr), sr)
    y, rate = mid_band_decimated(wet, sr)
    fast = estimate_from_band(y, rate)
    assert rate == sr / 4
    assert full.drr_db is not None and fast.drr_db is not None
    assert abs(fast.drr_db - full.drr_db) < 0.25


def test_the_mix_reuses_the_backing_rendered_through_its_masking_cuts():
    """The rule-based system filters the whole backing through its masking cuts while it
    chooses; the mix scales that render: the very samples of filtering the song again."""
    from vocalmix.dsp import chain
    from vocalmix.dsp.effects import EQBand
    from vocalmix.dsp.recipe import BackingRecipe, MixRecipe
    from vocalmix.mixing.base import MixChoice, RenderedBacking

    rng = np.random.default_rng(5)
    sr = 22050
    n = 4 * sr
    vocal = (0.1 * rng.standard_normal((1, n))).astype(np.float32)
    backing = (0.1 * rng.standard_normal((2, n))).astype(np.float32)
    cuts = BackingRecipe(eq=(EQBand("peak", 1000.0, -4.0, 1.41),))
    recipe = MixRecipe(system="rule_based", backing=cuts)
    rendered = RenderedBacking(backing, cuts,
                               chain.process_backing(backing, sr, recipe))
    fast = MixChoice(recipe, rendered_backing=rendered).render(vocal, backing, sr)
    slow = chain.render(vocal, backing, sr, recipe)
    assert np.array_equal(fast.backing, slow.backing)
    assert np.array_equal(fast.mix, slow.mix)
    # a gain scales the render as the chain's gain does
    louder = MixRecipe(system="rule_based", backing=BackingRecipe(eq=cuts.eq, gain_db=-2.5))
    assert rendered.matches(backing, louder.backing)
    assert np.array_equal(MixChoice(louder, rendered_backing=rendered).render(
        vocal, backing, sr).backing, chain.render(vocal, backing, sr, louder).backing)
    # another backing, or other cuts, are filtered afresh
    assert not rendered.matches(backing * 0.5, cuts)
    assert not rendered.matches(backing, BackingRecipe())
    assert rendered.matches(backing.copy(), cuts)


def test_the_rule_based_choice_carries_the_backing_it_filtered():
    from vocalmix.corpus.demo import generate_song
    from vocalmix.dsp import chain
    from vocalmix.mixing.base import MixContext
    from vocalmix.mixing.registry import get_mixer
    from vocalmix.mixing.api import _genre_table

    sr = 22050
    audio, _ = generate_song("cuts", "pop", duration_s=6.0, sample_rate=sr, seed=1)
    vocal, backing = audio["raw_vocal"], audio["backing"]
    # a quieter vocal target: the backing masks it, and the masking rule cuts the backing
    table = {k: dict(v) for k, v in _genre_table(None).items()}
    table["all"]["vocal_to_backing_lu"] = -3.0
    choice = get_mixer("rule_based").choose(vocal, backing, sr, MixContext(genre_stats=table))
    assert choice.recipe.backing.eq, "expected masking cuts on this backing"
    assert choice.rendered_backing is not None
    assert choice.rendered_backing.matches(backing, choice.recipe.backing)
    fast = choice.render(vocal, backing, sr)
    slow = chain.render(vocal, backing, sr, choice.recipe)
    assert np.array_equal(fast.backing, slow.backing)


@pytest.mark.parametrize("subtype,suffix,clip", [("PCM_24", ".wav", "clip"),
                                                  ("PCM_16", ".wav", "none"),
                                                  ("FLOAT", ".wav", "none"),
                                                  ("PCM_24", ".flac", "clip")])
def test_write_audio_in_blocks_writes_the_bytes_of_one_call(tmp_path, subtype, suffix, clip):
    """write_audio hands libsndfile blocks of the (channels, samples) array (no transposed
    or clipped copy of the song): the file is, byte for byte, that of one ``sf.write`` of
    the transposed (and clipped) array."""
    from vocalmix import audio as A

    rng = np.random.default_rng(8)
    n = 3 * A._WRITE_BLOCK + 12_345  # several blocks and a partial one
    x = (0.4 * rng.standard_normal((2, n))).astype(np.float32)
    x[0, 7] = 1.7  # over full scale: clipped for an integer subtype
    if subtype == "PCM_16":
        x = np.clip(x, -1.0, 1.0)
    A.write_audio(tmp_path / f"fast{suffix}", x, 44100, subtype=subtype, clip=clip)
    fmt = "FLAC" if suffix == ".flac" else "WAV"
    y = np.clip(x, -1.0, 1.0) if subtype != "FLOAT" else x
    sf.write(tmp_path / f"slow{suffix}", y.T, 44100, subtype=subtype, format=fmt)
    if fmt == "WAV":
        A._zero_peak_timestamp(tmp_path / f"slow{suffix}")
    assert (tmp_path / f"fast{suffix}").read_bytes() == (tmp_path / f"slow{suffix}").read_bytes()


def test_validation_by_extremes_still_refuses_nan_and_infinity():
    from vocalmix.audio import AudioError, validate_audio

    for bad in (np.nan, np.inf, -np.inf):
        x = np.zeros((2, 1000), dtype=np.float32)
        x[1, 500] = bad
        with pytest.raises(AudioError, match="NaN or infinite"):
            validate_audio(x)
    assert validate_audio(np.zeros((1, 0), dtype=np.float64)).dtype == np.float32


def _phone_take(sr: int, seconds: float, sibilants: bool, seed: int = 9) -> np.ndarray:
    """Sung vowels over hiss, with (or without) "s" bursts of high-passed noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    phase = 2 * np.pi * np.cumsum(200 * 2 ** (0.1 * np.sin(2 * np.pi * 0.2 * t))) / sr
    gate = (np.sin(2 * np.pi * 0.7 * t) > -0.2).astype(float)
    x = 0.15 * gate * sum(np.sin(k * phase) / k for k in range(1, 20))
    if sibilants:
        spec = np.fft.rfft(rng.standard_normal(n))
        spec[np.fft.rfftfreq(n, 1 / sr) < 5500] = 0
        s = np.fft.irfft(spec, n)
        x += 0.5 * s / s.std() * ((t % 1.3) < 0.12)
    x += 0.003 * rng.standard_normal(n)
    return x[None, :].astype(np.float32)


def test_the_noise_estimate_smooths_only_the_frames_it_keeps():
    """The noise spectrum is the percentile over every ``stride``-th smoothed frame; those
    frames alone are smoothed now, the same numbers as smoothing every frame."""
    from vocalmix.dsp import cleanup as C

    sr = 16000
    x = _phone_take(sr, 60.0, sibilants=False)  # > MAX_NOISE_FRAMES frames: subsampled
    stft = C._Stft(sr, x.shape[1])
    settings = C.NoiseReduction()
    kernel = C._time_kernel(settings.smoothing_ms, stft.hop_s)
    half = len(kernel) // 2
    stride = max(1, -(-stft.n_frames // C.MAX_NOISE_FRAMES))
    assert stride > 1
    kept = []
    for f0, f1 in stft.blocks():
        sel = np.arange(-(-f0 // stride) * stride, f1, stride) - f0
        c0, c1 = C._context(stft, f0, f1, half)
        spec = stft.spectra(x, c0, c1)
        kept.append(C._smoothed(spec.real ** 2 + spec.imag ** 2, c0, f0, f1, c1, kernel)[:, sel])
    summary = np.concatenate(kept, axis=1)
    low = np.percentile(summary, settings.noise_percentile, axis=1).astype(np.float64)
    ratio = C._percentile_to_mean(stft.n_fft, stft.hop, tuple(float(k) for k in kernel),
                                  float(settings.noise_percentile))
    assert np.array_equal(C._noise_psd(x, stft, settings, kernel), low.mean(axis=0) / ratio)


def _cleanup_in_one_synthesis(x: np.ndarray, sr: int, cleanup) -> tuple[np.ndarray, dict]:
    """The clean-up as it was: the detector's pass, then one synthesis of both gains
    (output, reports)."""
    from vocalmix.dsp import cleanup as C

    stft = C._Stft(sr, x.shape[1])
    den = C._Denoiser(x, stft, cleanup.noise_reduction)

    def denoised_power(f0, f1):
        _, gain, power = den.block(f0, f1, tally=True)
        return power if gain is None else gain ** 2 * power

    plan = C._DeEsserPlan(stft, cleanup.deesser, denoised_power)

    def both(f0, f1):
        g_de = plan.gain(f0, f1)
        spec, g_nr, _ = den.block(f0, f1, tally=False)
        if g_nr is None:
            return None if g_de is None else (spec, g_de)
        return spec, g_nr if g_de is None else g_nr * g_de

    y = C._synthesise(x, stft, both)
    return y, {"noise_reduction": den.report(), "deesser": plan.report()}


@pytest.mark.parametrize("sibilants", [False, True])
@pytest.mark.parametrize("channels", [1, 2])
def test_the_cleanup_subtracts_the_noise_reduction_while_the_de_esser_listens(sibilants,
                                                                              channels):
    """Noise reduction and de-esser in two passes (the de-esser's part afterwards, on the
    blocks it reduces) equal the single synthesis of both gains: the very samples where the
    de-esser reduces nothing, within float32 rounding (1e-6 of full scale) where it does."""
    from vocalmix.dsp.cleanup import apply_cleanup
    from vocalmix.mixing.common import PHONE_TAKE_CLEANUP

    sr = 44100
    x = _phone_take(sr, 20.0, sibilants)
    if channels == 2:
        x = np.concatenate([x, 0.8 * x], axis=0)
    y, report = apply_cleanup(x, sr, PHONE_TAKE_CLEANUP)
    want, want_report = _cleanup_in_one_synthesis(x, sr, PHONE_TAKE_CLEANUP)
    assert report == want_report
    assert (report["deesser"]["sibilant_frames"] > 0) == sibilants
    if sibilants:
        assert np.max(np.abs(y - want)) < 1e-6
        assert not np.array_equal(y, x)
    else:
        assert np.array_equal(y, want)


@pytest.mark.parametrize("channels,subtype", [(2, "PCM_24"), (1, "PCM_16"), (2, "FLOAT")])
def test_read_audio_through_a_small_buffer_reads_what_libsndfile_gives(tmp_path, channels,
                                                                        subtype):
    """read_audio fills the (channels, samples) array block by block: the samples of one
    ``sf.read`` of the whole file, transposed; blocks and a NaN count are as before."""
    from vocalmix import audio as A

    rng = np.random.default_rng(10)
    n = 2 * A._READ_BLOCK + 999
    x = np.clip(0.3 * rng.standard_normal((n, channels)), -1, 1)
    sf.write(tmp_path / "x.wav", x, 44100, subtype=subtype)
    want = sf.read(tmp_path / "x.wav", dtype="float32", always_2d=True)[0].T
    got, sr = A.read_audio(tmp_path / "x.wav")
    assert sr == 44100 and got.flags.c_contiguous and np.array_equal(got, want)
    with A.open_audio(tmp_path / "x.wav") as stream:
        parts = list(stream.blocks(A._READ_BLOCK // 3 + 7))
    assert np.array_equal(np.concatenate(parts, axis=1), want)
    if subtype == "FLOAT":
        x[[5, n - 3], 0] = np.nan
        x[A._READ_BLOCK + 1, -1] = np.inf
        sf.write(tmp_path / "bad.wav", x, 44100, subtype=subtype)
        with pytest.raises(A.AudioError, match="contains 3 NaN or infinite samples"):
            A.read_audio(tmp_path / "bad.wav")
        assert np.isnan(A.read_audio(tmp_path / "bad.wav", check_finite=False)[0][0, 5])


def test_a_neutral_backing_branch_is_the_backing_itself():
    """No EQ at 0 dB: the backing stem is the backing (no song-sized copy), the samples a
    gain of 1.0 gives; any gain or EQ is a new array."""
    from vocalmix.dsp import chain
    from vocalmix.dsp.effects import EQBand
    from vocalmix.dsp.recipe import BackingRecipe, MixRecipe

    rng = np.random.default_rng(11)
    backing = (0.2 * rng.standard_normal((2, 20_000))).astype(np.float32)
    assert chain.process_backing(backing, 44100, MixRecipe(system="x")) is backing
    louder = chain.process_backing(backing, 44100,
                                   MixRecipe(system="x", backing=BackingRecipe(gain_db=1.5)))
    assert louder is not backing and np.array_equal(louder, backing * np.float32(10 ** 0.075))
    cut = MixRecipe(system="x", backing=BackingRecipe(eq=(EQBand("peak", 500.0, -3.0, 1.0),)))
    assert chain.process_backing(backing, 44100, cut) is not backing
    mono = backing[:1]
    assert np.array_equal(chain.process_backing(mono, 44100, MixRecipe(system="x")),
                          np.repeat(mono, 2, axis=0))
    # the mix's backing stem is its own array, not the caller's backing
    vocal = (0.1 * rng.standard_normal((1, 20_000))).astype(np.float32)
    res = chain.render(vocal, backing, 44100, MixRecipe(system="x"))
    assert res.backing is not backing and np.array_equal(res.backing, backing)


def test_the_models_side_by_side_predict_what_each_alone_predicts():
    """The data-driven system runs its task models in threads with one torch thread each:
    the same numbers as each model alone with torch's default threads, whose count is
    restored."""
    torch = pytest.importorskip("torch")
    from vocalmix.mixing.data_driven import _forward
    from vocalmix.models.nets import MixNet, Predictor

    def predictor(seed: int, outputs: int) -> Predictor:
        torch.manual_seed(seed)
        net = MixNet(outputs, n_mels=64, channels=(16, 32, 64), hidden=32).eval()
        meta = {"targets": [f"t{k}" for k in range(outputs)],
                "input": {"channels": ["vocal", "backing"]},
                "input_mean": [0.1, -0.2], "input_std": [1.5, 2.0],
                "target_mean": [0.0] * outputs, "target_std": [1.0] * outputs}
        return Predictor(net, meta)

    models = {"level": predictor(0, 1), "eq": predictor(1, 31), "compression": predictor(2, 1),
              "reverb": predictor(3, 4)}
    windows = np.random.default_rng(12).standard_normal((70, 2, 64, 129)).astype(np.float32)
    threads = torch.get_num_threads()
    alone = {task: model(windows) for task, model in models.items()}
    together = _forward(models, windows)
    assert torch.get_num_threads() == threads
    for task in models:
        assert np.array_equal(together[task], alone[task]), task
    torch.set_num_threads(1)
    try:
        assert all(np.array_equal(models[t](windows), alone[t]) for t in models)
    finally:
        torch.set_num_threads(threads)


def test_the_mix_command_runs_blas_on_one_thread_unless_told(monkeypatch):
    """``vocalmix mix`` limits numpy's BLAS to one thread for the mix (restored after),
    unless the user set a thread count in the environment."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from vocalmix.cli.mix import one_blas_thread

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl knows")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            monkeypatch.delenv(var, raising=False)
        with one_blas_thread():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
        with one_blas_thread():
            assert set(blas_threads()) == {2}


def test_the_tabulated_noise_percentile_ratios_are_the_drawn_ones():
    """The clean-up's percentile-to-mean ratios at the default settings are tabulated: each
    is what the 2 ** 17 draws give (to the last bits on BLAS libraries that round the
    eigenvalues differently), and the default settings at the usual rates find them."""
    from vocalmix.dsp import cleanup as C

    for (n_fft, hop, kernel, percentile), ratio in C._KNOWN_RATIOS.items():
        drawn = C._percentile_to_mean_drawn(n_fft, hop, kernel, percentile)
        assert ratio == pytest.approx(drawn, rel=1e-12, abs=0)
    settings = C.NoiseReduction()
    for sr in (16000, 22050, 44100, 48000, 96000):
        stft = C._Stft(sr, sr)
        kernel = tuple(float(k) for k in C._time_kernel(settings.smoothing_ms, stft.hop_s))
        assert (stft.n_fft, stft.hop, kernel, settings.noise_percentile) in C._KNOWN_RATIOS


def test_the_model_windows_analyse_each_signal_once_with_the_same_numbers():
    """The data-driven system's windows normalise each signal by the loudness analysis it
    then reuses (the vocal's silent windows, the backing's level): the windows, silent
    flags and analyses are those of separate calls, as before."""
    from vocalmix.features.extract import WindowSettings
    from vocalmix.mixing.data_driven import _model_windows
    from vocalmix.models.dataset import normalise_level, window_frames
    from vocalmix.measure.mel import LogMel

    sr = 22050
    rng = np.random.default_rng(13)
    t = np.arange(12 * sr) / sr
    vocal = (0.2 * np.sin(2 * np.pi * 220 * t) * ((t < 4) | (t > 9)))[None, :]  # rests 4-9 s
    vocal = (vocal + 0.001 * rng.standard_normal(vocal.shape)).astype(np.float32)
    backing = (0.1 * rng.standard_normal((2, t.size))).astype(np.float32)
    spec = {"sample_rate": sr, "n_fft": 1024, "hop": 512, "n_mels": 32, "window_s": 3.0}
    win = WindowSettings(window_s=3.0, hop_s=1.0)
    windows, starts, silent, res_v, res_b = _model_windows(vocal, backing, sr, spec, win)
    assert np.array_equal(normalise_level(backing, sr, lufs=res_b.integrated_lufs),
                          normalise_level(backing, sr))
    assert res_b.summary() == L.analyse(backing, sr).summary()
    assert res_v.summary() == L.analyse(vocal, sr).summary()
    mel = LogMel(sr, 1024, 512, 32)
    v = mel(normalise_level(vocal, sr).mean(axis=0))
    b = mel(normalise_level(backing, sr).mean(axis=0))
    first, frames = window_frames(list(starts), 3.0, mel)
    assert np.array_equal(windows[1], np.stack([v[:, first[1]: first[1] + frames],
                                                b[:, first[1]: first[1] + frames]]))
    assert silent.any() and not silent.all()
    assert np.array_equal(normalise_level(vocal, sr, lufs=-np.inf), vocal)


def test_window_gain_on_the_callers_analyses_is_the_same():
    """The data-driven gain reuses the wet vocal's and the backing's loudness analyses the
    system already made: the same gain and figures as analysing them again."""
    from vocalmix.features.extract import WindowSettings
    from vocalmix.mixing.data_driven import window_gain

    sr = 22050
    rng = np.random.default_rng(14)
    t = np.arange(10 * sr) / sr
    v = np.stack([0.2 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 0.4 * t) > -0.5)] * 2)
    v = (v + 0.001 * rng.standard_normal(v.shape)).astype(np.float32)
    b = (0.1 * rng.standard_normal((2, t.size))).astype(np.float32)
    win = WindowSettings(window_s=3.0, hop_s=1.0)
    starts = np.arange(0.0, 7.5, 1.0)
    pred = np.linspace(-2.0, 2.0, starts.size)
    again = window_gain(v, b, sr, pred, starts, win)
    reused = window_gain(v, b, sr, pred, starts, win, vocal_meter=L.analyse(v, sr),
                         backing_meter=L.analyse(b, sr))
    assert reused == again


def test_crest_factor_in_blocks_equals_the_whole_array_computation():
    """The rule-based reverb's crest factor, computed over blocks, equals the whole-array
    formula (peak over the RMS of the samples above -80 dB of the peak) within 1e-9 dB, on a
    take longer than several blocks with rests, and on stereo and silent input."""
    from vocalmix.mixing.rule_based import CREST_BLOCK, crest_factor_db

    def whole(audio):
        a = np.abs(np.asarray(audio, dtype=np.float64))
        peak = a.max()
        kept = a[a > 1e-4 * peak]
        return 20 * np.log10(peak / np.sqrt(np.mean(kept ** 2)))

    rng = np.random.default_rng(7)
    n = 3 * CREST_BLOCK + 12345
    take = (rng.standard_normal(n) * np.repeat(rng.uniform(0, 1, n // 1000 + 1), 1000)[:n])
    take[: CREST_BLOCK // 2] = 0.0  # a rest across a block boundary
    take = (0.3 * take / np.abs(take).max()).astype(np.float32)[None, :]
    assert crest_factor_db(take) == pytest.approx(whole(take), abs=1e-9)
    stereo = np.vstack([take[0], -0.5 * take[0]])
    assert crest_factor_db(stereo) == pytest.approx(whole(stereo), abs=1e-9)
    assert crest_factor_db(np.zeros((1, 1000), np.float32)) == 0.0
