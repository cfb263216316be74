"""Rule ``corpus_overview``: the corpus at a glance, for the report.

Counts of the ingested tracks per dataset, split, genre and source (stems, separated, raw)
with their total duration (``results/corpus/overview.tsv``), the rejected tracks per
reason, and a figure (``results/corpus/overview.png``): tracks per dataset and split, per
genre and split, and the distribution of track durations.
"""

from __future__ import annotations

import logging
from collections import Counter

from vocalmix.files import save_figure

__all__ = ["overview_rows"]

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


def overview_rows(rows: list[dict], rejected: list[dict]) -> list[dict]:
    """One row per (dataset, split, genre, source): tracks and hours; then rejections."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        key = (r.get("dataset") or "", r.get("split") or "", r.get("genre") or "unknown",
               r.get("source") or "")
        groups.setdefault(key, []).append(float(r.get("duration_s") or 0.0))
    out = [{"dataset": k[0], "split": k[1], "genre": k[2], "source": k[3],
            "tracks": len(v), "duration_min": sum(v) / 60.0, "rejected": 0, "reason": ""}
           for k, v in sorted(groups.items())]
    for (dataset, reason), n in sorted(Counter(
            (r.get("dataset") or "", (r.get("reason") or "").split(":")[0])
            for r in rejected).items()):
        out.append({"dataset": dataset, "split": "", "genre": "", "source": "", "tracks": 0,
                    "duration_min": 0.0, "rejected": n, "reason": reason})
    return out


def plot_overview(rows: list[dict], n_rejected: int, path) -> None:
    """Tracks per dataset and genre by split, and the duration histogram, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    colors = {"train": "#4c72b0", "valid": "#dd8452", "test": "#55a868"}
    for ax, field, title in ((axes[0], "dataset", "tracks per dataset"),
                             (axes[1], "genre", "tracks per genre")):
        cats = sorted({r.get(field) or "unknown" for r in rows})
        bottom = np.zeros(len(cats))
        for split in SPLITS:
            n = np.array([sum(1 for r in rows if (r.get(field) or "unknown") == c
                              and r.get("split") == split) for c in cats], float)
            ax.bar(cats, n, bottom=bottom, color=colors[split], label=split)
            bottom += n
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("tracks")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(axis="x", rotation=30)
        ax.legend(fontsize=8)
    dur = [float(r.get("duration_s") or 0.0) for r in rows]
    axes[2].hist(dur, bins=min(30, max(5, len(dur) // 2)), color="0.5")
    axes[2].set_xlabel("duration (s)")
    axes[2].set_ylabel("tracks")
    axes[2].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[2].set_title("track durations", fontsize=10)
    fig.suptitle(f"Corpus: {len(rows)} tracks, {sum(dur) / 60:.1f} min; "
                 f"{n_rejected} rejected at ingestion", fontsize=11)
    save_figure(fig, path, dpi=110)
