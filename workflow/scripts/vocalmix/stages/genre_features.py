"""Rule ``genre_features``: the genre features of every track's backing."""

from __future__ import annotations

import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Mapping

from vocalmix.audio import AudioError
from vocalmix.features.genre_features import feature_names, file_features, write_features_tsv

log = logging.getLogger(__name__)

__all__ = ["genre_features"]


def _backing_features(track: dict, excerpt_s: float) -> tuple[dict | None, str | None]:
    """One track's genre features, or why its backing could not be analysed (a pool worker)."""
    try:
        feats = file_features(track["backing"], excerpt_s=excerpt_s)
    except (AudioError, ValueError) as exc:
        return None, str(exc)
    return feats, None


def genre_features(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                   params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: ``features.tsv`` with one row per track (id, split, genre, genre source,
    then :func:`feature_names`). A track whose backing fails is logged and left out."""
    from tqdm import tqdm


    tracks = sorted(params["tracks"], key=lambda t: t["track_id"])
    excerpt_s = float(params["excerpt_s"])
    rows, failed = [], []
    progress = tqdm(total=len(tracks), desc="genre features", unit="track", file=sys.stderr,
                    mininterval=1.0)
    if threads > 1 and len(tracks) > 1:
        with ProcessPoolExecutor(max_workers=min(threads, os.cpu_count() or 1)) as pool:
            results = []
            for res in pool.map(_backing_features, tracks, [excerpt_s] * len(tracks)):
                results.append(res)
                progress.update()
    else:
        results = []
        for t in tracks:
            results.append(_backing_features(t, excerpt_s))
            progress.update()
    progress.close()
    for t, (feats, err) in zip(tracks, results):
        if err:
            log.error("%s: no genre features: %s", t["track_id"], err)
            failed.append(t["track_id"])
            continue
        rows.append({"track_id": t["track_id"], "dataset": t.get("dataset"),
                     "split": t["split"], "genre": t.get("genre") or "unknown",
                     "genre_source": t.get("genre_source") or "unknown", **feats})
    if not rows:
        raise ValueError(f"no track's backing could be analysed for the genre classifier "
                         f"({len(failed)} failed; see the log)")
    columns = ["track_id", "dataset", "split", "genre", "genre_source", *feature_names()]
    write_features_tsv(outputs["features"], rows, columns)
    log.info("genre features of %d track(s), %d feature(s) each; %d failed", len(rows),
             len(feature_names()), len(failed))
