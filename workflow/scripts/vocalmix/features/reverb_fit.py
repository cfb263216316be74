"""Genetic fit of the project's reverb to a target room (after Heise, Hlatky & Loviscach 2009).

A real-coded genetic algorithm searches the parameters of :mod:`vocalmix.dsp.reverb`
so that the descriptors of the reverb's impulse response match the target's: T60 per octave
band, EDT, C50, C80, DRR and pre-delay (:mod:`vocalmix.measure.reverb`). The target comes
from a known impulse response (:func:`fit_ir`) or, blind, from a wet recording
(:func:`fit_wet`, mid-band T60 and DRR).

Fitness (lower is better): a weighted mean of squared, normalised errors --

    T60 per band, EDT  : natural-log ratio / 0.05 (resp. 0.10)  -- 5 % (10 %) counts as 1
    C50, C80, DRR      : difference / 1 dB
    pre-delay          : difference / 5 ms

weighted by :data:`WEIGHTS`: the mid bands (500 Hz - 2 kHz) 3 each and C50 3 (the
quantities the fit must get right), the outer bands 0.5, bands whose target has too little
dynamic range 0.25 (0 when no value could be measured), EDT and pre-delay 0.5; plus a steep
penalty once the mid-band T60 misses by more than 2.5 % (:func:`_t60_penalty`), so that the
decay stays right where the reverb cannot reach the other descriptors too.

GA: genes scaled to [0, 1] (log scale for the filter frequencies), the decay coded relative
to the target (:func:`search_decoder`: every candidate decays about as long as the target);
Latin-hypercube initial population whose return level and pre-delay are read off the
target (:func:`_seed_level_time`); tournament selection (k = 3); blend crossover (BLX-0.3);
Gaussian mutation whose width shrinks from 0.2 to 0.02 over the run; children that keep a
parent's room and vary only level and pre-delay (``level_time_rate``: no render); two
elites; early stop when the best cost is below ``tolerance`` or has not improved by 1 % for
``patience`` generations. The best candidate is then analysed from a full stereo render and
its decay corrected (:func:`_polish`). Everything is seeded. ``width`` is not fitted: with a
centred source and channel-averaged descriptors it only trades level with ``wet_db``, so it
is fixed at 1.0. :func:`random_search` draws the same number of uniform candidates, for
comparison.

Speed (``vocalmix reverb-fit`` must take about a second per room): a candidate's cost is a
render of its return (mono, as long as its decay needs; a few ms) and the analysis of its
binned band energies (about 1 ms). Renders are kept per room (:class:`_Cores`), so level
and pre-delay changes only re-analyse; costs are kept per settings; the search's
coordinates and seeded start reach a good fit in about 90 evaluations and 35 renders.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import numpy as np
from numpy.typing import NDArray

from vocalmix.measure.reverb import (MID_BANDS_HZ, OCTAVE_BANDS_HZ, Descriptors, analyse_binned,
                                     analyse_ir, band_filter, bands_below_nyquist, bin_factor,
                                     binned_band_power, binned_power, preroll_samples)
from vocalmix.dsp.reverb import (RANGES, ReverbSettings, expected_t60, impulse_response,
                                 return_response, room_size_for_t60)

if TYPE_CHECKING:
    from vocalmix.measure.reverb_blind import BlindEstimate

__all__ = ["GENES", "FitResult", "cost", "decode", "search_decoder", "fit_ga", "random_search",
           "fit_ir", "fit_wet", "fit_blind", "evaluate"]

GENES = ("room_size", "size", "damping", "wet_db", "predelay_ms", "highpass_hz", "lowpass_hz")
LOG_GENES = {"highpass_hz", "lowpass_hz"}
LEVEL_TIME = np.array([GENES.index("wet_db"), GENES.index("predelay_ms")])
#: expected_t60 of a candidate relative to the target's mid-band T60: the range the first
#: gene spans in the search (the actual mid-band decay is 0.77-1.07 times expected_t60, so
#: the target's decay needs 0.93-1.3 times it)
T60_RATIO = (0.9, 1.35)
SIGMA = {"t60": 0.05, "edt": 0.10, "c50_db": 1.0, "c80_db": 1.0, "drr_db": 1.0,
         "predelay_ms": 5.0}


def decode(u: NDArray) -> ReverbSettings:
    """Genes in [0, 1] -> reverb settings (kept inside the ranges, which the logarithmic
    genes' rounding could leave by an ulp)."""
    values = {}
    for gene, x in zip(GENES, np.clip(u, 0.0, 1.0)):
        lo, hi, _ = RANGES[gene]
        if gene in LOG_GENES:
            v = math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo)))
        else:
            v = lo + x * (hi - lo)
        values[gene] = float(min(max(v, lo), hi))
    return ReverbSettings(width=1.0, **values)


