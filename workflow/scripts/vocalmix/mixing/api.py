"""File-level mixing: what ``vocalmix mix`` does, usable from Python.

Reads a vocal and a backing (any format soundfile reads), reconciles rates, channels and
lengths, lets a system of :data:`vocalmix.mixing.registry.SYSTEMS` choose a recipe (or takes
one), renders it with the shared chain and writes the mix and the recipe.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
from vocalmix.audio import AudioError, db_to_gain, peak_abs, read_audio, resample, write_audio
from vocalmix.measure.loudness import BLOCK_S, active_span
from vocalmix.mixing.base import MixChoice, MixContext
from vocalmix.mixing.registry import get_mixer


log = logging.getLogger(__name__)

__all__ = ["MixError", "load_inputs", "recipe_path", "pick_genre", "choose_recipe", "mix_files",
           "DEFAULT_GENRE_STATS"]

DEFAULT_GENRE_STATS = Path(__file__).resolve().parent.parent / "data" / "genre_stats_default.tsv"
SILENCE_DBFS = -80.0


class MixError(RuntimeError):
    """A problem with the user's inputs, with the file named."""


def load_inputs(vocal_path: str, backing_path: str,
                warn: Callable[[str], None] = log.warning) -> tuple[np.ndarray, np.ndarray, int]:
    """Vocal and backing as float32 ``(channels, n)`` at the backing's rate, equal length.

    The two files are decoded side by side (libsndfile and numpy release the GIL); an
    unreadable backing is reported first, as when they were read one after the other."""
    try:
        with ThreadPoolExecutor(1) as pool:
            vocal_read = pool.submit(read_audio, vocal_path)
            backing, sr = read_audio(backing_path)
            vocal, vsr = vocal_read.result()
    except AudioError as exc:
        raise MixError(str(exc)) from None
    for path, x in ((vocal_path, vocal), (backing_path, backing)):
        if x.shape[0] > 2:
            raise MixError(f"{path}: {x.shape[0]} channels; mono or stereo expected")
        peak = peak_abs(x)
        if peak <= db_to_gain(SILENCE_DBFS):
            raise MixError(f"{path}: the audio is silent (peak "
                           f"{20 * math.log10(peak) if peak > 0 else -math.inf:.1f} dBFS)")
    start, stop = active_span(vocal)
    if stop - start < BLOCK_S * vsr:
        raise MixError(f"{vocal_path}: {(stop - start) / vsr:.2f} s of sound (the rest is "
                       f"silence); a vocal take needs at least one {BLOCK_S * 1000:.0f} ms "
                       "loudness block to be mixed")
    if vsr != sr:
        warn(f"{vocal_path}: {vsr} Hz resampled to the backing's {sr} Hz")
        vocal = resample(vocal, orig_sample_rate=vsr, target_sample_rate=sr)
    n = backing.shape[1]
    if vocal.shape[1] != n:
        diff = (vocal.shape[1] - n) / sr
        what = "trimmed" if diff > 0 else "padded with silence"
        warn(f"{vocal_path}: {abs(diff):.2f} s {'longer' if diff > 0 else 'shorter'} than the "
             f"backing; {what} to its length")
        vocal = vocal[:, :n] if diff > 0 else np.pad(vocal, ((0, 0), (0, n - vocal.shape[1])))
    return vocal, backing, int(sr)


def recipe_path(output: str | Path, recipe_out: str | Path | None = None) -> Path:
    """Where :func:`mix_files` writes the recipe: ``recipe_out``, else ``output`` with the
    suffix ``.recipe.json``."""
    return Path(recipe_out) if recipe_out else Path(output).with_suffix(".recipe.json")


def _genre_table(path: str | None) -> dict:
    from vocalmix.features.summary import read_genre_stats

    src = Path(path) if path else DEFAULT_GENRE_STATS
    try:
        return read_genre_stats(src)
    except (OSError, ValueError, KeyError) as exc:
        raise MixError(f"{src}: unreadable genre statistics ({exc})") from None


