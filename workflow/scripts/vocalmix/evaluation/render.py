"""Rendering of the five listening-test conditions (rules ``excerpt``, ``render``,
``render_index``).

For every test-split track, the conditions of proposal V are rendered from the same
inputs, cut to the same excerpt and loudness-normalised for listening:

=================  ==============================================================
condition          what it is (``source`` in its JSON)
=================  ==============================================================
``professional``   the reference mix: the dataset's mixture (the demo generator's pro
                   mix, MUSDB's original mixture; ``reference_mix``), or for datasets
                   of raw takes an engineer's mix from ``render.professional``
                   (``supplied``); left out, with a log line, when there is neither
``unprocessed``    the systems' input vocal and the backing summed as they are
                   (``sum``)
``commercial``     a commercial tool's render from ``render.commercial`` when the
                   file exists (``supplied``), else the app-style preset chain
                   (``preset``): no output pretends to be commercial
``rule_based``     the rule-based mixer on the input (``rule_based``)
``data_driven``    the trained models on the input (``data_driven``)
=================  ==============================================================

The systems' input vocal follows the restoration protocol wherever the track has a
processed vocal (the demo, MUSDB18-HQ and other stem datasets): a seeded corrupted
version of it from the corruption stage (``render.corruption_version``), so that the
reference mix is the "right answer". Tracks with only a raw take (MIR-1K, DAMP-VSEP)
use the raw take, and the systems pitch-correct it (``render.pitch_correct: auto``).

Every system mixes the *whole* track, as a user's tool would; the excerpt
(``excerpt.json``, chosen once per track where the vocal is most active, or the whole
song when it is no longer than ``render.excerpt_s``) is then cut from the mix and from
its stems with raised-cosine fades, and the excerpt is normalised to
``listening.loudness_lufs`` (integrated, BS.1770-4) with its true peak at or below
``listening.true_peak_dbtp``: when the gain would push the peak over the ceiling the
project's bus limiter takes the excess and the loudness is matched again. The stems
(vocal and backing as they sit in the mix, for the objective evaluation) get the same
gains and cut, but not the limiter (``limited`` in the JSON says when it acted).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from vocalmix.conditions import CONDITIONS
from vocalmix.audio import db_to_gain, read_audio, to_channels
from vocalmix.config import schema_settings

if TYPE_CHECKING:
    from vocalmix.mixing.base import MixingSettings

log = logging.getLogger(__name__)

__all__ = ["RenderSettings", "LevelSettings", "RenderError", "conditions_for", "system_input",
           "reference_song_for", "choose_excerpt", "choose_excerpt_file", "cut_excerpt",
           "excerpt_window", "analysis_window", "read_window", "WINDOWED_CONDITIONS",
           "normalise_for_listening", "render_condition"]

#: Momentary loudness within this many LU of the vocal's loudest counts as "active".
ACTIVE_RANGE_LU = 20.0
#: Excerpt starts are searched on this grid (s).
START_GRID_S = 0.5


class RenderError(RuntimeError):
    """A track that cannot be rendered (its inputs are named)."""


@schema_settings("render")
class RenderSettings:
    """Rendering of the listening-test conditions (config section ``render``; defaults from
    the schema): the excerpt, the systems' input vocal, pitch correction, the supplied mixes.
    """

    excerpt_s: float
    start_s: float | None
    fade_s: float
    corruption_version: int
    pitch_correct: bool | str
    professional: str | None
    commercial: str | None
    cleanup: bool | str
    reference_song: str | None

    def pitch_correct_for(self, input_role: str | None) -> bool:
        """Whether the systems correct pitch for an input vocal of ``input_role``: ``auto``
        corrects raw takes only (corrupted processed vocals are already in tune)."""
        if self.pitch_correct == "auto":
            return input_role == "raw"
        return bool(self.pitch_correct)

    def cleanup_for(self, input_role: str | None) -> bool:
        """Whether the systems clean up an input vocal of ``input_role`` (noise reduction,
        de-essing): ``auto`` cleans raw takes only."""
        if self.cleanup == "auto":
            return input_role == "raw"
        return bool(self.cleanup)


@schema_settings("listening")
class LevelSettings:
    """The level of every stimulus (the keys of config section ``listening`` that rendering
    uses; defaults from the schema): integrated loudness (BS.1770) and true-peak ceiling."""

    loudness_lufs: float
    true_peak_dbtp: float


# ------------------------------------------------------------------------- what to render
def professional_source(row: dict, pattern: str | None) -> str | None:
    """The reference mix of ``row``: its mixture when it has processed stems, else the
    engineer's mix named by ``pattern`` (``{track}``) when that file exists."""
    if row.get("mixture") and row.get("vocal"):
        return row["mixture"]
    return _existing(row, pattern)