def encode(s: ReverbSettings) -> NDArray:
    out = []
    for gene in GENES:
        lo, hi, _ = RANGES[gene]
        v = getattr(s, gene)
        if gene in LOG_GENES:
            out.append((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))
        else:
            out.append((v - lo) / (hi - lo))
    return np.asarray(out)


#: mid-band T60 miss (natural log) free of penalty, and the penalty's scale (_t60_penalty)
T60_MARGIN = math.log(1.025)
T60_PENALTY_SIGMA = 0.002
#: full renders correcting the best candidate's decay, and the miss needing none (_polish)
POLISH_STEPS = 2
POLISH_TOLERANCE = math.log(1.005)
WEIGHTS = {"mid_band": 3.0, "outer_band": 0.5, "low_quality_band": 0.25, "edt": 0.5,
           "c50_db": 3.0, "c80_db": 1.0, "drr_db": 1.0, "predelay_ms": 0.5}


def _band_weight(target: Descriptors, band: int) -> float:
    if target.t60_s.get(band) is None:
        return 0.0
    if target.quality.get(band, "ok") != "ok":
        return WEIGHTS["low_quality_band"]
    return WEIGHTS["mid_band"] if band in MID_BANDS_HZ else WEIGHTS["outer_band"]


def cost(fitted: Descriptors, target: Descriptors, *, blind: bool = False) -> float:
    """Weighted mean squared normalised descriptor error, plus the mid-band T60 penalty
    (see the module docstring).

    ``blind`` targets carry only a mid-band T60 (in every mid band) and a DRR.
    """
    terms: list[tuple[float, float]] = []
    if blind:
        if target.t60_mid_s and fitted.t60_mid_s:
            terms.append((3.0, math.log(fitted.t60_mid_s / target.t60_mid_s) / SIGMA["t60"]))
        if target.drr_db is not None and fitted.drr_db is not None:
            terms.append((1.0, (fitted.drr_db - target.drr_db) / SIGMA["drr_db"]))
    else:
        for band in OCTAVE_BANDS_HZ:
            w = _band_weight(target, band)
            f = fitted.t60_s.get(band)
            if w > 0:
                err = math.log(f / target.t60_s[band]) / SIGMA["t60"] if f else 20.0
                terms.append((w, err))
        if target.edt_s and fitted.edt_s:
            terms.append((WEIGHTS["edt"], math.log(max(fitted.edt_s, 1e-3)
                                                   / max(target.edt_s, 1e-3)) / SIGMA["edt"]))
        for key in ("c50_db", "c80_db", "drr_db", "predelay_ms"):
            t, f = getattr(target, key), getattr(fitted, key)
            if t is not None:
                terms.append((WEIGHTS[key], ((f - t) / SIGMA[key]) if f is not None else 20.0))
    if not terms:
        raise ValueError("the target has no usable descriptor")
    w = np.array([t[0] for t in terms])
    e = np.array([min(abs(t[1]), 100.0) for t in terms])
    return float(np.sum(w * e**2) / np.sum(w)) + _t60_penalty(fitted, target)


