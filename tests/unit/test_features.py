"""Feature extraction: third-octave EQ curves, relative loudness with silence, genre stats."""

from __future__ import annotations

import numpy as np
import pytest

from vocalmix.measure import spectrum
from vocalmix.features.extract import FeatureSettings, extract_track
from vocalmix.measure.loudness import integrated_loudness
from vocalmix.features.summary import OVERALL, genre_stats, read_genre_stats
from vocalmix.tables import write_tsv
from vocalmix.audio import AudioError, write_audio

SR = 44100


def test_sine_lands_in_its_band_at_the_right_level():
    t = np.arange(10 * SR) / SR
    x = np.sin(2 * np.pi * 1000.0 * t)[None, :]
    s = spectrum.long_term_spectrum(x, SR)
    k = int(np.argmin(np.abs(spectrum.THIRD_OCTAVE_HZ - 1000)))
    assert s.bands_db[k] == pytest.approx(-3.01, abs=0.05)  # full-scale sine: mean square 1/2
    others = np.delete(s.bands_db, k)
    assert np.nanmax(others) < -30


def test_pink_noise_is_flat_and_white_noise_rises_3db_per_octave(rng):
    from scipy import signal

    white = rng.standard_normal((1, 30 * SR)) * 0.1
    pink = signal.lfilter([0.049922, -0.095993, 0.050612, -0.004408],
                          [1, -2.494956, 2.017265, -0.522189], white)
    sel = (spectrum.THIRD_OCTAVE_HZ > 100) & (spectrum.THIRD_OCTAVE_HZ < 10000)
    pink_db = spectrum.long_term_spectrum(pink, SR).bands_db[sel]
    assert np.ptp(pink_db) < 2.0
    white_db = spectrum.long_term_spectrum(white, SR).bands_db[sel]
    slope = np.polyfit(np.log2(spectrum.THIRD_OCTAVE_HZ[sel]), white_db, 1)[0]
    assert slope == pytest.approx(3.01, abs=0.15)  # dB per octave


def test_bands_above_nyquist_are_undefined():
    x = np.random.default_rng(1).standard_normal((1, 16000 * 5))
    bands = spectrum.long_term_spectrum(x, 16000).bands_db
    assert np.all(np.isnan(bands[spectrum.THIRD_OCTAVE_HZ * 2 ** (1 / 6) > 8000]))
    assert np.all(np.isfinite(bands[spectrum.THIRD_OCTAVE_HZ * 2 ** (1 / 6) <= 8000]))


def test_shape_removes_gain():
    x = np.random.default_rng(2).standard_normal((1, 5 * SR))
    a = spectrum.long_term_spectrum(x, SR)
    b = spectrum.long_term_spectrum(x * 0.1, SR)
    np.testing.assert_allclose(a.shape_db, b.shape_db, atol=1e-6, equal_nan=True)
    finite = np.isfinite(a.bands_db)
    np.testing.assert_allclose(a.bands_db[finite] - b.bands_db[finite], 20.0, atol=1e-6)


@pytest.fixture()
def synthetic_track(tmp_path, rng):
    """Vocal: 1 kHz tone in 4-s bursts at a known level, silent between; backing: noise."""
    n = 24 * SR
    t = np.arange(n) / SR
    on = ((t % 8.0) >= 2.0) & ((t % 8.0) < 6.0)  # sings 2-6 s, 10-14 s, 18-22 s
    vocal = (0.1 * np.sin(2 * np.pi * 1000 * t) * on)[None, :]
    backing = np.tile(0.05 * rng.standard_normal(n), (2, 1))
    raw = vocal * 0.5 + 0.001 * rng.standard_normal((1, n))
    mix = vocal + backing
    paths = {}
    for role, x in (("vocal", vocal), ("backing", backing), ("mixture", mix), ("raw_vocal", raw)):
        paths[role] = str(tmp_path / f"{role}.wav")
        write_audio(paths[role], x.astype(np.float32), SR)
    return paths, vocal, backing, on


