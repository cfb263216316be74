"""Rules ``excerpt``, ``render`` and ``render_index``: the listening-test conditions."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from vocalmix.audio import audio_info, db_to_gain, read_audio, write_audio
from vocalmix.conditions import CONDITIONS
from vocalmix.evaluation.render import (
    INDEX_COLUMNS,
    LevelSettings,
    RenderError,
    WINDOWED_CONDITIONS,
    RenderSettings,
    analysis_window,
    choose_excerpt_file,
    cut_excerpt,
    excerpt_window,
    normalise_for_listening,
    read_window,
    render_condition,
)
from vocalmix.files import read_json, write_json

log = logging.getLogger(__name__)

__all__ = ["excerpt", "render", "render_index"]


def excerpt(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
            params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``excerpt``: ``excerpt.json`` of one track."""
    # streamed: the excerpt job's memory does not grow with the song (issue 19)
    ex, sr = choose_excerpt_file(inputs["vocal"], RenderSettings.from_mapping(params["render"]))
    ex.update(track=params["track"], sample_rate=sr, chosen_from=str(inputs["vocal"]))
    write_json(outputs["excerpt"], ex)
    log.info("%s: excerpt %.2f-%.2f s (%s)", params["track"], ex["start_s"],
             ex["start_s"] + ex["duration_s"], ex["method"])


