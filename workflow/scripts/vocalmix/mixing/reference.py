"""Reference matching (``vocalmix mix --reference SONG``): the targets of a mix measured on a
finished song the singer wants to sound like, instead of read from the genre table.

1. **Separation.** The reference is split into vocal and backing by the project's default
   separator (the configured backend; Spleeter's pretrained 2-stem network unless told
   otherwise). A reference longer than ``excerpts`` x ``excerpt_s`` is analysed on that many
   excerpts centred at 20 %, 50 % and 80 % of it (verse, chorus, late chorus in most
   songs), so time and memory stay bounded however long the song is; the figures below are
   then measured on the excerpts joined.
2. **Measurement** on the separated pair, each as the systems measure their own output:
   the vocal-to-backing ratio (integrated loudness of the whole vocal minus that of the
   whole backing, BS.1770-4, LU), the vocal's loudness range (EBU Tech 3342, LU), the
   vocal's long-term octave-band spectrum relative to its backing's over the frames where
   the vocal sings (dB), and its reverberation (blind mid-band T60 and DRR,
   :mod:`vocalmix.measure.reverb_blind`).
3. **Calibration against the separator's bias.** A separator does not split a mix at its
   true balance: it leaves part of the voice in the backing, the more so the more the voice
   is processed (measured with Spleeter's pretrained model: on the MUSDB previews the
   separated ratio reads 0.1 to 1.8 LU under the truth; on the synthetic demo's validation
   songs the wet professional vocal reads 2.4 to 8.1 LU under it, its raw take within 1 LU). The bias depends
   on the material and on the balance itself, so it is measured on the mix being made
   (:meth:`ReferenceTargets.calibrate`, called by the system once its vocal branch is
   rendered): the processed vocal and backing are summed at a trial ratio over an excerpt
   (``calibration_excerpt_s``, 20 s, where the vocal is loudest), the sum is separated by
   the same separator, and the trial ratio is moved (secant steps) until the separated sum reads
   what the separated reference read. The ratio that does is the target: the mix, separated,
   reads like the reference separated. The same separation gives the bias of the vocal's
   loudness range and of the relative spectrum (separated minus known), which are taken off
   the reference's figures, and an estimate of the separation quality on this material
   (SI-SDR of the separated vocal against the known one). Where the reference's vocal is
   processed much like the mix's, the calibration removes the separator's bias; where they
   differ (a dry take against a very wet reference), part of it remains.
4. **Reliability.** A reference whose separated vocal is quiet against its backing
   (ratio under ``min_vocal_to_backing_lu``) or seldom sings (``min_vocal_active_share`` of
   its 400-ms blocks) is most likely an instrumental, or a vocal the separator cannot find:
   its targets are reported but not used (the mixer falls back to the genre targets, and
   says why). The two thresholds were chosen on the demo's validation songs, separated
   with and without their vocal: songs read -6 LU or more and 35 % or more active,
   instrumentals -13.9 LU or less and 10 % or less.

Everything is recorded in the recipe's ``analysis["reference"]``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import db_to_gain
from vocalmix.measure import loudness

log = logging.getLogger(__name__)

__all__ = ["ReferenceSettings", "ReferenceTargets", "Calibration", "ReferenceError", "measure_pair",
           "relative_spectrum_db",
           "analyse_reference", "load_reference"]

#: octave bands of the relative spectrum (the rule-based system's masking bands)
BANDS_HZ = (62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0)


class ReferenceError(ValueError):
    """A reference that cannot be read or measured (the file is named)."""


@dataclass(frozen=True)
class ReferenceSettings:
    """Constants of reference matching (see the module docstring)."""

    calibration_excerpt_s: float = 20.0
    excerpts: int = 3
    excerpt_s: float = 30.0
    calibration_steps: int = 4
    calibration_tolerance_lu: float = 0.1
    min_vocal_to_backing_lu: float = -10.0
    min_vocal_active_share: float = 0.2
    #: a 400-ms block of the separated vocal counts as singing within this range of its
    #: loudest block and no further than this under the backing's block
    active_range_lu: float = 20.0


@dataclass(frozen=True)
class PairMeasures:
    """What is measured on a vocal/backing pair (separated or known)."""

    vocal_to_backing_lu: float
    vocal_lra_lu: float
    vocal_active_share: float
    relative_spectrum_db: tuple[float, ...]  # vocal minus backing per band of BANDS_HZ


@dataclass(frozen=True)
class Calibration:
    """A reference's targets corrected for the separator's bias on the mix being made."""

    vocal_to_backing_lu: float
    vocal_lra_lu: float
    relative_spectrum_db: tuple[float, ...]
    report: dict


@dataclass(frozen=True)
class ReferenceTargets:
    """What a reference's separation measured (:attr:`separated`: ratio, vocal loudness
    range, singing share, relative spectrum; the blind T60 and DRR of its vocal), whether
    it is to be used (``reliable``; ``reason`` says why not), and the separator to
    :meth:`calibrate` the figures with."""

    path: str
    reliable: bool
    reason: str
    separated: PairMeasures
    t60_s: float | None
    drr_db: float | None
    separation: dict = field(default_factory=dict)
    settings: ReferenceSettings = ReferenceSettings()
    split: Callable[[NDArray], tuple[NDArray, NDArray]] | None = field(
        default=None, compare=False, repr=False)

    def calibrate(self, vocal_stem: NDArray, backing_stem: NDArray, sample_rate: int
                  ) -> Calibration:
        """The targets for a mix of these processed stems (see the module docstring)."""
        if self.split is None:
            raise ReferenceError(f"{self.path}: no separator to calibrate with")
        sep = self.separated
        ratio, report, cal_sep, cal_known = _calibrate(
            sep.vocal_to_backing_lu, np.atleast_2d(vocal_stem), np.atleast_2d(backing_stem),
            sample_rate, self.split, self.settings)
        lra_bias = cal_sep.vocal_lra_lu - cal_known.vocal_lra_lu
        spec_bias = [a - b for a, b in zip(cal_sep.relative_spectrum_db,
                                           cal_known.relative_spectrum_db)]
        report.update(vocal_lra_bias_lu=lra_bias, relative_spectrum_bias_db=spec_bias)
        return Calibration(
            vocal_to_backing_lu=float(ratio),
            vocal_lra_lu=float(max(sep.vocal_lra_lu - lra_bias, 1.0)),
            relative_spectrum_db=tuple(float(r - b) for r, b in
                                       zip(sep.relative_spectrum_db, spec_bias)),
            report=_finite(report))

    def analysis(self, calibration: Calibration | None = None) -> dict:
        """The recipe's ``analysis["reference"]``: the separated figures, and the
        calibrated targets where ``calibration`` is given."""
        d = {"path": self.path, "reliable": self.reliable, "reason": self.reason,
             "separated": asdict(self.separated), "t60_s": self.t60_s, "drr_db": self.drr_db,
             "separation": dict(self.separation), "bands_hz": list(BANDS_HZ)}
        if calibration is not None:
            d.update(vocal_to_backing_lu=calibration.vocal_to_backing_lu,
                     vocal_lra_lu=calibration.vocal_lra_lu,
                     relative_spectrum_db=list(calibration.relative_spectrum_db),
                     calibration=calibration.report)
            d["separation"]["quality_estimate_si_sdr_db"] = \
                calibration.report.get("vocal_si_sdr_db")
        return _finite(d)


def _finite(x):
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ------------------------------------------------------------------------------ measuring
def _band_levels(audio: NDArray, sample_rate: int, frames: NDArray | None
                 ) -> tuple[NDArray, NDArray]:
    """(octave-band levels in dB over ``frames`` (None: the frames where it sounds), the
    per-frame total powers)."""
    from vocalmix.measure.spectrum import frame_power

    freqs, power = frame_power(audio, sample_rate, n_fft=4096, hop=2048)
    total = power.sum(axis=1)
    if frames is None:
        ref = np.percentile(total[total > 0], 95) if np.any(total > 0) else 0.0
        frames = total >= ref * 10 ** (-2.5)
    frames = frames[: power.shape[0]]
    mean = power[frames].mean(axis=0) if frames.any() else np.zeros(power.shape[1])
    df = freqs[1] - freqs[0]
    levels = []
    for fc in BANDS_HZ:
        lo, hi = fc / math.sqrt(2), min(fc * math.sqrt(2), sample_rate / 2)
        sel = (freqs + df / 2 > lo) & (freqs - df / 2 <= hi)
        p = float(mean[sel].sum()) if lo < sample_rate / 2 else 0.0
        levels.append(10 * math.log10(p) if p > 0 else -math.inf)
    return np.asarray(levels), total


def relative_spectrum_db(vocal: NDArray, backing: NDArray, sample_rate: int
                         ) -> tuple[float, ...]:
    """The vocal's long-term octave-band levels minus the backing's (dB, one per band of
    :data:`BANDS_HZ`; NaN where either is empty), over the frames where the vocal sounds
    (within 25 dB of its loud frames)."""
    v_levels, v_total = _band_levels(vocal, sample_rate, None)
    ref = np.percentile(v_total[v_total > 0], 95) if np.any(v_total > 0) else 0.0
    frames = v_total >= ref * 10 ** (-2.5)
    b_levels, _ = _band_levels(backing, sample_rate, frames)
    return tuple(float(a - b) if math.isfinite(a) and math.isfinite(b) else math.nan
                 for a, b in zip(v_levels, b_levels))


def measure_pair(vocal: NDArray, backing: NDArray, sample_rate: int,
                 settings: ReferenceSettings = ReferenceSettings()) -> PairMeasures:
    """Ratio, vocal loudness range, singing share and relative spectrum of a pair."""
    mv = loudness.analyse(vocal, sample_rate)
    mb = loudness.analyse(backing, sample_rate)
    ratio = mv.integrated_lufs - mb.integrated_lufs
    m_v, m_b = mv.momentary_lufs, mb.momentary_lufs  # the analyses' own blocks
    n = min(m_v.size, m_b.size)
    m_v, m_b = m_v[:n], m_b[:n]
    ok = np.isfinite(m_v)
    share = 0.0
    if ok.any():
        top = float(np.max(m_v[ok]))
        sings = ok & (m_v > top - settings.active_range_lu)
        sings &= ~np.isfinite(m_b) | (m_v > m_b - settings.active_range_lu)
        share = float(sings.mean())
    rel = relative_spectrum_db(vocal, backing, sample_rate)
    return PairMeasures(vocal_to_backing_lu=float(ratio),
                        vocal_lra_lu=float(mv.loudness_range_lu),
                        vocal_active_share=share, relative_spectrum_db=rel)


def _most_active(vocal: NDArray, sample_rate: int, length_s: float) -> slice:
    """The ``length_s`` window of ``vocal`` with the most loudness (the whole when shorter)."""
    n = vocal.shape[1]
    width = int(round(length_s * sample_rate))
    if n <= width:
        return slice(0, n)
    times, m = loudness.momentary_loudness(vocal, sample_rate)
    e = np.where(np.isfinite(m), 10 ** (m / 10), 0.0)
    step = times[1] - times[0] if times.size > 1 else 0.1
    k = max(1, int(round(length_s / step)))
    if e.size <= k:
        return slice(0, width)
    c = np.concatenate([[0.0], np.cumsum(e)])
    best = int(np.argmax(c[k:] - c[:-k]))
    start = int(round(max(0.0, times[best] - 0.4) * sample_rate))
    start = min(start, n - width)
    return slice(start, start + width)


def _calibrate(target_read_lu: float, vocal: NDArray, backing: NDArray, sample_rate: int,
               separate, settings: ReferenceSettings) -> tuple[float, dict, PairMeasures,
                                                               PairMeasures]:
    """The ratio at which the user's pair, summed and separated, reads ``target_read_lu``
    (see the module docstring): (ratio, report, separated measures, known measures)."""
    from vocalmix.separation.metrics import si_sdr

    span = _most_active(vocal, sample_rate, settings.calibration_excerpt_s)
    v, b = vocal[:, span], backing[:, span]
    lv, lb = loudness.integrated_loudness(v, sample_rate), loudness.integrated_loudness(
        b, sample_rate)
    if not (math.isfinite(lv) and math.isfinite(lb)):
        raise ReferenceError("the vocal or the backing is silent where the vocal is most "
                             "active: the separator's bias cannot be measured")
    trial = float(target_read_lu)
    steps: list[dict] = []
    best = None
    for _ in range(max(1, settings.calibration_steps)):
        g = db_to_gain(trial - (lv - lb))
        v_known = (v * np.float32(g)).astype(np.float32)
        sv, sb = separate(v_known + b)
        sep = measure_pair(sv, sb, sample_rate, settings)
        read = sep.vocal_to_backing_lu
        steps.append({"trial_lu": trial, "separated_lu": read})
        if best is None or abs(read - target_read_lu) < abs(best[1] - target_read_lu):
            best = (trial, read, sep, v_known, sv)
        if not math.isfinite(read) or abs(read - target_read_lu) <= \
                settings.calibration_tolerance_lu:
            break
        if len(steps) >= 2 and abs(steps[-1]["trial_lu"] - steps[-2]["trial_lu"]) > 1e-6:
            slope = ((steps[-1]["separated_lu"] - steps[-2]["separated_lu"])
                     / (steps[-1]["trial_lu"] - steps[-2]["trial_lu"]))
            slope = float(np.clip(slope, 0.3, 3.0))  # the reading rises with the ratio
        else:
            slope = 1.0
        trial = float(np.clip(trial + (target_read_lu - read) / slope, -40.0, 40.0))
    trial, read, sep, v_known, sv = best
    if len(steps) >= 2 and abs(read - target_read_lu) > settings.calibration_tolerance_lu:
        # a last secant step between the two nearest readings (not verified: it costs a
        # separation; the report says so)
        (t0, r0), (t1, r1) = sorted(((s["trial_lu"], s["separated_lu"]) for s in steps),
                                    key=lambda p: abs(p[1] - target_read_lu))[:2]
        if abs(r1 - r0) > 1e-3 and abs(t1 - t0) > 1e-6:
            slope = float(np.clip((r1 - r0) / (t1 - t0), 0.3, 3.0))
            trial = float(t0 + (target_read_lu - r0) / slope)
    known = measure_pair(v_known, b, sample_rate, settings)
    report = {"excerpt_s": [span.start / sample_rate, span.stop / sample_rate],
              "steps": steps, "ratio_lu": trial,
              "converged": abs(read - target_read_lu) <= settings.calibration_tolerance_lu,
              "vocal_si_sdr_db": float(si_sdr(v_known, sv))}
    return trial, report, sep, known


def _excerpts(n: int, sample_rate: int, settings: ReferenceSettings) -> list[tuple[int, int]]:
    """The spans of a reference of ``n`` samples that are analysed (see the module
    docstring): the whole, or ``settings.excerpts`` excerpts centred at 20-80 %."""
    width = int(round(settings.excerpt_s * sample_rate))
    k = max(1, settings.excerpts)
    if n <= k * width * 1.2:
        return [(0, n)]
    centres = np.linspace(0.2, 0.8, k) if k > 1 else np.array([0.5])
    return [(int(c * n) - width // 2, int(c * n) - width // 2 + width) for c in centres]


def load_reference(path: str | Path, sample_rate: int) -> NDArray[np.float32]:
    """The reference song at ``sample_rate``, ``(channels, samples)`` (any format and rate
    soundfile reads; mono or stereo)."""
    from vocalmix.audio import AudioError, read_audio

    try:
        x, _ = read_audio(path, sample_rate=sample_rate)
    except AudioError as exc:
        raise ReferenceError(str(exc)) from None
    if x.shape[0] > 2:
        raise ReferenceError(f"{path}: {x.shape[0]} channels; a mono or stereo song expected")
    if x.shape[1] < 3 * sample_rate:
        raise ReferenceError(f"{path}: {x.shape[1] / sample_rate:.2f} s; a reference needs at "
                             "least 3 s of music")
    if not np.any(np.abs(x) > 1e-4):
        raise ReferenceError(f"{path}: the reference is silent")
    return x


def analyse_reference(path: str | Path, sample_rate: int, *, separation=None,
                      threads: int = 1, settings: ReferenceSettings = ReferenceSettings(),
                      reference_audio: NDArray | None = None) -> ReferenceTargets:
    """Separate and measure the reference at ``path`` (read at ``sample_rate``, the mix's).

    ``separation`` is a :class:`vocalmix.separation.settings.SeparationSettings` (None: the
    defaults, i.e. the pretrained separator); ``reference_audio`` passes the reference
    already read (at ``sample_rate``). The result's :meth:`ReferenceTargets.calibrate`
    separates with the same separator.

    Raises
    ------
    ReferenceError
        An unreadable, silent or too short reference; a separator that cannot run.
    """
    from vocalmix.measure.reverb_blind import estimate
    from vocalmix.separation.api import SeparationError, separate
    from vocalmix.separation.settings import SeparationSettings

    sep_settings = separation or SeparationSettings()
    x = load_reference(path, sample_rate) if reference_audio is None else reference_audio
    duration = x.shape[1] / sample_rate
    spans = _excerpts(x.shape[1], sample_rate, settings)
    if len(spans) > 1:
        x = np.concatenate([x[:, a:b] for a, b in spans], axis=1)

    def split(mixture: NDArray) -> tuple[NDArray, NDArray]:
        try:
            v, b, _ = separate(mixture, sample_rate, sep_settings, threads=threads)
        except SeparationError as exc:
            raise ReferenceError(f"{path}: {exc}") from None
        return v, b

    try:
        sv, sb, info = separate(x, sample_rate, sep_settings, threads=threads)
    except SeparationError as exc:
        raise ReferenceError(f"{path}: {exc}") from None
    separated = measure_pair(sv, sb, sample_rate, settings)
    blind = estimate(sv, sample_rate)
    sep_info = {k: v for k, v in info.items() if k in ("backend", "model", "method")}
    sep_info["duration_s"] = duration
    sep_info["analysed_s"] = [[a / sample_rate, b / sample_rate] for a, b in spans]

    reasons = []
    if not math.isfinite(separated.vocal_to_backing_lu) or \
            separated.vocal_to_backing_lu < settings.min_vocal_to_backing_lu:
        reasons.append(f"the separated vocal is {separated.vocal_to_backing_lu:.1f} LU against "
                       f"its backing (under {settings.min_vocal_to_backing_lu:g} LU)")
    if separated.vocal_active_share < settings.min_vocal_active_share:
        reasons.append(f"it sings in {100 * separated.vocal_active_share:.0f} % of the song "
                       f"(under {100 * settings.min_vocal_active_share:.0f} %)")
    reason = ("the reference looks instrumental or its vocal cannot be separated: "
              + "; ".join(reasons)) if reasons else ""
    return ReferenceTargets(path=str(path), reliable=not reasons, reason=reason,
                            separated=separated, t60_s=blind.t60_mid_s, drr_db=blind.drr_db,
                            separation=sep_info, settings=settings, split=split)