def _existing(row: dict, pattern: str | None) -> str | None:
    """The file a path ``pattern`` with ``{track}`` names for ``row``, when it exists."""
    if pattern:
        path = pattern.format(track=row["track_id"])
        if Path(path).exists():
            return path
    return None


def commercial_source(row: dict, pattern: str | None) -> str | None:
    """The commercial tool's render of ``row`` when ``pattern`` names an existing file."""
    return _existing(row, pattern)


def reference_song_for(row: dict, pattern: str | None) -> str | None:
    """The reference song ``pattern`` (``{track}``) names for ``row`` when that file exists."""
    return _existing(row, pattern)


def conditions_for(row: dict, settings: RenderSettings) -> list[str]:
    """The conditions that can be rendered for ``row`` (all five unless it lacks a
    reference mix, which leaves out ``professional``)."""
    out = list(CONDITIONS)
    if professional_source(row, settings.professional) is None:
        out.remove("professional")
    return out


def system_input(row: dict, settings: RenderSettings) -> tuple[str, str]:
    """(role, path) of the vocal the systems get: the corrupted processed vocal
    (restoration protocol) or the raw take."""
    if row.get("vocal"):
        k = int(settings.corruption_version)
        return "corrupted", f"results/corrupted/{row['track_id']}/v{k}.flac"
    if row.get("raw_vocal"):
        return "raw", row["raw_vocal"]
    raise RenderError(f"{row['track_id']}: neither a processed vocal nor a raw take to mix")


# ------------------------------------------------------------------------------- excerpts
def choose_excerpt(vocal: NDArray, sample_rate: int, settings: RenderSettings) -> dict:
    """Where the stimulus lies in the track: the whole track when it is no longer than
    ``settings.excerpt_s``; else ``settings.start_s`` when given, or the ``excerpt_s``
    window (starts on a 0.5-s grid) in which the vocal's momentary loudness is most often
    within ``ACTIVE_RANGE_LU`` of its loudest (the earliest such window on ties); faded
    over ``settings.fade_s`` at both ends."""
    from vocalmix.measure import loudness

    duration = vocal.shape[-1] / sample_rate
    return _excerpt(duration, settings, lambda: loudness.momentary_loudness(vocal, sample_rate))


def choose_excerpt_file(path: str | Path, settings: RenderSettings) -> tuple[dict, int]:
    """:func:`choose_excerpt` of the vocal in the file ``path``, streamed: the momentary
    loudness comes from the BS.1770 meter reading the file in blocks, so memory does not
    grow with the song's length. Returns (the excerpt, the file's sample rate)."""
    from vocalmix.audio import open_audio
    from vocalmix.measure import loudness

    with open_audio(path) as stream:
        sr, frames = int(stream.sample_rate), int(stream.frames)

    def momentary() -> tuple[NDArray, NDArray]:
        r = loudness.analyse_file(str(path))
        return r.momentary_times_s(), r.momentary_lufs

    return _excerpt(frames / sr, settings, momentary), sr