def render(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
           params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``render``: one condition of one track -> WAV, stems and JSON."""
    row, condition = params["row"], params["condition"]
    settings = RenderSettings.from_mapping(params["render"])
    level = LevelSettings.from_mapping(params["listening"])
    sr = int(params["sample_rate"])
    excerpt = read_json(inputs["excerpt"])
    # a condition that needs nothing outside the excerpt reads only the excerpt's samples,
    # a mixing system only its analysis window around the excerpt (a song no longer than
    # mixing.analysis_s is mixed whole): memory and time do not grow with the song
    # (issue 19); for the windowed conditions the same samples, the same bytes
    from vocalmix.mixing.base import MixingSettings

    mixing = MixingSettings.from_mapping(params.get("mixing"))
    window = None
    backing_info = audio_info(row["backing"])
    if backing_info["sample_rate"] == sr:  # within the backing, as the whole-song path cuts it
        if condition in WINDOWED_CONDITIONS:
            start, n = excerpt_window(excerpt, sr)
            window = (start, max(0, min(n, backing_info["frames"] - start)))
        else:
            window = analysis_window(excerpt, sr, backing_info["frames"], mixing.analysis_s)
    backing = read_window(row["backing"], sr, window)
    vocal_in, role = None, None
    if inputs.get("vocal_in"):
        vocal_in = read_window(inputs["vocal_in"], sr, window)
        role = params["input_role"]
    pitch_correct = settings.pitch_correct_for(role)
    genre, genre_source = _genre(inputs, params, condition, row["track_id"])
    kw: dict = {}
    if condition == "rule_based":
        from vocalmix.features.summary import read_genre_stats

        kw["genre_stats"] = read_genre_stats(inputs["genre_stats"])
        kw["genre"], kw["genre_source"] = genre, genre_source
    if condition == "data_driven":
        from vocalmix.mixing.data_driven import load_models

        kw["models"] = load_models(Path(inputs["models"][0]).parent.parent)
        kw["mixing"] = mixing
        kw["hop_s"] = float(params["hop_s"])
    if condition in ("rule_based", "data_driven"):
        kw["cleanup"] = settings.cleanup_for(role)
        if inputs.get("reference_song"):
            from vocalmix.separation.settings import SeparationSettings

            kw["reference_song"] = str(inputs["reference_song"])
            kw["separation"] = SeparationSettings.from_mapping(params.get("separation") or {})
    mix, vocal, back, info = render_condition(
        condition, row=row, backing=backing, sample_rate=sr, vocal_in=vocal_in,
        input_role=role, reference=params.get("reference"),
        commercial=params.get("commercial"), pitch_correct=pitch_correct, threads=threads,
        window=window, **kw)
    offset = 0 if window is None else window[0]
    mix_x = cut_excerpt(mix, sr, excerpt, offset=offset)
    from vocalmix.measure.loudness import integrated_loudness, true_peak_dbtp

    # the excerpt's loudness as the system made it: the normalisation below equalises it,
    # so the evaluation's mix loudness error (DeepAFx-ST's LUFS) compares this one
    unnormalised = integrated_loudness(mix_x, sr)
    out, norm = normalise_for_listening(mix_x, sr, target_lufs=float(level.loudness_lufs),
                                        ceiling_dbtp=float(level.true_peak_dbtp))
    gain = np.float32(db_to_gain(norm["gain_db"]))
    write_audio(outputs["audio"], out, sr, subtype="PCM_24")
    stems_known = vocal is not None and back is not None
    for role_name, stem in (("vocal", vocal), ("backing", back)):
        data = (cut_excerpt(stem, sr, excerpt, offset=offset) * gain if stems_known
                else np.zeros_like(out))
        # FLAC, 24-bit (issue 19, disk: a third of the float WAV): the stems sit at the
        # mix's listening level, far below full scale, and the evaluation's loudness, range
        # and reverb measures see nothing of -144 dBFS steps; a stem beyond full scale is
        # an error, never clipped silently
        write_audio(outputs[role_name], data, sr, subtype="PCM_24", clip="error")
    # the written file is what listeners hear: measure it back as read
    written, _ = read_audio(outputs["audio"])
    info.update(track=row["track_id"], split=row.get("split"), genre=genre,
                genre_source=genre_source, excerpt=excerpt,
                analysis_window=(None if window is None or condition in WINDOWED_CONDITIONS
                                 else {"start_s": window[0] / sr,
                                       "duration_s": window[1] / sr}),
                stems_known=stems_known, unnormalised_lufs=unnormalised, normalisation=norm,
                integrated_lufs=integrated_loudness(written, sr),
                true_peak_dbtp=true_peak_dbtp(written, sr), sample_rate=sr,
                pitch_correct=pitch_correct)
    write_json(outputs["json"], info)
    log.info("%s/%s (%s): %.2f LUFS, %.2f dBTP%s", row["track_id"], condition,
             info["source"], info["integrated_lufs"], info["true_peak_dbtp"],
             ", limited" if norm["limited"] else "")


def _genre(inputs: Mapping[str, Any], params: Mapping[str, Any], condition: str,
           track: str) -> tuple[str | None, str | None]:
    """(genre, source) of the track for ``condition``: for ``rule_based`` the resolved genre
    read from the job's own ``genres.tsv`` input (metadata, a confident prediction or the
    average), not from a parameter: Snakemake fills a parameter that reads a checkpoint's
    output with a placeholder when the checkpoint reruns in the same invocation, and a
    partial target (``results/evaluation/summary.tsv``) rendered with genre ``<TBD>`` and
    the overall row; the other conditions record the metadata genre of ``params``."""
    if condition == "rule_based" and inputs.get("genres"):
        from vocalmix.models.genre import read_genres

        row = read_genres(inputs["genres"]).get(track)
        if row is None:
            raise RenderError(f"{track}: not in {inputs['genres']}")
        return row["genre_resolved"], row["genre_resolved_source"]
    return params.get("genre"), params.get("genre_source")


def render_index(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                 params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``render_index``: ``renders.tsv``, one row per rendered (track, condition);
    conditions left out (no reference mix) are logged."""
    from vocalmix.tables import write_tsv

    rows = []
    for path in sorted(inputs["json"]):
        info = read_json(path)
        rows.append({"track": info["track"], "split": info.get("split"),
                     "genre": info.get("genre"), "condition": info["condition"],
                     "path": str(Path(path).with_suffix(".wav")), "source": info["source"],
                     "start_s": info["excerpt"]["start_s"],
                     "duration_s": info["excerpt"]["duration_s"],
                     "integrated_lufs": info["integrated_lufs"],
                     "true_peak_dbtp": info["true_peak_dbtp"]})
    order = {c: i for i, c in enumerate(CONDITIONS)}
    rows.sort(key=lambda r: (r["track"], order[r["condition"]]))
    for track, missing in sorted(params.get("left_out", {}).items()):
        log.warning("%s: %s left out (no reference mix: set render.professional to a path "
                    "pattern of engineers' mixes)", track, ", ".join(missing))
    if not rows:
        raise RenderError("no condition was rendered for any track")
    write_tsv(outputs["index"], rows, columns=INDEX_COLUMNS)
    log.info("%d stimuli for %d tracks", len(rows), len({r["track"] for r in rows}))
