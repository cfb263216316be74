"""The streamed feature extraction (issue 19: memory flat in song length) gives the figures
of the whole-array algorithm it replaced: ``extract_track`` reads each file in blocks; the
reference below is the previous ``extract_track``, which read every role whole."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vocalmix.audio import AudioError, read_audio, write_audio
from vocalmix.features import extract
from vocalmix.features.blind_levels import level_curves_file
from vocalmix.features.extract import (FeatureSettings, ReverbFitSettings, extract_track,
                                       reverb_features, signal_features, window_table)
from vocalmix.measure import spectrum
from vocalmix.measure.reverb_blind import level_curve

SR = 44100


def _whole_array_extract(paths, sample_rate, settings, *, room_ir=None, seed=0):
    """The previous ``extract_track``: every role read whole, per-frame spectra kept."""
    audio = {role: read_audio(path)[0] for role, path in paths.items()}
    feats = {"sample_rate": sample_rate, "bands_hz": spectrum.THIRD_OCTAVE_HZ,
             "bands_nominal_hz": spectrum.NOMINAL_HZ}
    results, frames, power = {}, {}, {}
    freqs = None
    for role, x in audio.items():
        feats[role], results[role], frames[role], f, power[role] = signal_features(
            x, sample_rate, gate_lu=settings.gate_lu, name=paths[role],
            spectra=role != "mixture")
        freqs = f if f is not None else freqs
    feats["duration_s"] = audio["backing"].shape[1] / sample_rate
    lead = "vocal" if "vocal" in audio else "raw_vocal"
    backing_power = power["backing"]
    for role in ("vocal", "raw_vocal"):
        if role not in audio:
            continue
        feats[f"{role}_to_backing_lu"] = (results[role].integrated_lufs
                                          - results["backing"].integrated_lufs)
        mask = frames[role][: backing_power.shape[0]]
        bpsd = (backing_power[mask].mean(axis=0, dtype=np.float64) if mask.any()
                else np.zeros(backing_power.shape[1]))
        bb = spectrum.band_levels_db(freqs, bpsd, sample_rate=sample_rate)
        feats[role]["eq_minus_backing_db"] = feats[role]["eq_db"] - bb
    windows = window_table(results[lead], results["backing"], results["mixture"],
                           window_s=settings.window_s, hop_s=settings.hop_s,
                           gate_lu=settings.gate_lu,
                           min_active_fraction=settings.min_active_fraction)
    feats["lead"] = lead
    feats["reverb"] = reverb_features(audio.get("vocal"), sample_rate, room_ir=room_ir,
                                      seed=seed, settings=settings.reverb)
    feats["windows"] = {"count": len(windows), "silent": sum(w["silent"] for w in windows),
                        "window_s": settings.window_s, "hop_s": settings.hop_s}
    return feats, windows


def _assert_same(a, b, path="features"):
    """Equal structure; numbers equal to the last bit (NaN equal to NaN)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)) or isinstance(a, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, path
        if a.dtype.kind in "fc":
            np.testing.assert_array_equal(a, b, err_msg=path)
        else:
            assert a.tolist() == b.tolist(), path
    elif isinstance(a, float) or isinstance(b, float):
        assert (a == b) or (a is not None and b is not None and math.isnan(a)
                            and math.isnan(b)), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def demo_song(tmp_path_factory):
    """A 60-s demo song (three read blocks, the last partial) as the pipeline stores it:
    16-bit stems, 24-bit FLAC backing, float raw take; and its room response."""
    from vocalmix.corpus.demo import generate_song

    audio, _ = generate_song("demo_stream", "pop", duration_s=60.0, sample_rate=SR, seed=3)
    d = tmp_path_factory.mktemp("stream")
    paths = {"vocal": d / "vocal.wav", "backing": d / "backing.flac",
             "mixture": d / "mixture.wav", "raw_vocal": d / "raw_vocal.wav"}
    write_audio(paths["vocal"], audio["vocal"], SR, subtype="PCM_16", clip="clip")
    write_audio(paths["backing"], audio["backing"], SR, subtype="PCM_24", clip="clip")
    write_audio(paths["mixture"], audio["mixture"], SR, subtype="PCM_16", clip="clip")
    write_audio(paths["raw_vocal"], audio["raw_vocal"], SR)
    write_audio(d / "room_ir.wav", audio["room_ir"], SR)
    assert audio["vocal"].shape[1] > 2 * extract.BLOCK
    return {k: str(v) for k, v in paths.items()}, str(d / "room_ir.wav")


def test_streamed_extraction_equals_the_whole_array_algorithm(demo_song):
    """Every figure (loudness, LRA, peaks, active RMS and crest, EQ curves absolute, shaped
    and relative to the backing over the voice's frames, per-window relative loudness, the
    blind reverb estimate and the fit made from it) to the last bit."""
    paths, _ = demo_song
    settings = FeatureSettings()
    got = extract_track(paths, SR, settings, seed=7)
    want = _whole_array_extract(paths, SR, settings, seed=7)
    _assert_same(got[0], want[0])
    _assert_same(got[1], want[1], "windows")
    # the comparison is not empty: the song has a voice, a blind reverb fit and windows
    rv = got[0]["reverb"]
    assert rv["blind_estimate"]["decays"] > 0
    assert set(rv["target"]["t60_method"].values()) == {"blind"}
    assert set(rv["target"]["t60_s"].values()) == {rv["blind_estimate"]["t60_mid_s"]}
    assert np.isfinite(got[0]["vocal_to_backing_lu"])
    assert len(got[1]) == 58 and got[0]["windows"]["silent"] < 58


def test_streamed_extraction_with_the_room_response_and_no_processed_vocal(demo_song):
    """The raw take as the lead (no wet vocal: no blind estimate), the known room fitted."""
    paths, room_ir = demo_song
    paths = {k: v for k, v in paths.items() if k != "vocal"}
    settings = FeatureSettings(reverb=ReverbFitSettings(enabled=True, max_evaluations=16,
                                                        population=4))
    got = extract_track(paths, SR, settings, room_ir=room_ir, seed=2)
    want = _whole_array_extract(paths, SR, settings, room_ir=room_ir, seed=2)
    _assert_same(got[0], want[0])
    _assert_same(got[1], want[1], "windows")
    rv = got[0]["reverb"]
    assert got[0]["lead"] == "raw_vocal" and "blind_estimate" not in rv
    assert "blind" not in set(rv["target"]["t60_method"].values())


def test_short_song_at_a_low_rate_is_one_zero_padded_frame(tmp_path, rng):
    """At 8 kHz a 0.6-s song (enough for the meter) is shorter than one 8192-sample spectrum
    frame: one zero-padded frame, as in the whole-array spectrum."""
    sr = 8000
    n = int(0.6 * sr)
    t = np.arange(n) / sr
    vocal = (0.1 * np.sin(2 * np.pi * 440 * t))[None, :].astype(np.float32)
    backing = (0.05 * rng.standard_normal((2, n))).astype(np.float32)
    paths = {}
    for role, x in (("vocal", vocal), ("backing", backing), ("mixture", vocal + backing)):
        paths[role] = str(tmp_path / f"{role}.wav")
        write_audio(paths[role], x, sr)
    settings = FeatureSettings(reverb=ReverbFitSettings(enabled=False, max_evaluations=16,
                                                        population=4))
    got = extract_track(paths, sr, settings)
    want = _whole_array_extract(paths, sr, settings)
    _assert_same(got[0], want[0])
    # the tone's third-octave band (400-500 Hz edges around 440 Hz) leads the vocal's curve
    bands = np.asarray(got[0]["bands_hz"])
    assert abs(bands[int(np.nanargmax(got[0]["vocal"]["eq_db"]))] - 440.0) < 60.0


@pytest.mark.parametrize("seconds", [0.5, 50.0])
def test_streamed_level_curves_equal_the_zero_phase_filtered_ones(tmp_path, rng, seconds):
    """The blind estimate's 50 ms and 10 ms mid-band level curves (dB), streamed in blocks
    (here of 2**16 samples, many of them) or read whole (a file of one block): equal to
    :func:`level_curve` of the whole signal to the last bit."""
    n = int(seconds * SR)
    x = np.zeros((2, n), dtype=np.float32)
    # noise bursts with decaying tails and silent gaps: the cumulative sum crosses many
    # blocks with energies of very different sizes
    for start in range(0, n, SR):
        m = min(SR // 2, n - start)
        x[:, start:start + m] = (0.2 * rng.standard_normal((2, m))
                                 * np.exp(-np.arange(m) / 4000.0)).astype(np.float32)
    path = str(tmp_path / "vocal.wav")
    write_audio(path, x, SR, subtype="PCM_16")
    audio, _ = read_audio(path)
    got = level_curves_file(path, SR, (0.05, 0.01), block=1 << 16)
    for w, curve in zip((0.05, 0.01), got):
        np.testing.assert_array_equal(curve, level_curve(audio, SR, window_s=w))


def test_streamed_extraction_names_a_file_with_the_wrong_rate(demo_song, tmp_path):
    paths, _ = demo_song
    bad = str(tmp_path / "mixture.wav")
    write_audio(bad, np.zeros((2, SR), dtype=np.float32), 48000)
    with pytest.raises(AudioError, match=r"mixture\.wav: sample rate 48000 Hz, expected 44100"):
        extract_track({**paths, "mixture": bad}, SR, FeatureSettings())
