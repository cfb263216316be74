"""Features of a backing track for the genre classifier (rule ``genre_features``).

The backing is mixed down to mono and resampled to :data:`ANALYSIS_RATE` (22.05 kHz), so a
user's 48 kHz beat and the pipeline's 44.1 kHz tracks are described alike. Long tracks are
not analysed whole: up to ``excerpt_s`` seconds are, as three equal excerpts centred at
25 %, 50 % and 75 % of the track (a track no longer than ``excerpt_s`` is used whole). A
file is not read whole either (:func:`file_features`): one pass in blocks checks every
sample and keeps only the excerpts, so the memory needed does not grow with the song.

The excerpts are scaled to one RMS level first, so no feature depends on the backing's
overall level. Features:
==================  ======================================================================
``mel_mean_<k>``    mean log-mel level of band k (40 bands, 40 Hz - 11 kHz, 1024-point
                    frames, 512 hop) relative to the backing's mean mel level (dB): the
                    long-term spectral shape (instrumentation, production)
``mel_std_<k>``     standard deviation over frames of band k (dB): how much it moves
``flux_<g>``        mean positive frame-to-frame rise of the log-mel levels in 8 groups of 5
                    bands (dB per frame): where the attacks are (kick, snare, hats, plucks)
``centroid_*``      spectral centroid (log2 of Hz), mean and standard deviation over the
``bandwidth_*``     frames within 60 dB of the loudest; bandwidth (log2 Hz), 85 % roll-off
``rolloff_*``       (log2 Hz) and flatness (dB, geometric over arithmetic mean power)
``flatness_*``
``tempo_log2``      log2(tempo / 120 BPM) from :mod:`vocalmix.measure.tempo` (median over
                    the excerpts), and the tempo estimate's confidence (``tempo_conf``)
``onset_rate``      peaks of the onset-strength envelope above its mean + 1 SD, per second
``onset_cv``        coefficient of variation of the onset envelope (sparse vs busy rhythm)
``lra_lu``          EBU Tech 3342 loudness range of the excerpts (LU)
``short_term_sd``   standard deviation of the short-term loudness above -70 LUFS (LU)
``plr_db``          peak-to-loudness ratio: sample peak minus integrated loudness (dB)
==================  ======================================================================
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, open_audio, resample
from vocalmix.measure.tempo import HOP_S, estimate_tempo, onset_strength
from vocalmix.tables import exact, write_table

log = logging.getLogger(__name__)

__all__ = ["ANALYSIS_RATE", "N_MELS", "FLUX_GROUPS", "feature_names", "excerpt_slices",
           "mel_filterbank", "backing_features", "read_excerpts", "file_features"]

ANALYSIS_RATE = 22050
N_FFT = 1024
HOP = 512
N_MELS = 40
FLUX_GROUPS = 8
MIN_SECONDS = 1.0
SPECTRAL = ("centroid", "bandwidth", "rolloff", "flatness")
REFERENCE_RMS = 0.05  # the excerpts are scaled to this RMS first: no feature sees the level


def feature_names() -> list[str]:
    """Names of the feature vector, in order (stored beside every model and table)."""
    names = [f"mel_mean_{k:02d}" for k in range(N_MELS)]
    names += [f"mel_std_{k:02d}" for k in range(N_MELS)]
    names += [f"flux_{g}" for g in range(FLUX_GROUPS)]
    names += [f"{s}_{stat}" for s in SPECTRAL for stat in ("mean", "sd")]
    names += ["tempo_log2", "tempo_conf", "onset_rate", "onset_cv", "lra_lu", "short_term_sd",
              "plr_db"]
    return names


def excerpt_slices(n_samples: int, sample_rate: int, excerpt_s: float) -> list[slice]:
    """The parts of a track analysed: whole if short, else three excerpts (25/50/75 %)."""
    total = int(round(excerpt_s * sample_rate))
    if n_samples <= total:
        return [slice(0, n_samples)]
    length = total // 3
    out = []
    for centre in (0.25, 0.5, 0.75):
        start = int(np.clip(round(centre * n_samples - length / 2), 0, n_samples - length))
        out.append(slice(start, start + length))
    return out


def mel_filterbank(n_mels: int = N_MELS, fmin: float = 40.0,
                   fmax: float = ANALYSIS_RATE / 2) -> NDArray[np.float64]:
    """Triangular filters ``(n_mels, N_FFT // 2 + 1)`` equally spaced on the mel scale
    (2595 log10(1 + f / 700)) at :data:`ANALYSIS_RATE`, each summing the power under it."""
    mel = 2595.0 * np.log10(1.0 + np.array([fmin, fmax]) / 700.0)
    edges = 700.0 * (10 ** (np.linspace(mel[0], mel[1], n_mels + 2) / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / ANALYSIS_RATE)
    lo, centre, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((freqs - lo) / (centre - lo), (hi - freqs) / (hi - centre)))


def _mono(audio: NDArray, sample_rate: int) -> NDArray[np.float32]:
    x = np.atleast_2d(np.asarray(audio, dtype=np.float32)).mean(axis=0, keepdims=True)
    return resample(x, orig_sample_rate=int(sample_rate), target_sample_rate=ANALYSIS_RATE)[0]


def _power_frames(x: NDArray) -> NDArray[np.float64]:
    from scipy import fft

    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    win = np.hanning(N_FFT + 1)[:-1]
    spec = fft.rfft(frames * win, axis=1)
    return (spec.real ** 2 + spec.imag ** 2) / (N_FFT * float(np.sum(win ** 2)))


def _spectral(power: NDArray, freqs: NDArray) -> dict[str, float]:
    total = power.sum(axis=1)
    keep = total >= total.max() * 1e-6 if total.max() > 0 else np.zeros(total.size, bool)
    out = {}
    if not keep.any():
        return {f"{s}_{stat}": 0.0 for s in SPECTRAL for stat in ("mean", "sd")}
    p = power[keep][:, 1:]  # no DC
    f = freqs[1:]
    tot = p.sum(axis=1)
    centroid = (p @ f) / tot
    bandwidth = np.sqrt(np.maximum((p @ f ** 2) / tot - centroid ** 2, 1.0))
    cum = np.cumsum(p, axis=1)
    rolloff = f[np.minimum(np.argmax(cum >= 0.85 * tot[:, None], axis=1), f.size - 1)]
    flatness = 10 * (np.mean(np.log10(p + 1e-12), axis=1) - np.log10(np.mean(p, axis=1) + 1e-12))
    series = {"centroid": np.log2(np.maximum(centroid, 1.0)),
              "bandwidth": np.log2(bandwidth),
              "rolloff": np.log2(np.maximum(rolloff, 1.0)),
              "flatness": flatness}
    for name in SPECTRAL:
        out[f"{name}_mean"] = float(np.mean(series[name]))
        out[f"{name}_sd"] = float(np.std(series[name]))
    return out


def _onsets(parts: list[NDArray]) -> dict[str, float]:
    tempos, confs, peaks, seconds, cvs = [], [], 0, 0.0, []
    for x in parts:
        bpm, conf = estimate_tempo(x[None, :], ANALYSIS_RATE)
        if math.isfinite(bpm):
            tempos.append(bpm)
            confs.append(conf)
        env = onset_strength(x[None, :], ANALYSIS_RATE)
        if env.size < 3:
            continue
        env = np.maximum(env, 0.0)
        thr = env.mean() + env.std()
        is_peak = (env[1:-1] > env[:-2]) & (env[1:-1] >= env[2:]) & (env[1:-1] > thr)
        peaks += int(np.count_nonzero(is_peak))
        seconds += env.size * HOP_S
        cvs.append(float(env.std() / env.mean()) if env.mean() > 0 else 0.0)
    bpm = float(np.median(tempos)) if tempos else 120.0
    return {"tempo_log2": math.log2(bpm / 120.0),
            "tempo_conf": float(np.median(confs)) if confs else 0.0,
            "onset_rate": peaks / seconds if seconds > 0 else 0.0,
            "onset_cv": float(np.mean(cvs)) if cvs else 0.0}


def _dynamics(x: NDArray) -> dict[str, float]:
    from vocalmix.measure import loudness

    r = loudness.analyse(x[None, :], ANALYSIS_RATE)
    st = r.short_term_lufs[np.isfinite(r.short_term_lufs) & (r.short_term_lufs > -70.0)]
    lra = r.loudness_range_lu if math.isfinite(r.loudness_range_lu) else 0.0
    plr = (r.sample_peak_dbfs - r.integrated_lufs
           if math.isfinite(r.integrated_lufs) and math.isfinite(r.sample_peak_dbfs) else 0.0)
    return {"lra_lu": float(lra), "short_term_sd": float(np.std(st)) if st.size else 0.0,
            "plr_db": float(plr)}


def backing_features(audio: NDArray, sample_rate: int, *, excerpt_s: float,
                     name: str | None = None) -> dict[str, float]:
    """The feature vector of a backing track, as an ordered name -> value dict.

    ``excerpt_s`` seconds are analysed (:func:`excerpt_slices`): config ``genre.excerpt_s``
    in the pipeline, a trained classifier's own when it predicts.

    Raises
    ------
    ValueError
        Shorter than one second, or silent (the message names ``name`` when given).
    """
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    _check_length(audio.shape[1], sample_rate, name)
    if not np.any(audio):
        raise ValueError(f"{_where(name)}the backing is digital silence")
    return _excerpt_features([audio[:, s] for s in excerpt_slices(audio.shape[1], sample_rate,
                                                                   excerpt_s)],
                             sample_rate, name)


def _where(name: str | None) -> str:
    return f"{name}: " if name else ""


def _check_length(n_samples: int, sample_rate: int, name: str | None) -> None:
    if n_samples < MIN_SECONDS * sample_rate:
        raise ValueError(f"{_where(name)}{n_samples / sample_rate:.2f} s of audio; the genre "
                         f"classifier needs at least {MIN_SECONDS:.0f} s")


def _excerpt_features(excerpts: list[NDArray], sample_rate: int, name: str | None
                      ) -> dict[str, float]:
    """The feature vector of a backing's excerpts ``(channels, samples)`` (see
    :func:`excerpt_slices`)."""
    where = _where(name)
    parts = [_mono(x, sample_rate) for x in excerpts]
    rms = math.sqrt(sum(float(np.sum(np.square(x, dtype=np.float64))) for x in parts)
                    / max(1, sum(x.size for x in parts)))
    if rms <= 0:
        raise ValueError(f"{where}the analysed excerpts of the backing are digital silence")
    parts = [(x * (REFERENCE_RMS / rms)).astype(np.float32) for x in parts]
    power = np.concatenate([_power_frames(x) for x in parts])
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / ANALYSIS_RATE)
    fb = mel_filterbank()
    mel_power = power @ fb.T  # (frames, bands)
    level_db = 10 * np.log10(np.mean(mel_power) + 1e-20)
    mel_db = 10 * np.log10(mel_power + 1e-10 * 10 ** (level_db / 10)) - level_db
    feats: dict[str, float] = {}
    for k, v in enumerate(mel_db.mean(axis=0)):
        feats[f"mel_mean_{k:02d}"] = float(v)
    for k, v in enumerate(mel_db.std(axis=0)):
        feats[f"mel_std_{k:02d}"] = float(v)
    rise = (np.maximum(np.diff(mel_db, axis=0), 0.0) if mel_db.shape[0] > 1
            else np.zeros((1, N_MELS)))
    for g, cols in enumerate(np.array_split(np.arange(N_MELS), FLUX_GROUPS)):
        feats[f"flux_{g}"] = float(rise[:, cols].mean())
    feats.update(_spectral(power, freqs))
    feats.update(_onsets(parts))
    feats.update(_dynamics(np.concatenate(parts)))
    out = {n: feats[n] for n in feature_names()}
    bad = [n for n, v in out.items() if not math.isfinite(v)]
    if bad:
        raise ValueError(f"{where}non-finite genre feature(s): {', '.join(bad)}")
    return out


def read_excerpts(path: str, *, excerpt_s: float) -> tuple[list[NDArray[np.float32]], int]:
    """The excerpts of an audio file that :func:`backing_features` analyses (the same
    samples as slicing the whole file), and its sample rate, from one pass over the file in
    blocks that checks every sample (NaN/inf: AudioError) and that it is not all silence.

    Raises
    ------
    vocalmix.audio.AudioError
        Missing, unreadable, truncated or non-finite audio (naming the file).
    ValueError
        Shorter than one second, or silent (naming the file).
    """
    with open_audio(path) as stream:
        n, sr = stream.frames, stream.sample_rate
        _check_length(n, sr, str(path))
        slices = excerpt_slices(n, sr, excerpt_s)
        excerpts = [np.empty((stream.channels, s.stop - s.start), dtype=np.float32)
                    for s in slices]
        sound, pos = False, 0
        for block in stream.blocks(1 << 18):
            sound = sound or bool(np.any(block))
            end = pos + block.shape[1]
            for s, x in zip(slices, excerpts):
                a, b = max(s.start, pos), min(s.stop, end)
                if a < b:
                    x[:, a - s.start: b - s.start] = block[:, a - pos: b - pos]
            pos = end
    if pos < n:  # libsndfile gave fewer samples than the header declares
        raise AudioError(path, f"{pos} samples read, the header declares {n}")
    if not sound:
        raise ValueError(f"{path}: the backing is digital silence")
    return excerpts, sr


def file_features(path: str, *, excerpt_s: float) -> dict[str, float]:
    """:func:`backing_features` of an audio file, streamed (:func:`read_excerpts`; raises
    ``vocalmix.audio.AudioError`` or ValueError naming the file)."""
    excerpts, sr = read_excerpts(path, excerpt_s=excerpt_s)
    return _excerpt_features(excerpts, sr, str(path))


def write_features_tsv(path, rows: list[dict], columns: list[str]) -> None:
    """TSV with floats at full precision (``repr``): training reads back the same numbers."""
    write_table(path, rows, columns, cell=exact)
