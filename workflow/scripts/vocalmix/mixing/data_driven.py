"""The data-driven system (proposal IV.B, ``data_driven``): trained models choose the recipe.

1. Windows: the vocal and the backing, each loudness-normalised to -23 LUFS as in training,
   cut into the training's analysis windows (``window_s`` long, every ``hop_s``) of log-mels.
2. Predictions per window from each task model (``results/models/<task>/model.pt``),
   smoothed with a centred moving average over ``smooth_windows`` windows (the proposal:
   "the model output may be smoothed by a moving-average filter"), then summarised over the
   song -- the level over the windows where the vocal sings (silent windows have no
   prediction, as they had no target).
3. The recipe, rendered by the same chain as every other system:
   * EQ: the predicted third-octave correction curve fitted with up to six peaking filters
     (Q 1.41, one octave; greedy on the largest remaining deviation between 100 Hz and
     10 kHz, then the gains re-fitted by least squares on the filters' actual responses,
     beside a free broadband offset that is dropped: the gain is the level's decision);
   * compression: the threshold searched (as in the rule-based system) until the wet vocal's
     loudness range is the predicted one;
   * reverb: the predicted mid-band T60 (mapped to room size and size), damping and
     pre-delay, with the send filtered 200 Hz - 8 kHz; its return level set until the wet
     take's blind DRR reads the predicted one (the search starting 9 LU under the take), none
     for a take already as wet (:class:`DataDrivenSettings`);
   * level: per window, the predicted ratio minus the wet vocal's measured ratio over the
     processed backing (measured as the training targets were); the gain is their mean over
     the windows where the vocal sings.
   The vocal high-pass and optional pitch correction are those of the rule-based system.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vocalmix.measure import loudness
from vocalmix.dsp import chain
from vocalmix.dsp.recipe import MixRecipe, VocalRecipe
from vocalmix.dsp.reverb import RANGES, ReverbSettings, reverb_return
from vocalmix.features.extract import WindowSettings
from vocalmix.mixing.base import MixChoice, MixContext, RenderedVocal
from vocalmix.mixing.common import (VOCAL_COMPRESSOR, RangeMeter, ToneSettings,
                                    compress_to_range, eq_from_curve, gain_on_meter, match_drr,
                                    prepare_vocal, return_level_db, room_for_t60,
                                    search_threshold, tonal_eq, vocal_highpass_hz)

log = logging.getLogger(__name__)

__all__ = ["load_models", "model_windows", "moving_average", "predict", "eq_from_curve",
           "DataDrivenSettings", "DataDrivenMixer", "decisions"]

TASKS = ("level", "eq", "compression", "reverb")


def _check_model_dir(model_dir: str | Path) -> Path:
    root = Path(model_dir)
    missing = [t for t in TASKS if not (root / t / "model.pt").exists()]
    if missing:
        raise FileNotFoundError(f"{root}: no trained model for {', '.join(missing)} (expected "
                                f"{root}/<task>/model.pt; train with snakemake)")
    return root


def load_models(model_dir: str | Path) -> dict:
    """The task predictors in ``model_dir`` (one sub-folder per task), in numpy
    (:class:`vocalmix.models.inference.NumpyPredictor`: torch's predictions without
    importing torch, which cost more CPU time than the four networks' forward passes)."""
    from vocalmix.models.inference import NumpyPredictor

    root = _check_model_dir(model_dir)
    return {t: NumpyPredictor.load(root / t / "model.pt") for t in TASKS}


def window_settings(spec: dict, hop_s: float | None = None) -> WindowSettings:
    """The analysis-window settings the models were trained with (``hop_s`` overrides);
    keys the model's description lacks take the config schema's defaults."""
    win = WindowSettings.from_mapping({"window_s": spec["window_s"], **spec.get("windows", {})})
    return win if hop_s is None else dataclasses.replace(win, hop_s=float(hop_s))


def model_windows(vocal: NDArray, backing: NDArray, sample_rate: int, spec: dict,
                  win: WindowSettings) -> tuple[NDArray, NDArray, NDArray]:
    """(windows ``(n, 2, n_mels, frames)``, start times, silent flags) as in training:
    every ``win.hop_s``, silent as judged by ``win.gate_lu`` and
    ``win.min_active_fraction``."""
    return _model_windows(vocal, backing, sample_rate, spec, win)[:3]


def _model_windows(vocal: NDArray, backing: NDArray, sample_rate: int, spec: dict,
                   win: WindowSettings, *, backing_side=None):
    """:func:`model_windows`, and the loudness analyses of ``vocal`` and ``backing`` it
    made (each signal is analysed once: its level normalisation and the silent windows, the
    backing's level later). ``backing_side``: :func:`_analysed_mel` of ``backing`` (or a
    future of it) where the caller started it earlier; otherwise it runs in a thread beside
    the vocal's."""
    from concurrent.futures import ThreadPoolExecutor

    from vocalmix.models.dataset import window_frames
    from vocalmix.features.extract import active_blocks

    if spec["sample_rate"] != sample_rate:
        raise ValueError(f"the models were trained at {spec['sample_rate']} Hz; audio is at "
                         f"{sample_rate} Hz")
    if backing_side is None:
        with ThreadPoolExecutor(1) as pool:
            b_side = pool.submit(_analysed_mel, backing, sample_rate, spec)
            v, res, mel = _analysed_mel(vocal, sample_rate, spec)
            b, res_b, _ = b_side.result()
    else:
        v, res, mel = _analysed_mel(vocal, sample_rate, spec)
        b, res_b, _ = (backing_side.result() if hasattr(backing_side, "result")
                       else backing_side)
    duration = np.atleast_2d(backing).shape[1] / sample_rate
    starts = np.arange(0.0, max(0.0, duration - spec["window_s"]) + 1e-9, win.hop_s)
    first, frames = window_frames(list(starts), spec["window_s"], mel)
    keep = first + frames <= min(v.shape[1], b.shape[1])
    starts, first = starts[keep], first[keep]
    windows = np.stack([np.stack([v[:, f: f + frames], b[:, f: f + frames]]) for f in first]) \
        if len(first) else np.zeros((0, 2, spec["n_mels"], frames), np.float32)
    act = active_blocks(res, win.gate_lu)
    step = res.block_step_s
    per = int(round((spec["window_s"] - loudness.BLOCK_S) / step)) + 1
    silent = np.array([act[int(round(s / step)): int(round(s / step)) + per].mean()
                       < win.min_active_fraction
                       if act.size else True for s in starts], dtype=bool)
    return windows.astype(np.float32), starts, silent, res, res_b


def _analysed_mel(audio: NDArray, sample_rate: int, spec: dict,
                  res: "loudness.LoudnessResult | None" = None):
    """(log-mel of the channel mean of ``audio`` normalised to the training's level, the
    loudness analysis behind the normalisation -- ``res`` where the caller made it -- and
    the :class:`~vocalmix.measure.mel.LogMel` of ``spec``): one side of the models'
    windows."""
    from vocalmix.measure.mel import LogMel
    from vocalmix.models.dataset import normalise_level

    audio = np.atleast_2d(audio)
    res = loudness.analyse(audio, sample_rate) if res is None else res
    mel = LogMel(sample_rate, spec["n_fft"], spec["hop"], spec["n_mels"])
    return (mel(normalise_level(audio, sample_rate, lufs=res.integrated_lufs).mean(axis=0)),
            res, mel)


def _backing_side(backing: NDArray, sample_rate: int, models):
    """:func:`_analysed_mel` of ``backing`` for the models that ``models()`` gives (their
    input's settings), its loudness analysed while they load; None where the models were
    trained at another rate (:func:`_model_windows` says so)."""
    res = loudness.analyse(np.atleast_2d(backing), sample_rate)
    spec = models()["eq"].meta["input"]
    return (_analysed_mel(backing, sample_rate, spec, res)
            if spec["sample_rate"] == sample_rate else None)


def moving_average(values: NDArray, width: int) -> NDArray:
    """Centred moving average along axis 0, NaN-aware, shortened at the edges."""
    values = np.asarray(values, dtype=np.float64)
    if width <= 1 or len(values) == 0:
        return values
    out = np.empty_like(values)
    half = width // 2
    for i in range(len(values)):
        seg = values[max(0, i - half): i + half + 1]
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[i] = np.nanmean(seg, axis=0)
    return out


def _forward(models: dict, windows: NDArray) -> dict:
    """Each model's raw predictions on ``windows``: one after the other for the numpy
    predictors that :func:`load_models` gives (two threads were no faster under load), side by side
    for torch predictors (in memory, e.g. the evaluation's).

    Torch models run side by side in threads, each op on ``cores / models`` of torch's
    threads (one each on two cores), instead of one after another with every op split
    over all the cores: a small network's ops are too short to share well (on the 2-core
    reference machine two torch threads spent twice the CPU time of one for no gain in
    wall time under load). The numbers are the same: an op's arithmetic does not depend on
    how many threads run it or on which (``tests/unit/test_speed_paths.py``). torch's
    thread count is restored afterwards.
    """
    nets = sys.modules.get("vocalmix.models.nets")  # loaded only where torch is
    torch_models = nets is not None and all(isinstance(m, nets.Predictor)
                                            for m in models.values())
    torch = sys.modules.get("torch") if torch_models else None
    cores = torch.get_num_threads() if torch is not None else 1
    workers = min(len(models), cores)
    if workers <= 1:
        return {task: model(windows) for task, model in models.items()}
    from concurrent.futures import ThreadPoolExecutor

    torch.set_num_threads(max(1, cores // workers))
    try:
        with ThreadPoolExecutor(workers) as pool:
            futures = {task: pool.submit(model, windows) for task, model in models.items()}
            return {task: f.result() for task, f in futures.items()}
    finally:
        torch.set_num_threads(cores)


def predict(models: dict, windows: NDArray, silent: NDArray, smooth_windows: int = 5) -> dict:
    """Smoothed per-window predictions and their song-level summaries."""
    out: dict = {}
    raws = _forward(models, windows)
    for task, model in models.items():
        raw = raws[task]
        if task == "level":
            raw = np.where(silent[:, None], np.nan, raw)
        out[task] = moving_average(raw, smooth_windows)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            eq = np.nanmean(out["eq"], axis=0)
            names = _names(models["eq"], eq.size, "eq_")
            reverb = np.nanmean(out["reverb"], axis=0)
            rnames = _names(models["reverb"], reverb.size, "reverb_")
            tone = [k for k, n in enumerate(names) if n.startswith("tone_")]
            summary = {
                "vocal_to_backing_lu": float(np.nanmean(out["level"][:, 0])),
                "eq_correction_db": eq[[k for k, n in enumerate(names) if n.startswith("eq_")]],
                "tone_db": eq[tone] if tone else None,
                "vocal_lra_lu": float(np.nanmean(out["compression"][:, 0])),
                "reverb": reverb,
                "drr_db": (float(reverb[rnames.index("reverb_drr_db")])
                           if "reverb_drr_db" in rnames else None),
            }
    return {"windows": out, "summary": summary}


def _names(model, n: int, prefix: str) -> list[str]:
    """A task model's output names (its ``targets``; a model without them: ``n`` outputs of
    the task's first kind)."""
    names = list(getattr(model, "targets", None) or [])
    return names if len(names) == n else [f"{prefix}{k}" for k in range(n)]


def window_gain(wet_vocal: NDArray, backing_stem: NDArray, sample_rate: int,
                predicted: NDArray, starts: NDArray, win: WindowSettings, *,
                vocal_meter: "loudness.LoudnessResult | None" = None,
                backing_meter: "loudness.LoudnessResult | None" = None
                ) -> tuple[float, dict]:
    """Vocal gain (dB) from per-window predictions of the vocal-to-backing ratio (IV.B.1:
    "the vocal gain will be calculated based on the current relative loudness and the model
    output"): the current ratio of each window is measured exactly as the training targets
    were (:func:`vocalmix.features.extract.window_table`), and the gain is the mean of
    predicted minus measured over the windows where the vocal sings. ``vocal_meter``,
    ``backing_meter``: the loudness analyses of ``wet_vocal`` and ``backing_stem`` where the
    caller has them."""
    from vocalmix.features.extract import window_table

    res_v = loudness.analyse(wet_vocal, sample_rate) if vocal_meter is None else vocal_meter
    res_b = (loudness.analyse(backing_stem, sample_rate) if backing_meter is None
             else backing_meter)
    rows = window_table(res_v, res_b, res_b, window_s=win.window_s, hop_s=win.hop_s,
                        gate_lu=win.gate_lu, min_active_fraction=win.min_active_fraction)
    measured = {round(r["start_s"], 3): r["vocal_to_backing_lu"] for r in rows
                if r["vocal_to_backing_lu"] is not None}
    diffs = [p - measured[round(float(t), 3)] for p, t in zip(predicted, starts)
             if math.isfinite(p) and round(float(t), 3) in measured]
    if not diffs:
        raise ValueError("no window where the vocal sings has a level prediction")
    gain = float(np.clip(np.mean(diffs), -60.0, 40.0))
    return gain, {"level_windows": len(diffs), "level_window_spread_lu": float(np.std(diffs))}


def decisions(pred_summary: dict, meta_eq_bands: list[float], sample_rate: int) -> dict:
    """Predicted targets -> concrete EQ bands, target range, reverb settings, target level."""
    log_t60, damping, wet_db, predelay = pred_summary["reverb"][:4]
    t60 = float(math.exp(log_t60)) if math.isfinite(log_t60) else 1.0
    room, size = room_for_t60(float(np.clip(t60, 0.15, 6.0)))
    reverb = ReverbSettings(room_size=room, size=size, width=1.0,
                            damping=float(np.clip(damping, *RANGES["damping"][:2])),
                            wet_db=float(np.clip(wet_db, *RANGES["wet_db"][:2])),
                            predelay_ms=float(np.clip(predelay, *RANGES["predelay_ms"][:2])),
                            highpass_hz=200.0, lowpass_hz=8000.0)
    return {"eq": eq_from_curve(pred_summary["eq_correction_db"], meta_eq_bands, sample_rate),
            "vocal_lra_lu": pred_summary["vocal_lra_lu"], "reverb": reverb,
            "predicted_t60_s": t60,
            "vocal_to_backing_lu": pred_summary["vocal_to_backing_lu"]}


@dataclass(frozen=True)
class DataDrivenSettings:
    """How the data-driven system turns predictions into settings (issue 21: input-aware).

    ``eq_from``: ``"correction"``, the predicted correction curve fitted as it is, or
    ``"tone"`` -- toward the predicted tonal balance of the processed vocal
    (:func:`vocalmix.mixing.common.tonal_eq`; a band is corrected beyond ``tone_tolerance``
    times the model's validation RMSE there; a model without the balance falls back to the
    correction). Chosen on the demo's validation split (6 songs,
    ``benchmarks/quality.py``): the correction gave mel distance 0.84 dB, centroid error
    50 Hz, LRA error 0.67 LU; the balance 0.88 dB, 53 Hz, 1.07 LU.
    ``reverb_level_from``: ``"drr"`` -- the return level for the predicted blind DRR of the
    processed vocal, none for a take already as wet (:func:`vocalmix.mixing.common.
    match_drr`, ``drr_steps`` levels tried, ``drr_tolerance_db``, ``wet_margin_db``) -- or
    ``"wet_db"``, the predicted level as it is (validation: T60 error 37 % with the DRR,
    53 % with the predicted level; mel distance 0.84 and 1.08 dB).
    ``first_return_lu``: where the DRR search starts -- a number, at the level that puts the
    return that many LU from the take as it sits in the mix (the rules' calibration and
    their level, ``RuleSettings.reverb_level_lu``); None, at the predicted level. The
    search keeps its first level when the wet take's DRR cannot be read, or reads wetter as
    the return falls (the blind DRR near its detection limit), so the start matters: the
    predicted level was -0.9 to -4.3 dB on such songs, far wetter than the professional
    mixes. Chosen on validation splits: the default demo's 6 songs (None -> -9 LU: mel
    distance 0.88 -> 0.72 dB, centroid error 51 -> 44 Hz, MR-STFT 0.483 -> 0.427; loudness
    error 0.30 -> 0.60 LU and LRA error 0.78 -> 1.03 LU, each from one song) and the model
    study's 36 (``benchmarks/configs/model_study.yaml``: MR-STFT 0.510 -> 0.465, Holm-corrected
    Wilcoxon p 0.008; mel 1.08 -> 1.00 dB and centroid 68 -> 63 Hz, p 0.065; loudness,
    balance, LRA and T60 errors not significantly different).
    """

    eq_from: str = "correction"
    tone_tolerance: float = 1.0
    tone: ToneSettings = ToneSettings()
    reverb_level_from: str = "drr"
    drr_steps: int = 3
    drr_tolerance_db: float = 0.5
    wet_margin_db: float = 1.0
    first_return_lu: float | None = -9.0

    def __post_init__(self):
        for name, allowed in (("eq_from", ("correction", "tone")),
                              ("reverb_level_from", ("drr", "wet_db"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not "
                                 f"{getattr(self, name)!r}")


def _first_level(ret_0db: NDArray, take: NDArray, sample_rate: int,
                 predicted: ReverbSettings, return_lu: float | None) -> ReverbSettings:
    """The reverb at the first level the DRR search tries: the predicted one
    (``return_lu`` None, or loudness that cannot be measured), else the level at which the
    return (``ret_0db``, rendered at 0 dB) is ``return_lu`` LU from ``take`` as the take sits
    in the mix (:func:`vocalmix.mixing.common.return_level_db`)."""
    if return_lu is None:
        return predicted
    wet_db = return_level_db(ret_0db, sample_rate,
                             loudness.integrated_loudness(take, sample_rate),
                             np.atleast_2d(take).shape[0], return_lu)
    return predicted if wet_db is None else predicted.clipped(wet_db=float(wet_db))


class DataDrivenMixer:
    """The data-driven system (see the module docstring): reads ``context.models`` (or
    loads them from ``context.model_dir``), ``smooth_windows``, ``hop_s`` and
    ``pitch_correct``."""

    name = "data_driven"
    needs_genre = False

    def __init__(self, settings: DataDrivenSettings = DataDrivenSettings()):
        self.settings = settings

    def choose(self, vocal: NDArray, backing: NDArray, sample_rate: int,
               context: MixContext) -> MixChoice:
        """Choose a recipe with the trained models (see the module docstring).

        Raises
        ------
        ValueError
            Without models or a model directory in ``context``, for a song shorter than one
            analysis window, or a vocal silent in every window.
        FileNotFoundError
            For a model directory without a trained model of every task.
        """
        from concurrent.futures import ThreadPoolExecutor

        from vocalmix.dsp.effects import apply_eq, apply_highpass

        if context.models is None and context.model_dir is None:
            raise ValueError("the data_driven system needs a trained model directory "
                             "(results/models after a pipeline run; --model DIR on the "
                             "command line)")
        # two threads beside the take's preparation (cleanup and pitch correction run in
        # numpy/scipy code that releases the GIL): torch's import and the checkpoints, and
        # the backing's side of the windows (its loudness, then its log-mel once the models
        # say how); later the high-pass beside the vocal's side. The same numbers, each
        # computed as before, a second or two less on two cores
        vocal = np.atleast_2d(np.asarray(vocal, dtype=np.float32))
        backing = np.atleast_2d(np.asarray(backing, dtype=np.float32))
        with ThreadPoolExecutor(2) as pool:
            if context.models is not None:
                source, loaded = "in memory", None
            else:
                source = str(_check_model_dir(context.model_dir))
                loaded = pool.submit(load_models, context.model_dir)

            def the_models() -> dict:
                return context.models if loaded is None else loaded.result()

            backing_side = pool.submit(_backing_side, backing, sample_rate, the_models)
            analysis: dict = {"models": source}
            x, pc, corrected, prep = prepare_vocal(vocal, backing, sample_rate, context)
            models = the_models()

            def highpassed():
                cutoff = vocal_highpass_hz(x, sample_rate)
                return cutoff, apply_highpass(x, sample_rate, cutoff)

            highpass_future = pool.submit(highpassed)
            prep.pop("key", None)
            analysis.update(prep)
            meta = models["eq"].meta
            win = window_settings(meta["input"], context.hop_s)
            windows, starts, silent, _, backing_meter = _model_windows(
                x, backing, sample_rate, meta["input"], win, backing_side=backing_side)
            if len(windows) == 0:
                raise ValueError(f"the song is shorter than one {meta['input']['window_s']} "
                                 "s window")
            if silent.all():
                raise ValueError("the vocal is silent in every window")
            smooth_windows = context.smooth_windows
            pred = predict(models, windows, silent, smooth_windows)
            highpass, x_hp = highpass_future.result()
        d = decisions(pred["summary"], meta["eq_bands_hz"], sample_rate)
        ref = context.reference
        use_ref = ref is not None and ref.reliable
        if ref is not None:
            analysis["reference"] = ref.analysis()
            analysis["targets_from"] = "reference" if use_ref else "models"
        if use_ref:  # as separated; calibrated once the vocal branch is rendered
            d["vocal_lra_lu"] = ref.separated.vocal_lra_lu
        s = self.settings
        # input-aware EQ (issue 21): toward the predicted tonal balance of the processed
        # vocal, correcting only what lies beyond the model's own validation error per band
        tone, tone_rmse = pred["summary"].get("tone_db"), models["eq"].meta.get("tone_rmse_db")
        if s.eq_from == "tone" and tone is not None and tone_rmse is not None:
            spread = 2.0 * s.tone_tolerance * np.asarray(tone_rmse, dtype=float)
            d["eq"], analysis["tonal_eq"] = tonal_eq(x_hp, sample_rate, tone, spread, s.tone,
                                                     whose="the predicted")
        x_eq = apply_eq(x_hp, sample_rate, d["eq"]) if d["eq"] else x_hp
        x_hp = None
        # the compressor's threshold is first searched on the dry vocal, which does not
        # depend on the reverb: that search runs in a thread beside the reverb's level and
        # compress_to_range finds its ranges measured (the same thresholds, the same numbers)
        ranges = RangeMeter(x_eq, sample_rate, VOCAL_COMPRESSOR)
        with ThreadPoolExecutor(1) as pool:
            searched = pool.submit(search_threshold, x_eq, sample_rate, d["vocal_lra_lu"],
                                   meter=ranges)
            # input-aware reverb: the return level for the predicted wetness of the
            # processed vocal (its blind DRR), none for a take already as wet
            drr = pred["summary"].get("drr_db")
            if s.reverb_level_from == "drr" and drr is not None and math.isfinite(drr):
                predicted = d["reverb"]

                def first_guess():  # the return at 0 dB, and the first level to try
                    ret = reverb_return(x_eq, sample_rate, predicted.clipped(wet_db=0.0))
                    return ret, _first_level(ret, x_eq, sample_rate, predicted,
                                             s.first_return_lu)

                d["reverb"], analysis["reverb_level"] = match_drr(
                    x_eq, sample_rate, first_guess, drr, {"predicted_wet_db": predicted.wet_db},
                    steps=s.drr_steps, tolerance_db=s.drr_tolerance_db,
                    margin_db=s.wet_margin_db, whose="the predicted")
            searched.result()
        threshold, reached, reachable, wet, wet_meter = compress_to_range(
            x_eq, sample_rate, d["vocal_lra_lu"], d["reverb"], meter=ranges)
        b_stem = chain.process_backing(backing, sample_rate, MixRecipe(system=self.name))
        if use_ref:  # the reference's ratio, measured over the whole songs as it was
            cal = ref.calibrate(wet[:, : backing.shape[1]], b_stem, sample_rate)
            analysis["reference"] = ref.analysis(cal)
            if abs(cal.vocal_lra_lu - d["vocal_lra_lu"]) > 0.5:
                d["vocal_lra_lu"] = cal.vocal_lra_lu
                threshold, reached, reachable, wet, wet_meter = compress_to_range(
                    x_eq, sample_rate, d["vocal_lra_lu"], d["reverb"], meter=ranges)
            d["vocal_to_backing_lu"] = cal.vocal_to_backing_lu
            l_back = loudness.integrated_loudness(b_stem, sample_rate)
            meter = (wet_meter if wet.shape[1] <= backing.shape[1]
                     else loudness.analyse(wet[:, : backing.shape[1]], sample_rate))
            gain = gain_on_meter(meter, l_back, cal.vocal_to_backing_lu)
            level_info = {"level_measured_over": "whole songs (as the reference's)"}
        else:
            # a neutral backing branch is the backing itself, analysed with the windows; a
            # wet vocal no longer than the song was analysed whole by the range's check
            gain, level_info = window_gain(
                wet[:, : backing.shape[1]], b_stem, sample_rate,
                pred["windows"]["level"][:, 0], starts, win,
                vocal_meter=wet_meter if wet.shape[1] <= backing.shape[1] else None,
                backing_meter=backing_meter if b_stem is backing else None)
        analysis.update(level_info)
        analysis.update({
            "windows": int(len(windows)), "silent_windows": int(silent.sum()),
            "smooth_windows": smooth_windows,
            "target_vocal_to_backing_lu": d["vocal_to_backing_lu"],
            "target_vocal_lra_lu": d["vocal_lra_lu"], "vocal_lra_lu": reached,
            "lra_reachable": bool(reachable), "predicted_t60_s": d["predicted_t60_s"],
            "predicted_eq_correction_db": [None if not math.isfinite(v) else float(v)
                                           for v in pred["summary"]["eq_correction_db"]],
            "level_per_window_lu": [None if not math.isfinite(v) else float(v)
                                    for v in pred["windows"]["level"][:, 0]],
            "window_starts_s": [float(s) for s in starts],
        })
        vocal_recipe = VocalRecipe(highpass_hz=highpass, eq=tuple(d["eq"]),
                                   compressor=VOCAL_COMPRESSOR.at(threshold),
                                   reverb=d["reverb"], pitch_correction=pc,
                                   cleanup=context.cleanup)
        recipe = MixRecipe(system=self.name, vocal=replace(vocal_recipe, gain_db=gain),
                           analysis=analysis)
        # ``wet`` is the chain's vocal branch at 0 dB (high-pass, EQ, compressor, reverb):
        # the mix scales it instead of rendering it again
        return MixChoice(recipe, corrected, RenderedVocal(vocal, vocal_recipe, wet))