def _excerpt(duration: float, settings: RenderSettings, momentary) -> dict:
    """The excerpt of a vocal lasting ``duration`` s; ``momentary()`` gives its (block end
    times, momentary loudness), called only when the loudness decides."""
    excerpt_s, start_s, fade_s = (float(settings.excerpt_s), settings.start_s,
                                  float(settings.fade_s))
    if duration <= excerpt_s:
        return {"start_s": 0.0, "duration_s": duration, "fade_s": fade_s, "method": "whole"}
    length = float(excerpt_s)
    if start_s is not None:
        start = min(float(start_s), duration - length)
        return {"start_s": max(start, 0.0), "duration_s": length, "fade_s": fade_s,
                "method": "fixed"}
    times, m = momentary()
    finite = np.isfinite(m)
    if not finite.any():
        raise RenderError("the vocal is silent: no excerpt can be chosen where it is active")
    active = finite & (m > np.max(m[finite]) - ACTIVE_RANGE_LU)
    # times are block ends; a block covers [t - 0.4, t]
    centres = times - 0.2
    best, best_score = 0.0, -1.0
    for start in np.arange(0.0, duration - length + 1e-9, START_GRID_S):
        inside = (centres >= start) & (centres < start + length)
        score = float(active[inside].mean()) if inside.any() else 0.0
        if score > best_score + 1e-12:
            best, best_score = float(start), score
    return {"start_s": best, "duration_s": length, "fade_s": fade_s, "method": "vocal_active",
            "active_fraction": best_score}


def cut_excerpt(x: NDArray, sample_rate: int, excerpt: dict, *, offset: int = 0
                ) -> NDArray[np.float32]:
    """``x`` (channels, samples) cut to ``excerpt`` with raised-cosine fades; ``offset``:
    the song's sample at which ``x`` starts (``x`` is a window of the song)."""
    start = int(round(excerpt["start_s"] * sample_rate)) - offset
    if start < 0:
        raise ValueError(f"the excerpt starts {-start} samples before the window it is cut from")
    n = int(round(excerpt["duration_s"] * sample_rate))
    y = np.array(x[:, start:start + n], dtype=np.float32)
    if y.shape[1] < n:
        y = np.pad(y, ((0, 0), (0, n - y.shape[1])))
    nf = min(int(round(excerpt.get("fade_s", 0.0) * sample_rate)), n // 2)
    if nf > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(nf) + 0.5) / nf)).astype(np.float32)
        y[:, :nf] *= ramp
        y[:, -nf:] *= ramp[::-1]
    return y


# -------------------------------------------------------------------------- normalisation
def normalise_for_listening(mix: NDArray, sample_rate: int, *, target_lufs: float,
                            ceiling_dbtp: float, max_rounds: int = 6,
                            tolerance_lu: float = 0.02) -> tuple[NDArray[np.float32], dict]:
    """``mix`` at ``target_lufs`` (integrated) with true peak <= ``ceiling_dbtp``.

    Returns the normalised mix and a report: ``gain_db`` (the linear gain applied, for the
    stems), ``limited`` (whether the bus limiter had to shave peaks), the measured
    ``integrated_lufs`` and ``true_peak_dbtp``.
    """
    from vocalmix.measure.loudness import integrated_loudness, true_peak_dbtp
    from vocalmix.dsp.chain import bus_limit

    x = np.asarray(mix, dtype=np.float32)
    level = integrated_loudness(x, sample_rate)
    if not math.isfinite(level):
        raise RenderError("the mix is silent: it cannot be loudness-normalised")
    total_gain_db, limited = 0.0, False
    for _ in range(max_rounds):
        g = target_lufs - level
        x = (x * np.float32(db_to_gain(g))).astype(np.float32)
        total_gain_db += g
        peak = true_peak_dbtp(x, sample_rate)
        if peak > ceiling_dbtp:
            x, _info = bus_limit(x, sample_rate, ceiling_dbtp, release_ms=80.0)
            limited = True
        level = integrated_loudness(x, sample_rate)
        if abs(level - target_lufs) <= tolerance_lu and true_peak_dbtp(x, sample_rate) <= (
                ceiling_dbtp + 1e-6):
            break
    peak = true_peak_dbtp(x, sample_rate)
    if peak > ceiling_dbtp + 1e-6:  # a last resort that gives up loudness, never the ceiling
        g = ceiling_dbtp - peak - 0.01
        x = (x * np.float32(db_to_gain(g))).astype(np.float32)
        total_gain_db += g
        log.warning("true peak %.2f dBTP over the %.1f dBTP ceiling after limiting: "
                    "%.2f dB quieter than the target", peak, ceiling_dbtp, -g)
        level, peak = integrated_loudness(x, sample_rate), true_peak_dbtp(x, sample_rate)
    return x, {"gain_db": total_gain_db, "limited": limited, "integrated_lufs": level,
               "true_peak_dbtp": peak}


