"""A hand-made ``results/`` tree of the render/evaluate contract, for the listening tests.

``make_renders(root, tracks)`` writes short stereo PCM-24 WAVs
``results/renders/{track}/{condition}.wav``, ``results/renders/renders.tsv`` and
``results/evaluation/per_track.tsv`` (absolute errors against the reference, 0 for it) with
errors that grow in a known order: professional < data_driven < rule_based < commercial <
unprocessed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from vocalmix.conditions import CONDITIONS, REFERENCE
from vocalmix.audio import write_audio

#: Error scale per condition (multiplies every metric's typical error).
ERROR_SCALE = {"professional": 0.0, "data_driven": 0.6, "rule_based": 0.9,
               "commercial": 1.3, "unprocessed": 2.2}
METRIC_TYPICAL = {"balance_error_lu": 2.0, "lra_error_lu": 3.0, "mel_distance_db": 4.0,
                  "centroid_error_hz": 300.0, "mrstft_distance": 1.0, "t60_error_pct": 40.0}


def make_renders(root: Path, tracks=("demo_001", "demo_005", "demo_009"), *,
                 duration_s: float = 0.5, sample_rate: int = 44100,
                 missing: dict | None = None, seed: int = 3) -> Path:
    """Write the tree under ``root``; ``missing`` maps track -> conditions to leave out."""
    missing = missing or {}
    r = np.random.default_rng(seed)
    rows, metrics = [], []
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    for k, track in enumerate(tracks):
        for c in CONDITIONS:
            if c in missing.get(track, ()):
                continue
            rel = f"results/renders/{track}/{c}.wav"
            tone = 0.1 * np.sin(2 * np.pi * (220 + 20 * k) * t)
            audio = np.stack([tone, tone]) + 0.01 * r.standard_normal((2, n))
            write_audio(root / rel, audio.astype(np.float32), sample_rate, subtype="PCM_24")
            rows.append({"track": track, "split": "test", "genre": "pop", "condition": c,
                         "path": rel, "source": "preset" if c == "commercial" else c,
                         "start_s": "0", "duration_s": f"{duration_s}",
                         "integrated_lufs": "-23.0", "true_peak_dbtp": "-6.0"})
            m = {"track": track, "condition": c}
            for name, typ in METRIC_TYPICAL.items():
                m[name] = 0.0 if c == REFERENCE else ERROR_SCALE[c] * typ * (0.8 + 0.1 * k)
            metrics.append(m)
    for rel, data in (("results/renders/renders.tsv", rows),
                      ("results/evaluation/per_track.tsv", metrics)):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(data[0]), delimiter="\t",
                               lineterminator="\n")
            w.writeheader()
            w.writerows(data)
    return root
