"""Rule ``separate_heldout``: the configured separator on one held-out track with ground truth.

The mixture is the track's own mixture file where it has one (it may be mastered, so not the
plain sum of the stems), else vocal + backing, read exactly as ingestion reads it (at
``config.sample_rate``). The estimates go to ``results/separated/heldout/<track>/`` and are
scored by rule ``separation_quality`` (:mod:`vocalmix.separation.quality`), which runs in the
audio environment; this rule runs in the backend's own environment.
"""

from __future__ import annotations

import logging


from vocalmix.audio import to_channels

log = logging.getLogger(__name__)

__all__ = ["mixture_of"]


def mixture_of(stems):
    """The mixture a held-out track is separated from: its own file, else vocal + backing."""
    mixture = stems.meta.get("mixture")
    if mixture is None:
        return stems.vocal + stems.backing
    return to_channels(mixture, stems.vocal.shape[0])