# ------------------------------------------------------------------------------ rendering
#: Conditions whose excerpt needs nothing of the song outside it (no analysis, no effect):
#: the render stage reads only the excerpt's samples for them (:func:`read_window`).
WINDOWED_CONDITIONS = ("professional", "unprocessed")


def excerpt_window(excerpt: dict, sample_rate: int) -> tuple[int, int]:
    """(first sample, samples) of ``excerpt`` at ``sample_rate``, as :func:`cut_excerpt`
    cuts it."""
    return (int(round(excerpt["start_s"] * sample_rate)),
            int(round(excerpt["duration_s"] * sample_rate)))


def analysis_window(excerpt: dict, sample_rate: int, frames: int, analysis_s: float
                    ) -> tuple[int, int] | None:
    """The part of a song of ``frames`` samples that the mixing systems analyse and mix in
    the pipeline (config ``mixing.analysis_s``): None -- the whole song -- when it is no
    longer than ``analysis_s``; else (first sample, samples) of the ``analysis_s`` window
    (never shorter than the excerpt) centred on ``excerpt`` and moved inside the song.

    A system's decisions (level, range, tone, space) then come from up to ``analysis_s``
    of the song around what listeners hear, and a job's memory stops growing with the
    song's length (issue 19): the stage reads only the window (:func:`read_window`)."""
    start, length = excerpt_window(excerpt, sample_rate)
    n = max(int(round(float(analysis_s) * sample_rate)), length)
    if frames <= n:
        return None
    first = min(max(0, start + length // 2 - n // 2), frames - n)
    return first, n


def read_window(path: str | Path, sample_rate: int, window: tuple[int, int] | None
                ) -> NDArray[np.float32]:
    """``(channels, samples)`` of ``path`` at ``sample_rate``: the whole file when ``window``
    is None, else its samples ``[start, start + n)`` zero-padded to ``n`` -- read alone, so
    memory does not grow with the song -- when the file is at ``sample_rate`` (a file that
    needs resampling is resampled whole, then cut, exactly as a whole read would be)."""
    from vocalmix.audio import open_audio

    if window is not None:
        start, n = window
        with open_audio(path) as stream:
            if stream.sample_rate == sample_rate:
                stream.seek(min(start, stream.frames))
                x = stream.read(n)
                return _fit_length(x, n)
    x, _ = read_audio(path, sample_rate=sample_rate)
    if window is None:
        return x
    start, n = window
    return _fit_length(x[:, start:start + n], n)


def _fit_length(x: NDArray, n: int) -> NDArray[np.float32]:
    return x[:, :n] if x.shape[1] >= n else np.pad(x, ((0, 0), (0, n - x.shape[1])))


def _reverb_t60(recipe, sample_rate: int) -> float | None:
    if recipe.vocal.reverb is None:
        return None
    from vocalmix.features.reverb_fit import evaluate

    return evaluate(recipe.vocal.reverb, sample_rate).t60_mid_s


def render_condition(condition: str, *, row: dict, backing: NDArray, sample_rate: int,
                     vocal_in: NDArray | None = None, input_role: str = "corrupted",
                     reference: str | None = None, commercial: str | None = None,
                     genre_stats: dict | None = None, genre: str | None = None,
                     genre_source: str | None = None,
                     models: dict | None = None,
                     mixing: MixingSettings | None = None, hop_s: float | None = None,
                     pitch_correct: bool = False, cleanup: bool = False,
                     reference_song: str | None = None, separation=None, threads: int = 1,
                     window: tuple[int, int] | None = None
                     ) -> tuple[NDArray, NDArray | None, NDArray | None, dict]:
    """The mix of ``condition`` for ``row``, of the whole song or of its ``window``: (mix,
    vocal stem, backing stem, provenance). Stems are None where they are unknown (a supplied
    commercial render).

    The automatic conditions are the mixing systems of :data:`vocalmix.mixing.registry.SYSTEMS`
    of the same name; ``commercial`` without a supplied render is the ``preset`` system.
    ``models`` (loaded once by the stage), ``mixing`` (None: the schema's defaults) and
    ``hop_s`` (the analysis hop; None: the models' own) go to the data-driven system, the genre
    arguments to the rule-based one. ``cleanup`` (phone-take cleanup of the input vocal) and
    ``reference_song`` (a finished song to match, separated with ``separation``: None for the
    default settings) go to both.

    ``window`` (first sample, samples): ``backing`` and ``vocal_in`` are that part of the
    song only, and the files this function reads (the reference mix, the dataset's vocal, a
    supplied commercial mix) are read for the same samples (:func:`read_window`): for
    :data:`WINDOWED_CONDITIONS` the excerpt (they need nothing outside it), for the mixing
    systems their :func:`analysis_window`.
    """
    n = backing.shape[1]
    backing = to_channels(backing, 2)
    info: dict = {"condition": condition}
    if condition == "professional":
        if reference is None:
            raise RenderError(f"{row['track_id']}: no reference mix")
        mix = _fit_length(to_channels(read_window(reference, sample_rate, window), 2), n)
        vocal = backing_stem = None
        if row.get("vocal") and reference == row.get("mixture"):
            vocal = _fit_length(to_channels(read_window(row["vocal"], sample_rate, window), 2),
                                n)
            backing_stem = backing
            info["source"] = "reference_mix"
        else:
            info["source"] = "supplied"
        info["path"] = reference
        return mix, vocal, backing_stem, info
    if vocal_in is None:
        raise RenderError(f"{row['track_id']}: no input vocal for {condition}")
    vocal_in = _fit_length(np.atleast_2d(vocal_in), n)
    info["input"] = input_role
    if condition == "unprocessed":
        v = to_channels(vocal_in, 2)
        info["source"] = "sum"
        return v + backing, v, backing, info
    if condition == "commercial" and commercial is not None:
        mix = read_window(commercial, sample_rate, window)
        info.update(source="supplied", path=commercial)
        return _fit_length(to_channels(mix, 2), n), None, None, info
    from vocalmix.mixing.base import MixContext, MixingSettings
    from vocalmix.mixing.common import PHONE_TAKE_CLEANUP
    from vocalmix.mixing.registry import SYSTEMS, get_mixer

    mixing = MixingSettings() if mixing is None else mixing

    system = "preset" if condition == "commercial" else condition
    if system not in SYSTEMS:
        raise RenderError(f"unknown condition {condition!r}; one of {', '.join(CONDITIONS)}")
    targets = None
    if reference_song is not None and system != "preset":
        from vocalmix.mixing.reference import ReferenceError, analyse_reference

        try:
            targets = analyse_reference(reference_song, sample_rate, separation=separation,
                                        threads=threads)
        except ReferenceError as exc:
            raise RenderError(f"{row['track_id']}: {exc}") from None
        info["reference_song"] = reference_song
    context = MixContext(genre=genre, genre_source=genre_source or "metadata",
                         genre_stats=genre_stats or {}, pitch_correct=pitch_correct,
                         models=models, smooth_windows=int(mixing.smooth_windows),
                         hop_s=hop_s, reference=targets,
                         cleanup=PHONE_TAKE_CLEANUP if cleanup and system != "preset" else None)
    choice = get_mixer(system).choose(vocal_in, backing, sample_rate, context)
    info["source"] = system
    result = choice.render(vocal_in, backing, sample_rate)
    info["recipe"] = choice.recipe.to_dict()
    info["render_report"] = result.report
    info["pitch_corrected"] = choice.pitch_corrected is not None
    info["recipe_reverb_t60_mid_s"] = _reverb_t60(choice.recipe, sample_rate)
    return result.mix, result.vocal, result.backing, info


INDEX_COLUMNS = ["track", "split", "genre", "condition", "path", "source", "start_s",
                 "duration_s", "integrated_lufs", "true_peak_dbtp"]