def _t60_penalty(fitted: Descriptors, target: Descriptors) -> float:
    """``((|ln(fitted / target mid-band T60)| - ln 1.025) / 0.002)**2`` beyond a 2.5 % miss, 0
    within: keeps the mid-band T60 within about 3 % where the reverb cannot match the other
    descriptors as well (without it the best compromise of some measured rooms misses the
    T60 by 5-16 %)."""
    t, f = target.t60_mid_s, fitted.t60_mid_s
    if not t or not f:
        return 0.0
    excess = abs(math.log(f / t)) - T60_MARGIN
    return (excess / T60_PENALTY_SIGMA) ** 2 if excess > 0 else 0.0


class _Cores:
    """The reverb's return, as octave-band energy bins, for one (room size, size, damping,
    send filters) combination: the expensive part of an evaluation (a mono render of the
    left return and seven band filters), kept (LRU) so that candidates differing only in
    wet level and pre-delay cost a composition of bins, not a render.

    The response analysed is ``impulse + g * return(t - d)`` after a pre-roll; band
    filtering and binning are linear, so its binned band energies are the impulse's plus
    ``g**2`` times the return's, shifted by ``d`` (quantised to 0.25 ms bins; the cross term
    between the impulse and the return, which overlap only within the filters' ringing,
    is left out -- the search's model; final descriptors come from a full render).
    """

    def __init__(self, sample_rate: float, size: int = 96):
        self.sr = float(sample_rate)
        self.size = size
        self.k = bin_factor(self.sr)
        self.rate = self.sr / self.k
        self.pre = -(-preroll_samples(self.sr) // self.k) * self.k  # a whole number of bins
        self.d0 = self.pre // self.k
        self.max_delay = int(np.ceil(RANGES["predelay_ms"][1] / 1000.0 * self.rate))
        self.store: OrderedDict = OrderedDict()
        self.bands = bands_below_nyquist(self.sr)
        unit = np.zeros(self.pre + self.k)
        unit[self.pre] = 1.0
        self.unit_bins = {b: binned_power(band_filter(unit, b, self.sr), self.k)
                          for b in self.bands}
        self.renders = 0

    def get(self, s: ReverbSettings) -> tuple[NDArray, dict[int, NDArray]]:
        key = (s.room_size, s.size, s.damping, s.highpass_hz, s.lowpass_hz)
        if key in self.store:
            self.store.move_to_end(key)
            return self.store[key]
        core = ReverbSettings(room_size=s.room_size, size=s.size, damping=s.damping, width=1.0,
                              wet_db=0.0, predelay_ms=0.0, highpass_hz=s.highpass_hz,
                              lowpass_hz=s.lowpass_hz)
        n = int((0.75 * expected_t60(s.room_size, s.size) + 0.1) * self.sr)
        full = np.zeros(self.pre + n)
        full[self.pre:] = return_response(core, self.sr, n)
        value = (binned_power(full, self.k),
                 dict(zip(self.bands, binned_band_power(full, self.bands, self.sr, self.k))))
        self.store[key] = value
        self.renders += 1
        if len(self.store) > self.size:
            self.store.popitem(last=False)
        return value

    def descriptors(self, s: ReverbSettings) -> Descriptors:
        full, bands = self.get(s)
        g2 = 10 ** (s.wet_db / 10.0)
        d = int(round(s.predelay_ms / 1000.0 * self.rate))

        def place(x: NDArray) -> NDArray:
            out = np.zeros(x.size + self.max_delay)
            out[d: d + x.size] = g2 * x
            return out

        bb = place(full)
        bb[self.d0] += 1.0
        composed = {}
        for b, xb in bands.items():
            y = place(xb)
            y[: self.unit_bins[b].size] += self.unit_bins[b]
            composed[b] = y
        return analyse_binned(bb, composed, self.rate, self.d0, sample_rate=self.sr)


_CORES: dict[float, _Cores] = {}


def evaluate(settings: ReverbSettings, sample_rate: float, *, channels: str = "left"
             ) -> Descriptors:
    """Descriptors of the reverb's impulse response.

    ``channels="left"`` (the search) analyses the left channel only, composed from cached
    parts (the two channels are statistically alike; it halves the cost). ``"both"``
    renders the full stereo response and analyses it like any measured one.
    """
    if channels == "both":
        return analyse_ir(impulse_response(settings, sample_rate), sample_rate)
    return _cores(sample_rate).descriptors(settings)


def _cores(sample_rate: float) -> _Cores:
    """The store of rendered returns at ``sample_rate`` (made on first use)."""
    cores = _CORES.get(float(sample_rate))
    if cores is None:
        cores = _CORES[float(sample_rate)] = _Cores(sample_rate)
    return cores


@dataclass
class FitResult:
    settings: ReverbSettings
    fitted: Descriptors
    target: Descriptors
    cost: float
    evaluations: int
    seconds: float
    method: str
    history: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"params": self.settings.to_dict(), "target": self.target.to_dict(),
                "fitted": self.fitted.to_dict(), "cost": self.cost,
                "evaluations": self.evaluations, "seconds": self.seconds, "method": self.method,
                "history": self.history}


