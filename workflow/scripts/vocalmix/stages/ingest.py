"""Checkpoint ``ingest``: every configured dataset -> ``tracks.tsv`` and standard audio.

The rule's ``threads`` ingest that many tracks at a time, in worker processes. Each track
streams in blocks (:mod:`vocalmix.corpus.ingest`), so a worker holds a few blocks whatever
the song's length, and the job's memory is the interpreters' and ``threads`` times that,
whatever the songs' lengths and number (issue 19: workers held whole songs, 2366-2495 MiB on
the full-length benchmark corpus; now 291 MiB by Snakemake's benchmark, the sum over the
five processes). Threads of one process would hold less (157 MiB: one interpreter) but do
not run in parallel on many short clips (MIR-1K's 1000: 29 s with 4 threads, as with 1;
16 s with 4 processes).
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Mapping

from vocalmix.corpus.adapters import discover
from vocalmix.corpus.ingest import ingest_track
from vocalmix.corpus.manifest import write_manifest, write_rejected
from vocalmix.corpus.tracks import Candidate, CorpusError, Rejection, TrackRejected

log = logging.getLogger(__name__)

__all__ = ["ingest"]


def _ingest_or_reject(c: Candidate, audio_dir: str,
                      cfg: dict) -> tuple[dict | None, Rejection | None]:
    """One candidate ingested, or the reason it was rejected (a worker of the pool)."""
    try:
        return ingest_track(c, audio_dir, cfg), None
    except TrackRejected as exc:
        return None, Rejection(c.track_id, c.dataset, exc.file, exc.reason)


def ingest(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
           params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry: ingest every dataset in ``params['config']``."""
    from tqdm import tqdm

    cfg = params["config"]
    candidates, rejected = discover(cfg)
    audio_dir = outputs["audio"]
    os.makedirs(audio_dir, exist_ok=True)
    rows: list[dict] = []
    progress = tqdm(total=len(candidates), desc="ingest", unit="track", file=sys.stderr,
                    mininterval=1.0)
    if threads > 1 and len(candidates) > 1:
        with ProcessPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(_ingest_or_reject, c, audio_dir, cfg) for c in candidates]
            for fut in as_completed(futures):
                row, rej = fut.result()
                rows.append(row) if row else rejected.append(rej)
                progress.update()
    else:
        for c in candidates:
            row, rej = _ingest_or_reject(c, audio_dir, cfg)
            rows.append(row) if row else rejected.append(rej)
            progress.update()
    progress.close()
    for r in sorted(rejected, key=lambda r: (r.dataset, r.track_id)):
        log.warning("rejected %s (%s): %s: %s", r.track_id or "-", r.dataset, r.file, r.reason)
    write_rejected(outputs["rejected"], [r.as_row() for r in rejected])
    if not rows:
        reasons = Counter(r.reason for r in rejected)
        summary = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(5))
        raise CorpusError(f"no usable track: all {len(candidates)} candidate(s) were rejected "
                          f"({summary}); see {outputs['rejected']}")
    write_manifest(outputs["tracks"], rows)
    splits = Counter(r["split"] for r in rows)
    hours = sum(r["duration_s"] for r in rows) / 3600.0
    log.info("ingested %d track(s) (%s), %.2f h; rejected %d", len(rows),
             ", ".join(f"{k}: {v}" for k, v in sorted(splits.items())), hours,
             sum(1 for r in rejected if r.track_id))