def test_relative_loudness_ignores_vocal_silence(synthetic_track):
    paths, vocal, backing, on = synthetic_track
    feats, windows = extract_track(paths, SR, FeatureSettings())
    import pyloudnorm

    # integrated: each signal gated on its own, so the vocal's rests do not count (BS.1770
    # gating; cross-checked with pyloudnorm), and the rests really are excluded: the ratio
    # is within a fraction of a LU of the sung parts alone
    meter = pyloudnorm.Meter(SR)
    expected = meter.integrated_loudness(vocal.T) - meter.integrated_loudness(backing.T)
    assert feats["vocal_to_backing_lu"] == pytest.approx(expected, abs=0.1)
    sung_only = integrated_loudness(vocal[:, on], SR) - integrated_loudness(backing, SR)
    assert abs(feats["vocal_to_backing_lu"] - sung_only) < 0.5
    ungated = 10 * np.log10(np.mean(vocal**2) / np.mean(backing**2))
    assert abs(feats["vocal_to_backing_lu"] - ungated) > 2  # silence would have cost 3 dB
    assert feats["vocal"]["active_fraction"] == pytest.approx(0.5, abs=0.05)
    # the sung bursts are a steady sine: crest factor 3.01 dB over the active part
    assert feats["vocal"]["crest_factor_db"] == pytest.approx(3.01, abs=0.1)
    assert feats["vocal"]["rms_dbfs"] == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.2)
    # raw take 6 dB quieter
    assert feats["raw_vocal_to_backing_lu"] == pytest.approx(expected - 6.02, abs=0.15)
    # windows wholly inside a rest are silent; wholly inside a burst have the known ratio
    for w in windows:
        s, e = w["start_s"], w["end_s"]
        inside_rest = all(not (2.0 <= (x % 8.0) < 6.0) for x in np.arange(s, e, 0.05))
        inside_burst = all((2.0 <= (x % 8.0) < 6.0) for x in np.arange(s, e, 0.05))
        if inside_burst:
            assert not w["silent"]
            assert w["vocal_to_backing_lu"] == pytest.approx(sung_only, abs=0.1)
        if inside_rest:
            assert w["silent"] and w["vocal_to_backing_lu"] is None
    assert feats["windows"]["count"] == len(windows) == 22
    assert 0 < feats["windows"]["silent"] < 22


def test_eq_curve_relative_to_backing(synthetic_track):
    paths, *_ = synthetic_track
    feats, _ = extract_track(paths, SR, FeatureSettings())
    bands = np.asarray(feats["bands_hz"])
    k = int(np.argmin(np.abs(bands - 1000)))
    rel = np.asarray(feats["vocal"]["eq_minus_backing_db"], dtype=float)
    # the 1 kHz tone stands far above the noise in its band, far below it elsewhere
    assert rel[k] > 10
    assert np.nanmax(np.delete(rel, [k - 1, k, k + 1])) < -20


def test_wrong_sample_rate_is_a_clear_error(synthetic_track):
    paths, *_ = synthetic_track
    with pytest.raises(AudioError, match="expected 48000 Hz"):
        extract_track(paths, 48000, FeatureSettings())


def _feats(track, genre, split, lar, lra, source="stems"):
    return {"track_id": track, "genre": genre, "split": split, "source": source,
            "vocal_to_backing_lu": lar, "vocal": {"loudness_range_lu": lra}}


def test_genre_stats_use_training_medians_and_an_overall_row(tmp_path):
    feats = [_feats("a", "pop", "train", 1.0, 5.0), _feats("b", "pop", "train", 3.0, 7.0),
             _feats("c", "pop", "train", 2.0, 6.0), _feats("d", "rock", "train", -1.0, 4.0),
             _feats("e", "rock", "test", 9.0, 9.0), _feats("f", "pop", "valid", 9.0, 9.0),
             _feats("g", "rap", "train", 9.0, 9.0, source="raw"),
             _feats("h", "unknown", "train", 0.0, 3.0)]
    rows = {r["genre"]: r for r in genre_stats(feats)}
    assert set(rows) == {"pop", "rock", OVERALL}
    assert rows["pop"]["n_tracks"] == 3 and rows["pop"]["vocal_to_backing_lu"] == 2.0
    assert rows["pop"]["vocal_lra_lu"] == 6.0
    assert rows["rock"]["vocal_to_backing_lu"] == -1.0
    assert rows[OVERALL]["n_tracks"] == 5 and rows[OVERALL]["vocal_to_backing_lu"] == 1.0
    path = tmp_path / "genre_stats.tsv"
    write_tsv(path, list(rows.values()))
    table = read_genre_stats(path)
    assert table["pop"]["vocal_to_backing_lu"] == pytest.approx(2.0)


def _dfeats(track, genre, lar, lra, dataset):
    return {**_feats(track, genre, "train", lar, lra), "dataset": dataset}


def test_genre_stats_take_real_songs_alone_once_a_genre_has_enough():
    # pop: 3 real songs (a MUSDB-like dataset and separated finished songs) beside 3 demo
    # songs -> the real median alone; rock: 1 real beside 2 demo -> all three
    feats = [_dfeats("d1", "pop", 4.0, 5.0, "demo"), _dfeats("d2", "pop", 5.0, 5.0, "demo"),
             _dfeats("d3", "pop", 6.0, 5.0, "demo"),
             _dfeats("m1", "pop", -1.0, 8.0, "musdb18hq"),
             _dfeats("s1", "pop", -2.0, 9.0, "separated"),
             _dfeats("s2", "pop", 0.0, 10.0, "separated"),
             _dfeats("d4", "rock", 1.0, 4.0, "demo"), _dfeats("d5", "rock", 3.0, 4.0, "demo"),
             _dfeats("s3", "rock", -7.0, 4.0, "separated")]
    rows = {r["genre"]: r for r in genre_stats(feats, synthetic_datasets=["demo"])}
    pop, rock, overall = rows["pop"], rows["rock"], rows[OVERALL]
    assert (pop["row_source"], pop["n_tracks"], pop["n_real"]) == ("real", 6, 3)
    assert pop["vocal_to_backing_lu"] == pytest.approx(-1.0)
    assert pop["vocal_lra_lu"] == pytest.approx(9.0)
    assert (rock["row_source"], rock["n_tracks"], rock["n_real"]) == ("corpus", 3, 1)
    assert rock["vocal_to_backing_lu"] == pytest.approx(1.0)
    # overall: 4 real songs of 9 -> the real median
    assert (overall["row_source"], overall["n_real"]) == ("real", 4)
    assert overall["vocal_to_backing_lu"] == pytest.approx(-1.5)
    # the threshold is a setting; and with no dataset marked synthetic every song is real
    rows = {r["genre"]: r for r in genre_stats(feats, synthetic_datasets=["demo"],
                                               min_real_songs=5)}
    assert rows["pop"]["row_source"] == "corpus"
    assert rows["pop"]["vocal_to_backing_lu"] == pytest.approx(2.0)
    assert {r["row_source"] for r in genre_stats(feats)} == {"real"}