def search_decoder(target: Descriptors) -> Callable[[NDArray], ReverbSettings]:
    """Genes in [0, 1] -> reverb settings, with the first two genes coding the decay
    relative to the target instead of ``room_size`` and ``size``: the first sets the
    candidate's :func:`~vocalmix.dsp.reverb.expected_t60` to the target's mid-band T60 times
    :data:`T60_RATIO` (0.9 to 1.35, log scale); the second places ``size`` within the sizes
    that reach that decay (the expected T60 is proportional to ``size``, from 0.6 s at
    ``room_size`` 0 to 7.2 s at 0.98, at ``size`` 1); ``room_size`` follows.

    Every candidate then decays about as long as the target (with plain genes most of the
    box is far from any given room, and a smaller ``size`` shortens the decay), so the GA
    needs a fraction of the renders, and each render is about as long as the target's
    decay (``room_size`` 0.98 at ``size`` 1, 7 s, costs 30 times a 0.2-s room). Plain
    :func:`decode` where the target has no mid-band T60.
    """
    reference = target.t60_mid_s
    if not reference:
        return decode
    size_lo, size_hi, _ = RANGES["size"]
    t60_per_size = (expected_t60(RANGES["room_size"][0]), expected_t60(RANGES["room_size"][1]))

    def decoder(u: NDArray) -> ReverbSettings:
        s = decode(u)
        x = np.clip(u[:2], 0.0, 1.0)
        lo, hi = T60_RATIO
        t60 = reference * lo * (hi / lo) ** float(x[0])
        # sizes whose room_size range contains t60 (the nearest bound where none does)
        smallest = min(max(t60 / t60_per_size[1], size_lo), size_hi)
        largest = min(max(t60 / t60_per_size[0], smallest), size_hi)
        size = smallest + float(x[1]) * (largest - smallest)
        return replace(s, size=size, room_size=room_size_for_t60(t60, size))

    return decoder


class _Objective:
    """Cost of gene vectors, counted, with the cost of every settings seen kept (genes
    clipped to the box, or a decay beyond the reverb's range, give the same settings again)."""

    def __init__(self, target: Descriptors, sample_rate: float, blind: bool,
                 decoder: Callable[[NDArray], ReverbSettings] = decode):
        self.target, self.sr, self.blind, self.decode = target, sample_rate, blind, decoder
        self.evaluations = 0
        self.seen: dict[ReverbSettings, float] = {}

    def __call__(self, u: NDArray) -> float:
        self.evaluations += 1
        settings = self.decode(u)
        if settings not in self.seen:
            try:
                self.seen[settings] = cost(evaluate(settings, self.sr), self.target,
                                           blind=self.blind)
            except ValueError:
                self.seen[settings] = 1e6
        return self.seen[settings]


