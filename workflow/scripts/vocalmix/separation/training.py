"""Rule ``train_separator``: the builtin mask network from the corpus's own training stems.

The stems are those of the configured datasets' *training-split* candidates (found by
:func:`vocalmix.corpus.adapters.discover` when Snakemake builds its DAG; never the separated
tracks, which this model makes, and never validation or test tracks), read and standardised
exactly as ingestion reads them, so the rule does not depend on the manifest. Validation
candidates give the model-selection loss. Each track keeps at most
``max_seconds_per_track`` (a seeded excerpt) in memory.

Writes ``separator.pt`` (weights and settings), ``curve.csv`` (losses per evaluation) and
``curve.png``.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

from vocalmix import seeding
from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.corpus.adapters import load_track
from vocalmix.audio import to_channels
from vocalmix.files import save_figure

if TYPE_CHECKING:
    from vocalmix.separation import builtin

log = logging.getLogger(__name__)

__all__ = ["load_stems", "training_candidates"]


def training_candidates(candidates: list[Candidate], split: str) -> list[Candidate]:
    """Candidates of ``split`` whose files give a vocal and a backing (never separated ones)."""
    out = []
    for c in candidates:
        if c.split != split or c.source == "separated" or c.adapter == "separated":
            continue
        roles = set(c.files)
        if c.layout == "stereo_lr" or (("vocal" in roles or "raw_vocal" in roles)
                                       and "backing" in roles):
            out.append(c)
    return out


def load_stems(c: Candidate, cfg: dict, max_seconds: float | None = None) -> builtin.Stems:
    """A candidate's vocal (processed, else raw) and backing, as ingestion reads them; a
    seeded excerpt of ``max_seconds`` when longer. Raises TrackRejected."""
    ing = cfg["ingest"]
    audio, _ = load_track(c, sample_rate=int(cfg["sample_rate"]),
                          min_duration_s=float(ing["min_duration_s"]),
                          silence_dbfs=float(ing["silence_dbfs"]),
                          length_tolerance_s=float(ing["length_tolerance_s"]))
    vocal = audio.get("vocal", audio.get("raw_vocal"))
    if vocal is None or "backing" not in audio:
        raise TrackRejected(c.origin, "no vocal and backing stems")
    backing = audio["backing"]
    ch = max(vocal.shape[0], backing.shape[0])
    vocal, backing = to_channels(vocal, ch), to_channels(backing, ch)
    mixture = audio.get("mixture")
    if max_seconds:
        keep = int(round(max_seconds * int(cfg["sample_rate"])))
        n = vocal.shape[1]
        if n > keep:
            start = int(seeding.rng(int(cfg["seed"]), "separator-excerpt", c.track_id)
                        .integers(0, n - keep + 1))
            vocal, backing = vocal[:, start:start + keep], backing[:, start:start + keep]
            mixture = None if mixture is None else mixture[:, start:start + keep]
    from vocalmix.separation import builtin  # torch: not at import (the Snakefile imports us)

    return builtin.Stems(c.track_id, np.ascontiguousarray(vocal), np.ascontiguousarray(backing),
                         {"mixture": mixture, "dataset": c.dataset, "split": c.split,
                          "source": c.source})


def load_all_stems(cands: list[Candidate], cfg: dict,
                   max_seconds: float | None) -> list[builtin.Stems]:
    """:func:`load_stems` of every candidate; a rejected one is logged and left out."""
    out = []
    for c in cands:
        try:
            out.append(load_stems(c, cfg, max_seconds))
        except TrackRejected as exc:
            log.warning("separator training: skipped %s: %s", c.track_id, exc)
    return out


def plot_training_curve(curve: list[dict], path: str) -> None:
    """Training and validation loss per step as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [r["step"] for r in curve]
    ax.plot(steps, [r["train_loss"] for r in curve], marker="o", label="training excerpts")
    if any(math.isfinite(r["valid_loss"]) for r in curve):
        ax.plot(steps, [r["valid_loss"] for r in curve], marker="s", label="validation tracks")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (negative SI-SDR, dB)")
    ax.set_title("builtin separator: training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
