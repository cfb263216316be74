"""Ground-truth features of one track (rule ``extract_features``).

For the processed vocal, the backing, the mixture and (where there is one) the raw take:
BS.1770 loudness (integrated, LRA, maximum momentary/short-term, sample peak), RMS and
crest factor over the active part, and the third-octave long-term spectrum. Across them:
the vocal-to-backing relative loudness (integrated, each signal gated on its own, and per
analysis window) and the vocal EQ curve absolute and relative to the backing.

Silence: a 400 ms gating block is *vocal-active* when the vocal's block loudness is above
-70 LUFS and within ``gate_lu`` (default 20 LU) of the vocal's integrated loudness. A
window's relative loudness compares vocal and backing over that window's vocal-active
blocks; a window with less than ``min_active_fraction`` of active blocks is marked
``silent`` and has no relative loudness (the proposal's "silence will be considered").
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, read_audio
from vocalmix.config import schema_settings
from vocalmix.measure import loudness, spectrum
from vocalmix.measure.reverb import analyse_ir
from vocalmix.measure.reverb_blind import estimate

log = logging.getLogger(__name__)

__all__ = ["ReverbFitSettings", "WindowSettings", "FeatureSettings", "signal_features",
           "active_blocks", "window_table", "extract_track"]


@schema_settings("features.reverb")
class ReverbFitSettings:
    """The genetic fit of the project's reverb to each track's room (config section
    ``features.reverb``; defaults from the schema)."""

    enabled: bool
    max_evaluations: int
    population: int


@schema_settings("features")
class WindowSettings:
    """The analysis windows alone (the window keys of config section ``features``): what the
    dataset records and the data-driven mixer cuts and judges its windows with."""

    window_s: float
    hop_s: float
    gate_lu: float
    min_active_fraction: float


@schema_settings("features", nested={"reverb": ReverbFitSettings})
class FeatureSettings:
    """Ground-truth feature extraction (config section ``features``; defaults from the
    schema): analysis windows, the vocal-activity gate and the reverb fit."""

    window_s: float
    hop_s: float
    gate_lu: float
    min_active_fraction: float
    reverb: ReverbFitSettings

    @property
    def windows(self) -> WindowSettings:
        """The window settings of these features."""
        return WindowSettings(window_s=self.window_s, hop_s=self.hop_s, gate_lu=self.gate_lu,
                              min_active_fraction=self.min_active_fraction)


def reverb_features(vocal: NDArray | None, sample_rate: int, *, room_ir: str | None,
                    seed: int, settings: ReverbFitSettings) -> dict:
    """Reverb parameters of the track's processed vocal: the project's reverb fitted by the
    genetic algorithm to the known room (``room_ir``, the demo) or, blind, to the wet
    vocal; plus the blind estimate itself (cheap) whenever there is a wet vocal."""
    from vocalmix.features.reverb_fit import fit_ga, fit_wet

    out: dict = {"method": "none"}
    if vocal is not None:
        out["blind_estimate"] = estimate(vocal, sample_rate).to_dict()
    if not settings.enabled:
        return out
    kw = {"seed": seed, "max_evaluations": int(settings.max_evaluations),
          "population": int(settings.population)}
    if room_ir:
        ir, sr = read_audio(room_ir, sample_rate=sample_rate)
        fit = fit_ga(analyse_ir(ir, sample_rate), sample_rate, **kw)
        out["method"] = "known_ir"
    elif vocal is not None:
        try:
            fit = fit_wet(vocal, sample_rate, **kw)
        except ValueError as exc:
            out["reason"] = str(exc)
            return out
        out["method"] = "blind"
    else:
        return out
    out.update(fit.to_dict())
    out.pop("history", None)
    # the fit's duration goes to the log, not into the file: same config, same bytes
    log.info("reverb fit (%s): %.2f s", out["method"], out.pop("seconds"))
    return out


def _lufs(ms: float | NDArray) -> float | NDArray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(ms)


def active_blocks(result: loudness.LoudnessResult, gate_lu: float) -> NDArray:
    """Gating blocks of ``result`` above -70 LUFS and within ``gate_lu`` of its integrated level."""
    lk = _lufs(result.block_mean_square)
    if not math.isfinite(result.integrated_lufs):
        return np.zeros(lk.size, dtype=bool)
    return (lk > loudness.ABSOLUTE_GATE_LUFS) & (lk >= result.integrated_lufs + gate_lu)


def _active_rms_peak(audio: NDArray, blocks: NDArray, step_s: float, sample_rate: int,
                     gate_lu: float) -> tuple[float, float]:
    """RMS and sample peak of ``audio`` over its active part: the 100 ms steps inside an
    active 400 ms block whose own level is within ``gate_lu`` of that part's mean level
    (so a block straddling a rest does not bring silence into the RMS)."""
    step = int(round(step_s * sample_rate))
    per_block = int(round(loudness.BLOCK_S / step_s))
    n_steps = audio.shape[1] // step
    if n_steps == 0 or not blocks.any():
        return 0.0, 0.0
    x = audio[:, : n_steps * step].reshape(audio.shape[0], n_steps, step)
    sq = np.einsum("cns,cns->n", x, x, dtype=np.float64)  # sum of squares per step
    peak = np.maximum(x.max(axis=(0, 2)), -x.min(axis=(0, 2)))
    covered = np.zeros(n_steps, dtype=bool)
    for k in range(per_block):  # block j covers steps j .. j + per_block - 1
        idx = np.flatnonzero(blocks) + k
        covered[idx[idx < n_steps]] = True
    ref = sq[covered].mean()
    covered &= sq >= ref * 10 ** (gate_lu / 10.0)
    rms = float(np.sqrt(sq[covered].sum() / (covered.sum() * step * audio.shape[0])))
    return rms, float(peak[covered].max())


def signal_features(audio: NDArray, sample_rate: int, *, gate_lu: float, name: str | None = None,
                    spectra: bool = True
                    ) -> tuple[dict, loudness.LoudnessResult, NDArray, NDArray, NDArray]:
    """Loudness, RMS/crest over the active part, and the third-octave spectrum of a signal.

    Returns the features, the loudness result, the active STFT frames, and the STFT
    frequencies and per-frame power (for spectra over another signal's active frames).
    """
    res = loudness.analyse(audio, sample_rate, name=name)
    act = active_blocks(res, gate_lu)
    rms, peak = _active_rms_peak(audio, act, res.block_step_s, sample_rate, gate_lu)
    feats = {
        **res.summary(),
        "rms_dbfs": 20 * math.log10(rms) if rms > 0 else -math.inf,
        "crest_factor_db": 20 * math.log10(peak / rms) if rms > 0 else math.nan,
        "active_fraction": float(act.mean()) if act.size else 0.0,
    }
    if not spectra:
        return feats, res, None, None, None
    freqs, power = spectrum.frame_power(audio, sample_rate)
    frames = spectrum.active_frames(power)
    psd = (power[frames].mean(axis=0, dtype=np.float64) if frames.any()
           else np.zeros(power.shape[1]))
    bands = spectrum.band_levels_db(freqs, psd, sample_rate=sample_rate)
    feats["eq_db"] = bands
    feats["eq_shape_db"] = spectrum.curve_shape_db(bands) if frames.any() else bands * np.nan
    return feats, res, frames, freqs, power


def window_table(vocal: loudness.LoudnessResult, backing: loudness.LoudnessResult,
                 mixture: loudness.LoudnessResult, *, window_s: float, hop_s: float,
                 gate_lu: float, min_active_fraction: float) -> list[dict]:
    """Relative loudness per analysis window, with silent windows marked."""
    step = vocal.block_step_s
    per_window = int(round((window_s - loudness.BLOCK_S) / step)) + 1
    hop_blocks = max(1, int(round(hop_s / step)))
    act = active_blocks(vocal, gate_lu)
    n_blocks = min(r.block_mean_square.size for r in (vocal, backing, mixture))
    rows = []
    for k, first in enumerate(range(0, n_blocks - per_window + 1, hop_blocks)):
        sel = slice(first, first + per_window)
        a = act[sel]
        frac = float(a.mean())
        row = {"window": k, "start_s": round(first * step, 4),
               "end_s": round(first * step + window_s, 4), "vocal_active_fraction": frac,
               "silent": int(frac < min_active_fraction),
               "mixture_lufs": float(_lufs(np.mean(mixture.block_mean_square[sel])))}
        if row["silent"]:
            row.update(vocal_lufs=None, backing_lufs=None, vocal_to_backing_lu=None)
        else:
            v = float(_lufs(np.mean(vocal.block_mean_square[sel][a])))
            b = float(_lufs(np.mean(backing.block_mean_square[sel][a])))
            row.update(vocal_lufs=v, backing_lufs=b, vocal_to_backing_lu=v - b)
        rows.append(row)
    return rows


def extract_track(paths: dict[str, str], sample_rate: int, settings: FeatureSettings, *,
                  room_ir: str | None = None, seed: int = 0) -> tuple[dict, list[dict]]:
    """All features of one track; ``paths`` maps roles to standardised audio files."""
    audio = {}
    for role, path in paths.items():
        x, sr = read_audio(path)
        if sr != sample_rate:
            raise AudioError(path, f"sample rate {sr} Hz, expected {sample_rate} Hz "
                                      "(ingestion resamples every track)")
        audio[role] = x
    feats: dict = {"sample_rate": sample_rate, "bands_hz": spectrum.THIRD_OCTAVE_HZ,
                   "bands_nominal_hz": spectrum.NOMINAL_HZ}
    results: dict = {}
    frames: dict = {}
    power: dict = {}
    freqs = None
    for role, x in audio.items():
        feats[role], results[role], frames[role], f, power[role] = signal_features(
            x, sample_rate, gate_lu=settings.gate_lu, name=paths[role],
            spectra=role != "mixture")
        freqs = f if f is not None else freqs
    feats["duration_s"] = audio["backing"].shape[1] / sample_rate
    # the voice: processed where there is one, else the raw take
    lead = "vocal" if "vocal" in audio else "raw_vocal"
    backing_power = power["backing"]
    for role in ("vocal", "raw_vocal"):
        if role not in audio:
            continue
        lar = results[role].integrated_lufs - results["backing"].integrated_lufs
        feats[f"{role}_to_backing_lu"] = lar
        # backing spectrum over the same frames as the voice's long-term spectrum
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