def _finish(best_u: NDArray, obj: _Objective, t0: float, method: str,
            history: list[float]) -> FitResult:
    """The best candidate's full (stereo) descriptors, after :func:`_polish`."""
    settings, fitted, best = _polish(obj.decode(best_u), obj)
    return FitResult(settings=settings, fitted=fitted, target=obj.target, cost=best,
                     evaluations=obj.evaluations, seconds=time.perf_counter() - t0,
                     method=method, history=history)


def _polish(settings: ReverbSettings, obj: _Objective
            ) -> tuple[ReverbSettings, Descriptors, float]:
    """Settings, full descriptors and cost of the best of ``settings`` and up to
    :data:`POLISH_STEPS` corrections of its ``room_size`` towards the target's mid-band T60,
    each analysed from a full stereo render (counted as an evaluation).

    The search analyses one channel composed from parts; the two channels' mean decays
    differ from it by about 1 % (up to 3 %), which the T60 penalty would otherwise pass
    on to the result. A step scales the candidate's expected_t60 by the remaining ratio
    (the actual-to-expected ratio varies slowly with ``room_size``)."""
    fitted = evaluate(settings, obj.sr, channels="both")
    best = (settings, fitted, cost(fitted, obj.target, blind=obj.blind))
    want = obj.target.t60_mid_s
    for _ in range(POLISH_STEPS if want else 0):
        got = fitted.t60_mid_s
        if not got or abs(math.log(got / want)) < POLISH_TOLERANCE:
            break
        t60 = expected_t60(settings.room_size, settings.size) * want / got
        settings = replace(settings, room_size=room_size_for_t60(t60, settings.size))
        obj.evaluations += 1
        fitted = evaluate(settings, obj.sr, channels="both")
        c = cost(fitted, obj.target, blind=obj.blind)
        if c < best[2]:
            best = (settings, fitted, c)
    return best


def _seed_level_time(u: NDArray, obj: _Objective) -> NDArray:
    """``u`` with the return's level and pre-delay read off the target: ``wet_db`` such that
    the candidate's return (rendered for the purpose; the render is kept) gives the target's
    DRR against the unit direct sound, ``predelay_ms`` the target's pre-delay. The GA then
    starts from rooms whose level and gap are right, the cheap genes it otherwise needs
    many generations for."""
    v = u.copy()
    target = obj.target
    if target.predelay_ms is not None:
        lo, hi, _ = RANGES["predelay_ms"]
        v[GENES.index("predelay_ms")] = (target.predelay_ms - lo) / (hi - lo)
    if target.drr_db is not None:
        broadband, _ = _cores(obj.sr).get(obj.decode(u))
        lo, hi, _ = RANGES["wet_db"]
        wet = -target.drr_db - 10.0 * math.log10(max(float(broadband.sum()), 1e-30))
        v[GENES.index("wet_db")] = (wet - lo) / (hi - lo)
    return np.clip(v, 0.0, 1.0)


