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

Memory (issue 19): :func:`extract_track` reads every file in blocks of ``BLOCK`` samples,
never whole. A first pass per file feeds the streaming BS.1770 meter and keeps each
8192-sample spectrum frame's mean square; a second keeps the 100 ms steps' energies and
peaks (the active RMS and crest factor) and sums the power spectra of the frames each
long-term spectrum averages (a voice's own active frames, and the backing over the
voice's), which are known once every first pass is done. The reverb's blind estimate reads
the vocal through :func:`vocalmix.features.blind_levels.level_curves_file`. What is kept is
a few numbers per 5 or 10 ms hop, 100 ms step or frame: about 12 MB for a 10-minute song
(the meter's 10 ms series and the blind estimate's cumulative sums, mostly), against 212 MB
per stereo float32 role read whole (``benchmarks/features_memory.py``: peak RSS 225 MiB at
3 minutes, 236 MiB at 10). The figures equal those of the whole-array functions
(:func:`signal_features`, :func:`reverb_features`) bit for bit: the same operations on the
same samples in the same order (``tests/unit/test_features_streaming.py``).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, open_audio, read_audio
from vocalmix.config import schema_settings
from vocalmix.measure import loudness, spectrum
from vocalmix.measure.reverb import analyse_ir
from vocalmix.measure.reverb_blind import BlindEstimate, estimate

log = logging.getLogger(__name__)

__all__ = ["ReverbFitSettings", "WindowSettings", "FeatureSettings", "reverb_features",
           "signal_features", "active_blocks", "window_table", "extract_track", "BLOCK"]

#: samples read at a time: a whole number of spectrum frames (and of :func:`~vocalmix.
#: measure.spectrum.frame_power`'s FFT batches of 2**20 samples), about 24 s at 44.1 kHz
BLOCK = 1 << 20


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
    return _reverb_of(None if vocal is None else estimate(vocal, sample_rate), sample_rate,
                      room_ir=room_ir, seed=seed, settings=settings)


def _reverb_of(blind: BlindEstimate | None, sample_rate: int, *, room_ir: str | None,
               seed: int, settings: ReverbFitSettings) -> dict:
    """:func:`reverb_features` from the wet vocal's blind estimate (None: no wet vocal)."""
    from vocalmix.features.reverb_fit import fit_blind, fit_ga

    out: dict = {"method": "none"}
    if blind is not None:
        out["blind_estimate"] = blind.to_dict()
    if not settings.enabled:
        return out
    kw = {"seed": seed, "max_evaluations": int(settings.max_evaluations),
          "population": int(settings.population)}
    if room_ir:
        ir, sr = read_audio(room_ir, sample_rate=sample_rate)
        fit = fit_ga(analyse_ir(ir, sample_rate), sample_rate, **kw)
        out["method"] = "known_ir"
    elif blind is not None:
        try:
            fit = fit_blind(blind, sample_rate, **kw)
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
    steps = _Steps(int(round(step_s * sample_rate)))
    steps.add(audio)
    return _rms_peak_of_steps(steps, blocks, step_s, gate_lu)


class _Steps:
    """Sum of squares (float64, all channels) and sample peak of each whole 100 ms step of
    a signal given in successive ``(channels, n)`` blocks."""

    def __init__(self, step: int):
        self.step = step
        self.channels = 0
        self.rest: NDArray | None = None
        self.sq: list[NDArray] = []
        self.peak: list[NDArray] = []

    def add(self, block: NDArray) -> None:
        x = block if self.rest is None else np.concatenate([self.rest, block], axis=1)
        self.channels = x.shape[0]
        n = x.shape[1] // self.step
        if n:
            v = x[:, : n * self.step].reshape(x.shape[0], n, self.step)
            self.sq.append(np.einsum("cns,cns->n", v, v, dtype=np.float64))
            self.peak.append(np.maximum(v.max(axis=(0, 2)), -v.min(axis=(0, 2))))
        self.rest = x[:, n * self.step:].copy()


def _rms_peak_of_steps(steps: _Steps, blocks: NDArray, step_s: float,
                       gate_lu: float) -> tuple[float, float]:
    """:func:`_active_rms_peak` from the steps' energies and peaks."""
    step = steps.step
    per_block = int(round(loudness.BLOCK_S / step_s))
    n_steps = sum(a.size for a in steps.sq)
    if n_steps == 0 or not blocks.any():
        return 0.0, 0.0
    sq = np.concatenate(steps.sq)  # sum of squares per step
    peak = np.concatenate(steps.peak)
    covered = np.zeros(n_steps, dtype=bool)
    for k in range(per_block):  # block j covers steps j .. j + per_block - 1
        idx = np.flatnonzero(blocks) + k
        covered[idx[idx < n_steps]] = True
    ref = sq[covered].mean()
    covered &= sq >= ref * 10 ** (gate_lu / 10.0)
    rms = float(np.sqrt(sq[covered].sum() / (covered.sum() * step * steps.channels)))
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
    feats = _level_features(res, act, rms, peak)
    if not spectra:
        return feats, res, None, None, None
    freqs, power = spectrum.frame_power(audio, sample_rate)
    frames = spectrum.active_frames(power)
    psd = (power[frames].mean(axis=0, dtype=np.float64) if frames.any()
           else np.zeros(power.shape[1]))
    feats.update(_eq_features(freqs, psd, frames.any(), sample_rate))
    return feats, res, frames, freqs, power


def _level_features(res: loudness.LoudnessResult, act: NDArray, rms: float,
                    peak: float) -> dict:
    return {
        **res.summary(),
        "rms_dbfs": 20 * math.log10(rms) if rms > 0 else -math.inf,
        "crest_factor_db": 20 * math.log10(peak / rms) if rms > 0 else math.nan,
        "active_fraction": float(act.mean()) if act.size else 0.0,
    }


def _eq_features(freqs: NDArray, psd: NDArray, any_frames: bool, sample_rate: int) -> dict:
    bands = spectrum.band_levels_db(freqs, psd, sample_rate=sample_rate)
    return {"eq_db": bands,
            "eq_shape_db": spectrum.curve_shape_db(bands) if any_frames else bands * np.nan}


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


class _MeanPower:
    """The mean power spectrum over chosen frames, summed frame by frame in their order (as
    ``power[mask].mean(axis=0, dtype=np.float64)`` sums them)."""

    def __init__(self, mask: NDArray):
        self.mask = mask
        self.total: NDArray | None = None

    def add(self, first: int, power: NDArray) -> None:
        """Frames ``first, first + 1, ...`` of the signal (rows of ``power``)."""
        if self.total is None:
            self.total = np.zeros(power.shape[1])
        sel = self.mask[first: first + power.shape[0]]
        for row in power[: sel.size][sel]:
            self.total += row

    def psd(self) -> NDArray:
        count = int(self.mask.sum())
        return self.total / count if count else np.zeros_like(self.total)


class _Role:
    """One role's file, read in two passes (see the module's docstring)."""

    def __init__(self, role: str, path: str, sample_rate: int, spectra: bool):
        self.role, self.path, self.sample_rate, self.spectra = role, path, sample_rate, spectra
        self.n_samples = 0
        self.result: loudness.LoudnessResult | None = None
        self.frame_ms: list[NDArray] = []
        self.frames: NDArray | None = None  # the active spectrum frames
        self.steps: _Steps | None = None
        self.spectra_sums: dict[str, _MeanPower] = {}
        self.freqs: NDArray | None = None

    def _frame_power(self, block: NDArray, first_block: bool) -> NDArray | None:
        """The block's spectrum frames (:func:`~vocalmix.measure.spectrum.frame_power`):
        its whole frames (a block is a whole number of them but the last); a file shorter
        than one frame is one zero-padded frame, as in the whole-array call."""
        if block.shape[1] < spectrum.N_FFT and not first_block:
            return None
        self.freqs, power = spectrum.frame_power(block, self.sample_rate)
        return power

    def check(self) -> None:
        """The sample rate the ingestion gave every file (read from the header)."""
        with open_audio(self.path) as stream:
            if stream.sample_rate != self.sample_rate:
                raise AudioError(self.path, f"sample rate {stream.sample_rate} Hz, expected "
                                            f"{self.sample_rate} Hz (ingestion resamples "
                                            "every track)")

    def first_pass(self) -> None:
        """Loudness, and each spectrum frame's mean square."""
        with open_audio(self.path) as stream:
            def blocks():
                for block in stream.blocks(BLOCK):
                    power = (self._frame_power(block, self.n_samples == 0) if self.spectra
                             else None)
                    if power is not None:
                        self.frame_ms.append(power.sum(axis=1, dtype=np.float64))
                    self.n_samples += block.shape[1]
                    yield block

            self.result = loudness.analyse_blocks(blocks(), self.sample_rate, stream.channels,
                                                  name=self.path)
        if self.spectra:
            self.frames = spectrum.active_frames_of_mean_square(np.concatenate(self.frame_ms))
            self.spectra_sums[self.role] = _MeanPower(self.frames)

    def second_pass(self) -> None:
        """The 100 ms steps' energies and peaks, and the spectra over the chosen frames."""
        self.steps = _Steps(int(round(self.result.block_step_s * self.sample_rate)))
        with open_audio(self.path) as stream:
            first = 0  # the block's first frame
            for k, block in enumerate(stream.blocks(BLOCK)):
                self.steps.add(block)
                power = self._frame_power(block, k == 0) if self.spectra_sums else None
                if power is not None:
                    for acc in self.spectra_sums.values():
                        acc.add(first, power)
                    first += power.shape[0]

    def features(self, gate_lu: float) -> dict:
        act = active_blocks(self.result, gate_lu)
        rms, peak = _rms_peak_of_steps(self.steps, act, self.result.block_step_s, gate_lu)
        feats = _level_features(self.result, act, rms, peak)
        if self.spectra:
            feats.update(_eq_features(self.freqs, self.spectra_sums[self.role].psd(),
                                      bool(self.frames.any()), self.sample_rate))
        return feats


def extract_track(paths: dict[str, str], sample_rate: int, settings: FeatureSettings, *,
                  room_ir: str | None = None, seed: int = 0) -> tuple[dict, list[dict]]:
    """All features of one track; ``paths`` maps roles to standardised audio files (read in
    blocks: memory does not grow with the song's length)."""
    from vocalmix.features.blind_levels import level_curves_file
    from vocalmix.measure.reverb_blind import estimate_from_levels

    roles = {role: _Role(role, path, sample_rate, spectra=role != "mixture")
             for role, path in paths.items()}
    for r in roles.values():
        r.check()
    for r in roles.values():
        r.first_pass()
    # the voice: processed where there is one, else the raw take
    lead = "vocal" if "vocal" in roles else "raw_vocal"
    voices = [role for role in ("vocal", "raw_vocal") if role in roles]
    backing = roles["backing"]
    for role in voices:
        # backing spectrum over the same frames as the voice's long-term spectrum
        mask = roles[role].frames[: backing.frames.size]
        mask = np.concatenate([mask, np.zeros(backing.frames.size - mask.size, dtype=bool)])
        backing.spectra_sums[role] = _MeanPower(mask)
    for r in roles.values():
        r.second_pass()

    feats: dict = {"sample_rate": sample_rate, "bands_hz": spectrum.THIRD_OCTAVE_HZ,
                   "bands_nominal_hz": spectrum.NOMINAL_HZ}
    for role, r in roles.items():
        feats[role] = r.features(settings.gate_lu)
    feats["duration_s"] = backing.n_samples / sample_rate
    for role in voices:
        lar = roles[role].result.integrated_lufs - backing.result.integrated_lufs
        feats[f"{role}_to_backing_lu"] = lar
        bb = spectrum.band_levels_db(backing.freqs, backing.spectra_sums[role].psd(),
                                     sample_rate=sample_rate)
        feats[role]["eq_minus_backing_db"] = feats[role]["eq_db"] - bb
    windows = window_table(roles[lead].result, backing.result, roles["mixture"].result,
                           window_s=settings.window_s, hop_s=settings.hop_s,
                           gate_lu=settings.gate_lu,
                           min_active_fraction=settings.min_active_fraction)
    feats["lead"] = lead
    blind = None
    if "vocal" in roles:
        blind = estimate_from_levels(*level_curves_file(paths["vocal"], sample_rate,
                                                        (0.05, 0.01), block=BLOCK))
    feats["reverb"] = _reverb_of(blind, sample_rate, room_ir=room_ir, seed=seed,
                                 settings=settings.reverb)
    feats["windows"] = {"count": len(windows), "silent": sum(w["silent"] for w in windows),
                        "window_s": settings.window_s, "hop_s": settings.hop_s}
    return feats, windows
