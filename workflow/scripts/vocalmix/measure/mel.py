"""Log-mel spectrograms: the time-frequency input of the models and a metric's basis.

Triangular filters equally spaced on the mel scale (O'Shaughnessy's 2595 log10(1 + f/700)),
area-normalised, over a Hann-windowed power spectrum.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

__all__ = ["mel_filterbank", "LogMel", "log_mel"]

@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 40.0,
                   fmax: float = 16000.0) -> NDArray[np.float32]:
    """Triangular filters equally spaced on the mel scale (2595 log10(1 + f/700)),
    area-normalised; shape ``(n_mels, n_fft // 2 + 1)``."""
    fmax = min(fmax, sample_rate / 2)
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    inv = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = inv(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    fb = np.zeros((n_mels, freqs.size))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - lo) / (c - lo)
        fall = (hi - freqs) / (hi - c)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall)) * 2.0 / (hi - lo)
    return fb.astype(np.float32)


class LogMel:
    """Log-mel spectrogram settings and transform."""

    #: Frames transformed at once (about 8 MB of spectra at 2048 points): the memory of a
    #: transform does not grow with the signal beyond its output.
    BLOCK_FRAMES = 1024

    def __init__(self, sample_rate: int, n_fft: int = 2048, hop: int = 512, n_mels: int = 64):
        self.sample_rate, self.n_fft, self.hop, self.n_mels = sample_rate, n_fft, hop, n_mels
        self.fb = mel_filterbank(sample_rate, n_fft, n_mels)
        self.window = np.hanning(n_fft + 1)[:-1].astype(np.float32)

    def __call__(self, mono: NDArray) -> NDArray[np.float32]:
        """``(n_mels, frames)`` log-mel power (dB) of a mono signal, frame k starting at
        sample k * hop; the end is zero-padded so that the frames cover the whole signal
        (``1 + samples // hop`` of them)."""
        from scipy import fft

        x = np.pad(np.asarray(mono, dtype=np.float32), (0, self.n_fft))
        frames = np.lib.stride_tricks.sliding_window_view(x, self.n_fft)[:: self.hop]
        scale = self.n_fft * float(np.sum(self.window ** 2))
        out = np.empty((self.n_mels, frames.shape[0]), dtype=np.float32)
        for first in range(0, frames.shape[0], self.BLOCK_FRAMES):  # bounded memory
            rows = slice(first, first + self.BLOCK_FRAMES)
            spec = fft.rfft(frames[rows] * self.window, axis=1)
            power = (spec.real ** 2 + spec.imag ** 2) / scale
            out[:, rows] = 10.0 * np.log10(self.fb @ power.T + 1e-10)
        return out

    def spec(self) -> dict:
        return {"sample_rate": self.sample_rate, "n_fft": self.n_fft, "hop": self.hop,
                "n_mels": self.n_mels}


def log_mel(mono: NDArray, sample_rate: int, **kw) -> NDArray[np.float32]:
    return LogMel(sample_rate, **kw)(mono)