def fit_ga(target: Descriptors, sample_rate: float, *, seed: int = 0, population: int = 16,
           max_evaluations: int = 96, tolerance: float = 0.25, patience: int = 8,
           level_time_rate: float = 0.7, blind: bool = False) -> FitResult:
    """Genetic fit of the reverb to ``target`` (see the module docstring)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    obj = _Objective(target, sample_rate, blind, search_decoder(target))
    n = len(GENES)
    # Latin hypercube start
    pop = (rng.permuted(np.tile(np.arange(population), (n, 1)), axis=1).T
           + rng.uniform(size=(population, n))) / population
    pop = np.array([_seed_level_time(u, obj) for u in pop])
    fit = np.array([obj(u) for u in pop])
    history = [float(fit.min())]
    generations = max(1, (max_evaluations - population) // max(1, population - 2))
    stale = 0
    for g in range(generations):
        if (fit.min() < tolerance
                or obj.evaluations + population - 2 + POLISH_STEPS > max_evaluations):
            break
        sigma = 0.2 * (0.1 ** (g / max(1, generations - 1)))
        order = np.argsort(fit)
        children = [pop[order[0]].copy(), pop[order[1]].copy()]  # elites
        while len(children) < population:
            parents = []
            for _ in range(2):
                k = rng.choice(population, size=3, replace=False)
                parents.append(pop[k[np.argmin(fit[k])]])
            if rng.uniform() < level_time_rate:
                # keep the winner's room (cheap to evaluate: its render is cached) and vary
                # only the return's level and pre-delay
                child = parents[0].copy()
                child[LEVEL_TIME] += rng.normal(0.0, 2 * sigma, size=len(LEVEL_TIME))
            else:
                lo, hi = np.minimum(*parents), np.maximum(*parents)
                span = hi - lo
                child = rng.uniform(lo - 0.3 * span, hi + 0.3 * span)
                mutate = rng.uniform(size=n) < 0.5
                child = child + mutate * rng.normal(0.0, sigma, size=n)
            children.append(np.clip(child, 0.0, 1.0))
        pop = np.asarray(children)
        fit = np.concatenate([fit[order[:2]], [obj(u) for u in pop[2:]]])
        best = float(fit.min())
        stale = stale + 1 if best > history[-1] * 0.99 else 0
        history.append(best)
        if stale >= patience:
            break
    return _finish(pop[int(np.argmin(fit))], obj, t0, "ga", history)


def random_search(target: Descriptors, sample_rate: float, *, seed: int = 0,
                  evaluations: int = 256, blind: bool = False) -> FitResult:
    """Uniform random candidates (the GA's baseline at an equal number of evaluations,
    :func:`_polish` included)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    obj = _Objective(target, sample_rate, blind)
    best_u, best = None, math.inf
    history = []
    for _ in range(max(1, evaluations - POLISH_STEPS)):
        u = rng.uniform(size=len(GENES))
        c = obj(u)
        if c < best:
            best_u, best = u, c
        history.append(best)
    return _finish(best_u, obj, t0, "random", history[:: max(1, evaluations // 20)])


def fit_ir(ir: NDArray, sample_rate: float, **kwargs) -> FitResult:
    """Fit the reverb to a known impulse response ``(channels, samples)``."""
    return fit_ga(analyse_ir(ir, sample_rate), sample_rate, **kwargs)


def fit_wet(wet: NDArray, sample_rate: float, **kwargs) -> FitResult:
    """Fit the reverb to a wet recording, from blindly estimated mid-band T60 and DRR."""
    from vocalmix.measure.reverb_blind import estimate

    return fit_blind(estimate(wet, sample_rate), sample_rate, **kwargs)


def fit_blind(est: BlindEstimate, sample_rate: float, **kwargs) -> FitResult:
    """Fit the reverb to a blind estimate of a wet recording (mid-band T60 and DRR)."""
    if est.t60_mid_s is None:
        raise ValueError("no free decay found in the recording: cannot estimate its reverb")
    target = Descriptors(t60_s={b: est.t60_mid_s for b in MID_BANDS_HZ},
                         t60_method={b: "blind" for b in MID_BANDS_HZ},
                         quality={b: "ok" for b in MID_BANDS_HZ}, dynamic_range_db={},
                         edt_s=None, c50_db=None, c80_db=None, drr_db=est.drr_db,
                         predelay_ms=None, sample_rate=sample_rate,
                         extra={"blind": est.to_dict()})
    return fit_ga(target, sample_rate, blind=True, **kwargs)