def pick_genre(backing: np.ndarray, sample_rate: int, table: dict, *, genre: str | None = None,
               genre_source: str | None = None, genre_model: str | None = None,
               genre_threshold: float | None = None) -> tuple[str | None, str, dict]:
    """The genre the rule-based mixer uses: (genre or None = the overall average, source,
    details for the recipe).

    ``genre`` with ``genre_source`` None or ``override`` is the user's choice and must be a
    row of ``table`` (else MixError listing the known genres); with ``metadata`` or
    ``predicted`` it was resolved elsewhere (e.g. ``results/corpus/genres.tsv``) and is used
    as it is. Without a genre (and unless ``genre_source`` is ``average``), the backing's
    genre is predicted with ``genre_model`` (a classifier file or directory; default
    ``results/genre/model.json`` where it exists, ``"none"`` to skip) and used when its
    probability reaches ``genre_threshold``; otherwise the overall average.
    """
    from vocalmix.models.genre import (DEFAULT_MODEL_PATH, GenreError, GenreSettings,
                                       load_classifier, resolve_genre)

    known = [k for k in table if k != "all"]
    threshold = (GenreSettings().confidence_threshold if genre_threshold is None
                 else float(genre_threshold))
    if genre is not None and genre_source not in (None, "override", "given"):
        return genre, genre_source, {}
    if genre is not None:
        try:
            return (*resolve_genre(override=genre, known_genres=known), {})
        except GenreError as exc:
            raise MixError(str(exc)) from None
    if genre_source == "average":
        return None, "average", {}
    path = genre_model
    if path is None and Path(DEFAULT_MODEL_PATH).is_file():
        path = DEFAULT_MODEL_PATH
    if path is None or str(path).lower() == "none":
        return None, "average", {"genre_model": None}
    try:
        model = load_classifier(path)
        prediction = model.predict_audio(backing, sample_rate, name="backing")
    except (GenreError, ValueError) as exc:
        raise MixError(str(exc)) from None
    info: dict = {"genre_model": str(path), "genre_threshold": threshold}
    if prediction is None:
        info["genre_model_untrained"] = model.reason
        return None, "average", info
    info.update(genre_predicted=prediction.genre, genre_confidence=prediction.confidence,
                genre_top3=dict(prediction.top(3)))
    g, source = resolve_genre(None, prediction, threshold, known_genres=known)
    return g, source, info


def choose_recipe(vocal: np.ndarray, backing: np.ndarray, sample_rate: int, *, system: str,
                  model_dir: str | None = None, genre: str | None = None,
                  genre_stats: str | None = None, pitch_correct: bool = False,
                  genre_source: str | None = None, genre_model: str | None = None,
                  genre_threshold: float | None = None, reference: str | None = None,
                  separation=None, threads: int = 1, cleanup: bool = False) -> MixChoice:
    """The choice of the system named ``system`` (a key of
    :data:`vocalmix.mixing.registry.SYSTEMS`), errors as :class:`MixError`.

    For a system that reads the genre (``needs_genre``) the genre comes from
    :func:`pick_genre` (an override, a genre resolved elsewhere, else a confident prediction
    from the backing, else the average) and its details go into the recipe's analysis; for
    the others an unknown ``genre`` is still an error.

    ``reference`` names a finished song whose measured balance, tone, range and space
    replace the genre's (or the models') targets where its separation looks reliable
    (:mod:`vocalmix.mixing.reference`; ``separation``: the separator's settings, None for
    the default pretrained one). ``cleanup`` cleans the take up first (noise reduction and
    de-essing, :data:`vocalmix.mixing.common.PHONE_TAKE_CLEANUP`), recorded in the recipe.
    """
    try:
        mixer = get_mixer(system)
    except ValueError as exc:
        raise MixError(str(exc)) from None
    table, source, info = {}, "given", {}
    if mixer.needs_genre or genre is not None:
        table = _genre_table(genre_stats)
    if mixer.needs_genre:
        genre, source, info = pick_genre(backing, sample_rate, table, genre=genre,
                                         genre_source=genre_source, genre_model=genre_model,
                                         genre_threshold=genre_threshold)
    elif genre is not None:  # an unknown --genre is an error whatever the system
        genre, source, _ = pick_genre(backing, sample_rate, table, genre=genre,
                                      genre_source=genre_source)
    from vocalmix.mixing.common import PHONE_TAKE_CLEANUP
    from vocalmix.mixing.reference import ReferenceError, analyse_reference

    targets = None
    if reference is not None:
        try:
            targets = analyse_reference(reference, sample_rate, separation=separation,
                                        threads=threads)
        except ReferenceError as exc:
            raise MixError(str(exc)) from None
    context = MixContext(genre=genre, genre_source=source, genre_stats=table,
                         pitch_correct=pitch_correct,
                         model_dir=Path(model_dir) if model_dir else None, reference=targets,
                         cleanup=PHONE_TAKE_CLEANUP if cleanup else None)
    try:
        choice = mixer.choose(vocal, backing, sample_rate, context)
    except ReferenceError as exc:
        raise MixError(str(exc)) from None
    except (FileNotFoundError, ValueError) as exc:
        raise MixError(str(exc)) from None
    choice.recipe.analysis.update(info)
    return choice


