"""The demo corpus generator: deterministic, sung, band-like, and true to its ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from vocalmix.corpus import demo
from vocalmix.corpus.demo_layout import genre_of, song_ids
from vocalmix.measure import loudness
from vocalmix.measure.pitch import hz_to_midi, track_pitch

SR = 44100
SEED = 7


@pytest.fixture(scope="module")
def songs():
    return {g: demo.generate_song(f"demo_{i:03d}", g, duration_s=10.0, sample_rate=SR, seed=SEED)
            for i, g in enumerate(demo.GENRES)}


def test_same_seed_same_bytes_other_song_differs(songs):
    audio, truth = demo.generate_song("demo_000", "pop", duration_s=10.0, sample_rate=SR, seed=SEED)
    ref_audio, ref_truth = songs["pop"]
    for k in ref_audio:
        assert audio[k].tobytes() == ref_audio[k].tobytes(), k
    assert truth == ref_truth
    other, _ = demo.generate_song("demo_001", "pop", duration_s=10.0, sample_rate=SR, seed=SEED)
    assert not np.array_equal(other["vocal"], ref_audio["vocal"])


def test_layout_and_levels(songs):
    for audio, truth in songs.values():
        n = int(10.0 * SR)
        assert audio["dry_vocal"].shape == (1, n) and audio["raw_vocal"].shape == (1, n)
        assert audio["vocal"].shape == (2, n) and audio["backing"].shape == (2, n)
        np.testing.assert_allclose(audio["mixture"], audio["vocal"] + audio["backing"], atol=1e-6)
        for k in ("vocal", "backing", "mixture", "dry_vocal", "raw_vocal"):
            assert loudness.sample_peak_dbfs(audio[k]) <= -1.0 + 1e-3, k


def _note_f0(track, note, lo=0.3, hi=0.85):
    t0 = note["onset_s"] + lo * note["duration_s"]
    t1 = note["onset_s"] + hi * note["duration_s"]
    sel = (track.times_s >= t0) & (track.times_s <= t1)
    return track.f0_hz[sel]


def test_dry_vocal_sings_the_notes_of_the_score(songs):
    """Median f0 in the middle of every note is the written note, within 35 cents."""
    for genre, (audio, truth) in songs.items():
        track = track_pitch(audio["dry_vocal"], SR)
        errors = []
        for note in truth["notes"]:
            if note["duration_s"] < 0.25:
                continue
            f0 = _note_f0(track, note)
            errors.append(np.median(hz_to_midi(f0)) * 100 - note["midi"] * 100)
        errors = np.abs(np.asarray(errors))
        assert len(errors) >= 3, genre
        assert np.median(errors) < 20 and np.percentile(errors, 90) < 35, (genre, errors)


def test_notes_use_the_key(songs):
    scales = {"major": {0, 2, 4, 5, 7, 9, 11}, "minor": {0, 2, 3, 5, 7, 8, 10}}
    names = demo.NOTE_NAMES
    for audio, truth in songs.values():
        tonic = names.index(truth["key"])
        pcs = {(int(n["midi"]) - tonic) % 12 for n in truth["notes"]}
        assert pcs <= scales[truth["mode"]]


def test_long_notes_have_vibrato(songs):
    depths, rates = [], []
    for audio, truth in songs.values():
        track = track_pitch(audio["dry_vocal"], SR)
        for note in truth["notes"]:
            if note["duration_s"] < 0.9:
                continue
            f0 = _note_f0(track, note, 0.55, 0.95)
            cents = 100 * (hz_to_midi(f0) - np.median(hz_to_midi(f0)))
            depths.append(np.std(cents))
            spec = np.abs(np.fft.rfft((cents - cents.mean()) * np.hanning(cents.size), 1024))
            freqs = np.fft.rfftfreq(1024, track.hop_s)
            band = (freqs > 2.0) & (freqs < 12.0)
            rates.append(freqs[band][np.argmax(spec[band])])
    assert depths, "no long notes"
    assert 8 < np.median(depths) < 45  # cents
    assert 4.0 < np.median(rates) < 8.0  # Hz


def test_phrases_are_separated_by_rests(songs):
    for audio, truth in songs.values():
        dry = audio["dry_vocal"][0]
        first = truth["notes"][0]["onset_s"]
        intro = dry[: int((first - 0.5) * SR)]
        assert intro.size > 0 and np.max(np.abs(intro)) < 1e-6  # silence before the breath
        phrases = {n["phrase"] for n in truth["notes"]}
        assert len(phrases) >= 1


def test_amateur_take_has_the_recorded_pitch_errors(songs):
    measured, recorded = [], []
    for audio, truth in songs.values():
        dry = track_pitch(audio["dry_vocal"], SR)
        raw = track_pitch(audio["raw_vocal"], SR)
        for note, err in zip(truth["notes"], truth["amateur"]["pitch_error_cents"]):
            if note["duration_s"] < 0.3:
                continue
            d = np.median(hz_to_midi(_note_f0(dry, note)))
            r = np.median(hz_to_midi(_note_f0(raw, note)))
            measured.append(100 * (r - d))
            recorded.append(err)
    measured, recorded = np.asarray(measured), np.asarray(recorded)
    assert np.median(np.abs(measured - recorded)) < 12  # cents
    assert np.corrcoef(measured, recorded)[0, 1] > 0.8


def test_amateur_take_is_band_limited_and_noisy(songs):
    for audio, truth in songs.values():
        am = truth["amateur"]
        raw, dry = audio["raw_vocal"][0].astype(np.float64), audio["dry_vocal"][0].astype(np.float64)

        def band_share(x, lo, hi):
            spec = np.abs(np.fft.rfft(x)) ** 2
            f = np.fft.rfftfreq(x.size, 1 / SR)
            return 10 * np.log10(spec[(f >= lo) & (f < hi)].sum() / spec[f > 200].sum())

        cut = am["mic_lowpass_hz"] * 1.6
        assert band_share(raw, cut, 16000) < band_share(dry, cut, 16000) - 12
        first = truth["notes"][0]["onset_s"]
        floor = raw[: int((first - 0.6) * SR)]
        active = raw[np.abs(raw) > 0.1 * np.max(np.abs(raw))]
        snr = 20 * np.log10(np.sqrt(np.mean(active**2)) / np.sqrt(np.mean(floor**2)))
        assert snr < am["noise_snr_db"] + 15  # audible noise floor, not digital silence
        assert np.sqrt(np.mean(floor**2)) > 1e-5


def test_recorded_targets_match_the_audio(songs):
    for audio, truth in songs.values():
        v = loudness.analyse(audio["vocal"], SR)
        b = loudness.integrated_loudness(audio["backing"], SR)
        t = truth["targets"]
        assert v.integrated_lufs - b == pytest.approx(t["vocal_to_backing_lu"], abs=0.01)
        assert v.loudness_range_lu == pytest.approx(t["vocal_lra_lu"], abs=0.01)
        # the chain hit its own target ratio (set before the master headroom gain)
        assert t["vocal_to_backing_lu"] == pytest.approx(
            truth["professional"]["target_vocal_to_backing_lu"], abs=0.05)


def test_room_response_has_the_recorded_drr_and_predelay(songs):
    for audio, truth in songs.values():
        ir = audio["room_ir"].astype(np.float64)
        room = truth["professional"]["room"]
        onset = int(round(room["predelay_ms"] / 1000 * SR))
        assert np.all(ir[:, 1:onset] == 0)
        direct = ir[:, 0] ** 2  # per channel
        reverberant = np.sum(ir[:, onset:] ** 2, axis=-1)
        np.testing.assert_allclose(10 * np.log10(direct / reverberant), room["drr_db"], atol=0.2)


def test_backing_has_the_genre_tempo(songs):
    for genre, (audio, truth) in songs.items():
        x = audio["backing"].mean(axis=0).astype(np.float64)
        hop = 441
        env = np.sqrt(np.add.reduceat(x**2, np.arange(0, x.size, hop)))
        flux = np.maximum(np.diff(np.log(env + 1e-6)), 0)
        flux -= flux.mean()
        ac = np.correlate(flux, flux, "full")[flux.size - 1:]
        # the groove repeats every bar at the recorded tempo, not 7 % faster or slower
        bar = 4 * 60.0 / truth["tempo_bpm"] / (hop / SR)
        at = ac[int(round(bar))]
        off = max(ac[int(round(bar * 0.93))], ac[int(round(bar * 1.07))])
        assert at > 1.5 * off, (genre, at, off)
        lo, hi = demo.GENRES[genre].tempo_bpm
        assert lo <= truth["tempo_bpm"] <= hi


def test_genres_are_dealt_round_robin():
    genres = ["pop", "rock", "hiphop", "ballad"]
    ids = song_ids(16)
    counts = {g: sum(genre_of(i, genres) == g for i in range(len(ids))) for g in genres}
    assert set(counts.values()) == {4}
    assert ids[0] == "demo_000" and ids[-1] == "demo_015"


def test_unknown_genre_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown demo genre 'polka'.*pop"):
        demo.generate_song("demo_000", "polka", duration_s=5, sample_rate=SR, seed=1)
