"""Rule ``corpus_overview``: the corpus table and figure."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from vocalmix.corpus.manifest import read_manifest, read_rejected
from vocalmix.corpus.overview import SPLITS, overview_rows, plot_overview
from vocalmix.tables import write_tsv

log = logging.getLogger(__name__)

__all__ = ["corpus_overview"]


def corpus_overview(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                    params: Mapping[str, Any], threads: int = 1) -> None:
    rows = read_manifest(inputs["tracks"])
    rejected = read_rejected(inputs["rejected"])
    table = overview_rows(rows, rejected)
    write_tsv(outputs["table"], table, columns=["dataset", "split", "genre", "source",
                                                "tracks", "duration_min", "rejected",
                                                "reason"])
    plot_overview(rows, len(rejected), outputs["plot"])
    log.info("corpus: %d tracks (%s), %d rejected", len(rows),
             ", ".join(f"{s} {sum(1 for r in rows if r.get('split') == s)}" for s in SPLITS),
             len(rejected))