def mix_files(*, vocal: str, backing: str, output: str, system: str = "rule_based",
              model_dir: str | None = None, genre: str | None = None,
              genre_stats: str | None = None, pitch_correct: bool = False,
              recipe_out: str | None = None, recipe_in: str | None = None,
              genre_model: str | None = None, genre_threshold: float | None = None,
              reference: str | None = None, stems: str | None = None,
              threads: int = 1, cleanup: bool = True,
              warn: Callable[[str], None] = log.warning) -> list[str]:
    """Mix two files; returns a human-readable summary (one line per item).

    ``reference``: a finished song to match (see :func:`choose_recipe`); ``stems``: a folder
    where the processed stems are written as they sit in the mix before the bus limiter
    (``vocal.wav``, ``backing.wav``: the mix's length and rate, 24-bit, or 32-bit float for
    a stem that peaks above full scale); ``cleanup``: clean the
    take up first (ignored with ``recipe_in``, whose own ``cleanup`` is rendered).
    """
    from vocalmix.measure import loudness
    from vocalmix.dsp.recipe import MixRecipe

    t0 = time.perf_counter()
    v, b, sr = load_inputs(vocal, backing, warn)
    if recipe_in:
        try:
            choice = MixChoice(MixRecipe.load(recipe_in))
        except (OSError, ValueError) as exc:
            raise MixError(str(exc)) from None
    else:
        choice = choose_recipe(v, b, sr, system=system, model_dir=model_dir, genre=genre,
                               genre_stats=genre_stats, pitch_correct=pitch_correct,
                               genre_model=genre_model, genre_threshold=genre_threshold,
                               reference=reference, threads=threads, cleanup=cleanup)
    recipe = choice.recipe
    result = choice.render(v, b, sr)
    a = recipe.analysis

    def stems_ratio() -> float:
        if (recipe_in is None and "measured_vocal_to_backing_lu" in a
                and "vocal_active_span_s" not in a):
            # the system measured these very stems over the whole song while choosing
            return float(a["measured_vocal_to_backing_lu"])
        return (loudness.integrated_loudness(result.vocal, sr)
                - loudness.integrated_loudness(result.backing, sr))

    with ThreadPoolExecutor(1) as pool:  # the ratio measured while the files are written
        ratio_future = pool.submit(stems_ratio)
        out = Path(output)
        if out.suffix.lower() not in (".wav", ".wave"):
            warn(f"{output}: written as WAV whatever its extension")
        write_audio(out, result.mix, sr, subtype="PCM_24", clip="clip")
        if stems:
            Path(stems).mkdir(parents=True, exist_ok=True)
            for name, stem in (("vocal", result.vocal), ("backing", result.backing)):
                peak = peak_abs(stem)
                subtype = "PCM_24"
                if peak > 1.0:  # 24-bit would clip it: 32-bit float keeps it as it is in the mix
                    subtype = "FLOAT"
                    warn(f"{Path(stems) / f'{name}.wav'}: peak {20 * math.log10(peak):+.2f} dBFS "
                         "before the bus limiter; written as 32-bit float (24-bit would clip it)")
                write_audio(Path(stems) / f"{name}.wav", stem, sr, subtype=subtype)
        rpath = recipe_path(out, recipe_out)
        recipe = MixRecipe(system=recipe.system, vocal=recipe.vocal, backing=recipe.backing,
                           bus=recipe.bus, analysis={**recipe.analysis, "render": result.report})
        recipe.save(rpath)
        ratio = ratio_future.result()
    a = recipe.analysis
    lines = [f"wrote {out} ({result.mix.shape[1] / sr:.1f} s, {sr} Hz) and {rpath}",
             f"system {recipe.system}; vocal-to-backing ratio {ratio:+.2f} LU"
             + (f" (target {a['target_vocal_to_backing_lu']:+.2f} LU, "
                + ("the reference" if a.get("targets_from") == "reference"
                   else f"genre row '{a.get('genre_stats_row')}'") + ")"
                if "target_vocal_to_backing_lu" in a else ""),
             f"true peak {result.report['bus']['true_peak_after_dbtp']:.2f} dBTP; "
             f"{time.perf_counter() - t0:.1f} s"]
    cl = a.get("cleanup") or recipe.analysis.get("render", {}).get("cleanup")
    if cl:
        nr, de = cl.get("noise_reduction") or {}, cl.get("deesser") or {}
        parts = []
        if nr:
            floor = nr.get("noise_floor_dbfs")
            parts.append("noise floor " + (f"{floor:.1f} dBFS" if floor is not None and
                                           math.isfinite(floor) else "none found")
                         + (f", {nr['rest_reduction_db']:.1f} dB less in rests"
                            if nr.get("rest_reduction_db") is not None else ""))
        if de:
            parts.append(f"de-esser on {100 * de.get('sibilant_share', 0.0):.0f} % of frames"
                         + (f" (mean {de['mean_reduction_db']:.1f} dB)"
                            if de.get("sibilant_frames") else ""))
        lines.insert(2, "cleanup: " + "; ".join(parts) if parts else "cleanup: nothing to do")
    ref = a.get("reference")
    if ref:
        if ref.get("reliable"):
            cal = ref.get("calibration", {})
            lines.insert(2, f"reference {ref['path']}: targets vocal-to-backing "
                            f"{ref['vocal_to_backing_lu']:+.2f} LU (separated "
                            f"{ref['separated']['vocal_to_backing_lu']:+.2f}, calibrated), "
                            f"vocal loudness range {ref['vocal_lra_lu']:.1f} LU"
                            + (f", T60 {ref['t60_s']:.2f} s" if ref.get("t60_s") else "")
                            + (f"; separation quality about {cal['vocal_si_sdr_db']:.1f} dB "
                               "SI-SDR" if cal.get("vocal_si_sdr_db") is not None else ""))
        else:
            lines.insert(2, f"reference {ref['path']} not used: {ref['reason']}; genre "
                            "targets instead")
    if "genre_source" in a and "genre_stats_row" in a:
        line = f"genre {a.get('genre', 'unknown')} ({a['genre_source']})"
        if a.get("genre_predicted"):
            line += (f"; predicted {a['genre_predicted']} p = {a['genre_confidence']:.2f} "
                     f"(threshold {a['genre_threshold']:.2f}, {a['genre_model']})")
        if a.get("targets_from") != "reference":
            line += f"; targets of row '{a['genre_stats_row']}'"
            if a.get("genre_row_source"):
                line += f" ({a['genre_row_source']})"
        lines.insert(2, line)
    if "vocal_lra_lu" in a:
        line = (f"vocal loudness range {a['vocal_lra_lu']:.1f} LU (target "
                f"{a['target_vocal_lra_lu']:.1f} LU)")
        if "masking_before_db" in a:
            line += f"; masking {a['masking_before_db']:.2f} -> {a['masking_after_db']:.2f} dB"
        if "predicted_t60_s" in a:
            line += f"; reverb T60 {a['predicted_t60_s']:.2f} s (predicted)"
        lines.insert(2, line)
    return lines
