"""The blind reverberation estimate finds its note offsets for all frames at once; the result
is that of the frame-by-frame loop it replaced (kept here as the reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vocalmix.corpus import demo
from vocalmix.measure.reverb_blind import HOP_S, estimate_from_levels, level_curve


def _loop_reference(lvl, fine, *, min_hold_s=0.15, min_drop_db=3.0, settle_s=0.06,
                    min_tail_db=8.0, floor_margin_db=6.0, max_tail_s=3.0):
    """(t60s, drrs) of the frame-by-frame loop of vocalmix 2026-12-04."""
    n = min(lvl.size, fine.size)
    if n < 50:
        return [], []
    noise = float(np.percentile(lvl, 5))
    hold = max(1, int(min_hold_s / HOP_S))
    settle = max(1, int(settle_s / HOP_S))
    longest = int(max_tail_s / HOP_S)
    t60s, drrs = [], []
    i = hold
    while i < n - settle - 6:
        window = lvl[i - hold: i]
        held = float(np.median(window))
        if (held - noise < min_tail_db + floor_margin_db + min_drop_db
                or np.ptp(window) > 12.0 or lvl[i] < held - 1.5
                or lvl[i + settle] > held - min_drop_db):
            i += 1
            continue
        a = i + settle
        run_min = lvl[a]
        b = a + 1
        while b < min(n, a + longest):
            run_min = min(run_min, lvl[b])
            if lvl[b] > run_min + 2.0 or lvl[b] < noise + floor_margin_db:
                break
            b += 1
        tail = lvl[a:b]
        if tail.size >= 8 and tail[0] - tail.min() >= min_tail_db:
            stop = int(np.argmin(tail)) + 1
            tt = np.arange(stop) * HOP_S
            yy = tail[:stop]
            slope, icpt = np.polyfit(tt, yy, 1)
            pred = slope * tt + icpt
            ss = float(np.sum((yy - yy.mean()) ** 2))
            r2 = 1.0 - float(np.sum((yy - pred) ** 2)) / ss if ss > 0 else 0.0
            if slope < 0 and r2 >= 0.9:
                t60s.append(-60.0 / slope)
                below = np.flatnonzero(fine[i: i + 2 * settle] < held - 3.0)
                t_off = i + (int(below[0]) if below.size else settle)
                k0 = t_off + int(round(0.015 / HOP_S))
                k1 = t_off + int(round(0.035 / HOP_S))
                reverb = 10 * math.log10(np.mean(10 ** (fine[k0:k1] / 10)))
                reverb -= slope * (0.5 * (k0 + k1) - t_off) * HOP_S
                gap = held - reverb
                if gap > 0.05:
                    drrs.append(10 * math.log10(max(10 ** (gap / 10) - 1, 1e-6)))
        i = max(b, i + 1)
    return t60s, drrs


@pytest.mark.parametrize("genre,seed", [("ballad", 1), ("rock", 2), ("pop", 3)])
def test_the_offsets_found_at_once_give_the_loops_estimate(genre, seed):
    audio, _ = demo.generate_song(f"demo_{seed:03d}", genre, duration_s=12.0, sample_rate=44100,
                                  seed=seed)
    for role in ("vocal", "raw_vocal", "mixture"):
        x = audio[role]
        lvl, fine = level_curve(x, 44100), level_curve(x, 44100, window_s=0.01)
        got = estimate_from_levels(lvl, fine)
        t60s, drrs = _loop_reference(lvl, fine)
        assert got.t60_all_s == t60s and got.drr_all_db == drrs  # exactly the same decays
        assert got.decays == len(t60s)


def test_random_level_curves_give_the_loops_estimate():
    rng = np.random.default_rng(0)
    for _ in range(20):
        # notes: held levels with free exponential decays and noise, at 10 ms frames
        lvl = np.full(3000, -70.0) + rng.normal(0, 1, 3000)
        for start in rng.integers(0, 2800, size=25):
            length = int(rng.integers(20, 80))
            lvl[start: start + length] = -20.0 + rng.normal(0, 0.5, length)
            decay = -20.0 - np.arange(60) * rng.uniform(0.5, 2.0)
            end = min(3000, start + length + 60)
            lvl[start + length: end] = np.maximum(decay[: end - start - length], -70.0)
        fine = lvl + rng.normal(0, 0.3, lvl.size)
        got = estimate_from_levels(lvl, fine)
        t60s, drrs = _loop_reference(lvl, fine)
        assert got.t60_all_s == t60s and got.drr_all_db == drrs
