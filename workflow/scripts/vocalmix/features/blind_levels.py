"""The blind reverb estimate's level curves of an audio file, in bounded memory.

:func:`vocalmix.measure.reverb_blind.level_curve` band-passes the channel mean with a
zero-phase filter (scipy ``sosfiltfilt``: the Butterworth band-pass run forwards over the
signal with odd extensions at both ends, then backwards over the result) and takes windowed
energies from the cumulative sum of the squared output. A whole 10-minute stereo song is
212 MB as that float64 mean and as much again per temporary; :func:`level_curves_file`
computes the same curves from the file in blocks:

1. forwards: the forward filter's state at each block boundary (a few floats a block) and
   its output over the right extension (from the last ``edge + 1`` samples);
2. backwards, blocks in reverse order: each block's forward output is recomputed from its
   saved state, and the backward filter run over it reversed, keeping only the backward
   state at each block boundary;
3. forwards again: each block's forward output, then its backward output from the saved
   backward state (the zero-phase output of that block), squared and summed into the
   running cumulative sum, of which only the values at the windows' edges are kept.

Each filter runs the same recursion on the same samples as in the whole-signal call, and
the cumulative sum adds the same terms in the same order, so the curves are equal to
:func:`~vocalmix.measure.reverb_blind.level_curve`'s bit for bit (``tests/unit/
test_features_streaming.py``). Memory: a few blocks of ``block`` samples, plus the kept
cumulative sums and their indices (about 64 bytes per 5 ms hop for the two windows: 8 MB
for a 10-minute song). The file is read three times.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, open_audio
from vocalmix.measure.reverb_blind import HOP_S, level_curve

__all__ = ["level_curves_file"]

BAND_HZ = (500.0, 2000.0)


def _mono(block: NDArray) -> NDArray[np.float64]:
    """The channel mean in float64, as :func:`level_curve` forms it."""
    return np.asarray(block, dtype=np.float64).mean(axis=0)


def level_curves_file(path: str, sample_rate: int, windows_s: Sequence[float] = (0.05, 0.01),
                      *, band: tuple[float, float] = BAND_HZ, hop_s: float = HOP_S,
                      block: int = 1 << 20) -> list[NDArray]:
    """``[level_curve(audio, sample_rate, band, w, hop_s) for w in windows_s]`` of the audio
    in ``path``, read ``block`` samples at a time (a file of one block is read whole).

    Raises
    ------
    AudioError
        Unreadable audio (see :func:`vocalmix.audio.open_audio`), NaN/inf samples, or a
        sample rate other than ``sample_rate``; the message names the file.
    """
    from vocalmix.kernels import (butter_bandpass_sos, sosfilt, sosfilt_zi,
                                  sosfiltfilt_padlen)

    with open_audio(path) as stream:
        if stream.sample_rate != sample_rate:
            raise AudioError(path, f"sample rate {stream.sample_rate} Hz, expected "
                                   f"{sample_rate} Hz")
        if stream.frames <= block:
            x = stream.read(-1)
            return [level_curve(x, sample_rate, band=band, window_s=w, hop_s=hop_s)
                    for w in windows_s]
        # the band-pass of level_curve (vocalmix.kernels: scipy's filters, no scipy.signal)
        sos = butter_bandpass_sos(4, *band, sample_rate)
        zi = sosfilt_zi(sos)
        # sosfiltfilt's odd extension at both ends, ``edge`` samples each
        edge = sosfiltfilt_padlen(sos)

        def blocks_from(k: int) -> NDArray:
            stream.seek(k * block)
            return _mono(stream.read(block))

        # 1. forwards: states at block boundaries; the right extension's output
        states: list[NDArray] = []
        tail = np.zeros(0)
        n = 0
        state = None
        for k, chunk in enumerate(stream.blocks(block)):
            x = _mono(chunk)
            if k == 0:
                left = 2.0 * x[0] - x[edge:0:-1]
                _, state = sosfilt(sos, left, zi=zi * left[:1])
            states.append(state)
            _, state = sosfilt(sos, x, zi=state)
            tail = np.concatenate([tail, x])[-(edge + 1):]
            n += x.size
        right = 2.0 * tail[-1] - tail[-2::-1]
        y_right, _ = sosfilt(sos, right, zi=state)

        # 2. backwards: the backward filter's state entering each block from its end
        back = [None] * len(states)
        _, state = sosfilt(sos, y_right[::-1], zi=zi * y_right[-1:])
        for k in range(len(states) - 1, -1, -1):
            back[k] = state
            y, _ = sosfilt(sos, blocks_from(k), zi=states[k])
            _, state = sosfilt(sos, y[::-1], zi=state)

        # 3. forwards: the zero-phase output block by block, into the cumulative sum
        hop = int(round(hop_s * sample_rate))
        wins = [int(round(w * sample_rate)) for w in windows_s]
        starts = [np.arange(0, max(1, n - win), hop) for win in wins]
        need = np.unique(np.concatenate([np.concatenate([s, s + win])
                                         for s, win in zip(starts, wins)]))
        kept = np.empty(need.size)
        carry = 0.0
        for k in range(len(states)):
            y, _ = sosfilt(sos, blocks_from(k), zi=states[k])
            y, _ = sosfilt(sos, y[::-1], zi=back[k])
            y = y[::-1]
            first = k * block
            cum = np.cumsum(np.concatenate([[carry], y * y]))  # cum[i]: the sum to first + i
            sel = (need >= first) & (need <= first + y.size)
            kept[sel] = cum[need[sel] - first]
            carry = cum[-1]
    curves = []
    for s, win in zip(starts, wins):
        power_start = kept[np.searchsorted(need, s)]
        power_end = kept[np.searchsorted(need, s + win)]
        energy = (power_end - power_start) / win
        curves.append(10 * np.log10(np.maximum(energy, 1e-20)))
    return curves