def test_genre_table_keeps_its_text_columns_as_text(tmp_path):
    feats = [_dfeats("d1", "pop", 4.0, 5.0, "demo"), _dfeats("s1", "pop", -2.0, 9.0, "x"),
             _dfeats("s2", "pop", -1.0, 9.0, "x"), _dfeats("s3", "pop", 0.0, 9.0, "x")]
    path = tmp_path / "genre_stats.tsv"
    write_tsv(path, genre_stats(feats, synthetic_datasets=["demo"]))
    table = read_genre_stats(path)
    assert table["pop"]["row_source"] == "real"
    assert table["pop"]["vocal_to_backing_lu"] == pytest.approx(-1.0)
    assert table[OVERALL]["n_real"] == pytest.approx(3.0)


def test_separated_songs_are_corrected_for_the_separators_bias():
    # three separated songs whose separator reads the vocal 2 LU low and its range 1 LU
    # wide; the correction brings their median back, and leaves the other songs alone
    feats = [_dfeats("s1", "pop", -3.0, 6.0, "separated"),
             _dfeats("s2", "pop", -2.0, 7.0, "separated"),
             _dfeats("s3", "pop", -1.0, 8.0, "separated"),
             _dfeats("m1", "rock", 1.0, 5.0, "musdb18hq")]
    for f in feats:
        f["vocal"]["eq_db"] = np.zeros(len(spectrum.THIRD_OCTAVE_HZ))
    bias = {"vocal_to_backing_lu": -2.0, "vocal_lra_lu": 1.0, "vocal_eq_4000hz_db": -3.0}
    rows = {r["genre"]: r for r in genre_stats(feats, separation_bias=bias)}
    assert rows["pop"]["vocal_to_backing_lu"] == pytest.approx(0.0)
    assert rows["pop"]["vocal_lra_lu"] == pytest.approx(6.0)
    assert rows["rock"]["vocal_to_backing_lu"] == pytest.approx(1.0)
    flat = {r["genre"]: r for r in genre_stats(feats)}
    # the separator lost 3 dB at 4 kHz: the corrected balance has it 3 dB higher
    assert rows["pop"]["vocal_eq_4000hz_db"] - flat["pop"]["vocal_eq_4000hz_db"] == \
        pytest.approx(3.0)
    assert rows["rock"]["vocal_eq_4000hz_db"] == pytest.approx(flat["rock"]["vocal_eq_4000hz_db"])


def test_a_genre_with_too_few_real_songs_keeps_the_published_prior():
    feats = [_dfeats("s1", "heavy-metal", 4.0, 9.0, "separated"),
             _dfeats("s2", "folk", 3.0, 8.0, "separated"),
             _dfeats("d1", "pop", 2.0, 5.0, "demo")]
    priors = {"heavy-metal": {"genre": "heavy-metal", "n_tracks": 0.0, "row_source": "prior",
                              "vocal_to_backing_lu": -2.0, "vocal_lra_lu": 4.5},
              "pop": {"genre": "pop", "vocal_to_backing_lu": 1.5, "vocal_lra_lu": 5.0}}
    rows = {r["genre"]: r for r in genre_stats(feats, synthetic_datasets=["demo"],
                                               priors=priors)}
    metal = rows["heavy-metal"]
    assert (metal["row_source"], metal["n_tracks"], metal["n_real"]) == ("prior", 1, 1)
    assert (metal["vocal_to_backing_lu"], metal["vocal_lra_lu"]) == (-2.0, 4.5)
    assert metal["vocal_drr_db"] is None  # nothing measured stands in for a missing prior
    # no prior for folk: its one real song; pop's synthetic song is the corpus, not a prior
    assert (rows["folk"]["row_source"], rows["folk"]["vocal_to_backing_lu"]) == ("corpus", 3.0)
    assert (rows["pop"]["row_source"], rows["pop"]["vocal_to_backing_lu"]) == ("corpus", 2.0)
