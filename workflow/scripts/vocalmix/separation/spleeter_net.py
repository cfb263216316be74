"""Spleeter's 2-stem network in PyTorch: the ``pretrained`` separation backend.

The project's own implementation of Deezer's Spleeter ``2stems`` model (Hennequin et al.,
"Spleeter: a fast and efficient music source separation tool with pre-trained models", JOSS
2020), running its original weights (:mod:`vocalmix.separation.spleeter_weights`) in the
main environment, without TensorFlow. It follows spleeter 2.4.2's TensorFlow graph step by
step, so its estimates agree with the original's (README, 'Source separation'):

* STFT: the stereo waveform at 44.1 kHz, preceded by 4096 zeros and zero-padded at the end
  to whole frames, in 4096-sample frames with a periodic Hann window and a hop of 1024
  (``tf.signal.stft(pad_end=True)``); magnitudes of the lowest 1024 bins (0-11 kHz).
* The frames are cut into 512-frame segments (the last one zero-padded), each a
  ``(2, 512, 1024)`` (channel, time, frequency) input of two U-Nets, one per stem: six
  5x5 stride-2 convolutions (16 ... 512 channels; batch norm, leaky ReLU 0.2), six 5x5
  stride-2 transposed convolutions (ReLU, batch norm, skip connections from the encoder's
  convolutions before their batch norm), a dilated 4x4 convolution and a sigmoid giving a
  stereo mask; each stem's estimate is mask x magnitude.
* Ratio mask (``separation_exponent`` 2): vocal mask = (V^2 + eps/2) / (V^2 + A^2 + eps),
  eps = 1e-10, extended with zeros above bin 1024 (spleeter's ``mask_extension: zeros``:
  nothing above 11 kHz reaches the vocal).
* Inverse STFT of the masked mixture: windowed overlap-add, times 2/3 (spleeter's window
  compensation), cropped to the song.

The vocal is that estimate; the backing is the mixture minus the vocal (equal to spleeter's
accompaniment below 11 kHz, where the two ratio masks sum to one, and keeping the mixture's
content above it), so the two always sum to the song. Segments are processed one at a time,
so memory grows only with the song's samples (the output buffers), not its spectrogram.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from vocalmix.audio import to_channels
from vocalmix.separation.spleeter_weights import (FILTERS, STEMS, find_weights,
                                                  load_weights)

__all__ = ["SAMPLE_RATE", "N_FFT", "HOP", "BINS", "SEGMENT", "UNet", "SpleeterNet",
           "PretrainedSeparator", "load_separator"]

SAMPLE_RATE = 44100
N_FFT = 4096
HOP = 1024
#: frequency bins the network sees (of N_FFT // 2 + 1)
BINS = 1024
#: STFT frames per network input
SEGMENT = 512
EPS = 1e-10
#: spleeter's inverse-STFT scaling: a periodic Hann window squared sums to 1.5 at hop N/4
WINDOW_COMPENSATION = 2.0 / 3.0


class UNet(nn.Module):
    """One stem's U-Net: ``(B, 2, T, F)`` magnitudes -> ``(B, 2, T, F)`` mask in [0, 1].

    ``T`` and ``F`` must be multiples of 64 (six stride-2 levels). Layers are named as in
    :func:`vocalmix.separation.spleeter_weights.expected_shapes` (without the stem prefix).
    """

    def __init__(self) -> None:
        super().__init__()
        downs, cin = [], 2
        for c in FILTERS:
            downs.append(nn.Conv2d(cin, c, kernel_size=5, stride=2))
            cin = c
        self.down = nn.ModuleList(downs)
        self.down_bn = nn.ModuleList(nn.BatchNorm2d(c, eps=1e-3) for c in FILTERS)
        ups, cin = [], FILTERS[-1]
        outs = (256, 128, 64, 32, 16, 1)
        for i, c in enumerate(outs):
            ups.append(nn.ConvTranspose2d(cin, c, kernel_size=5, stride=2))
            cin = 2 * c if i < len(outs) - 1 else c
        self.up = nn.ModuleList(ups)
        self.up_bn = nn.ModuleList(nn.BatchNorm2d(c, eps=1e-3) for c in outs)
        self.last = nn.Conv2d(1, 2, kernel_size=4, dilation=2, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for i, conv in enumerate(self.down):
            c = conv(F.pad(h, (1, 2, 1, 2)))  # TF 'same' for k=5, s=2: 1 before, 2 after
            skips.append(c)
            if i < len(self.down) - 1:  # the deepest level's activation is unused
                h = F.leaky_relu(self.down_bn[i](c), 0.2)
        h = skips[-1]
        for i, up in enumerate(self.up):
            if i > 0:
                h = torch.cat([skips[-1 - i], h], dim=1)
            h = up(h)[:, :, 1:-2, 1:-2]  # crop as TF's 'same' transposed convolution
            h = self.up_bn[i](F.relu(h))  # dropout (training only) is the identity here
        return torch.sigmoid(self.last(h))


class SpleeterNet(nn.Module):
    """Both stems' U-Nets; ``forward`` gives the vocal's ratio mask.

    Input ``(B, 2, T, F)`` mixture magnitudes; output ``(B, 2, T, F)`` vocal mask in [0, 1]
    (spleeter's ratio mask with exponent 2). The accompaniment's mask is one minus it, up to
    ``EPS``.
    """

    def __init__(self) -> None:
        super().__init__()
        for stem in STEMS:
            self.add_module(stem, UNet())

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        vocal = (self.vocals(mag) * mag) ** 2
        accompaniment = (self.accompaniment(mag) * mag) ** 2
        return (vocal + EPS / len(STEMS)) / (vocal + accompaniment + EPS)


class PretrainedSeparator:
    """Spleeter 2stems with its pretrained weights: ``separate(mixture, 44100)``.

    Parameters
    ----------
    weights : dict
        ``{name: float32 array}`` as :func:`~vocalmix.separation.spleeter_weights.load_weights`
        returns.
    source : str
        Where the weights came from (reported in ``info``).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, weights: dict[str, NDArray[np.float32]], source: str = "") -> None:
        net = SpleeterNet()
        state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in weights.items()}
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:  # load_weights has checked the names; a second guard
            raise ValueError(f"weights do not fit the network: missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]}")
        # channels-last lets oneDNN run the transposed convolutions too: about 2x faster on a CPU
        self.net = net.eval().to(memory_format=torch.channels_last)
        self.window = torch.hann_window(N_FFT, periodic=True)
        self.source = source

    @torch.inference_mode()
    def vocal_mask(self, mag: torch.Tensor) -> torch.Tensor:
        """``(2, frames, BINS)`` magnitudes (frames <= SEGMENT) -> the vocal mask, same shape."""
        n = mag.shape[1]
        x = F.pad(mag, (0, 0, 0, SEGMENT - n)).unsqueeze(0)
        return self.net(x.contiguous(memory_format=torch.channels_last))[0, :, :n]

    @torch.inference_mode()
    def separate(self, mixture: NDArray, sample_rate: int, *, threads: int = 1,
                 progress=None) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Split a ``(channels, samples)`` mixture at 44.1 kHz into (vocal, backing).

        Mono is separated as two identical channels and averaged back. ``progress``, if
        given, is called with (segments done, segments in all). Returns float32 arrays
        shaped like ``mixture``; ``vocal + backing == mixture`` up to float rounding.
        """
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"Spleeter's 2stems model runs at {SAMPLE_RATE} Hz, the mixture is "
                             f"at {sample_rate} Hz; resample it first")
        mixture = np.asarray(mixture, dtype=np.float32)
        channels, n = mixture.shape
        stereo = torch.from_numpy(np.ascontiguousarray(to_channels(mixture, 2)))
        frames = -(-(n + N_FFT) // HOP)  # tf.signal.frame(pad_end=True) on the padded signal
        length = (frames - 1) * HOP + N_FFT
        padded = torch.zeros((2, length), dtype=torch.float32)
        padded[:, N_FFT:N_FFT + n] = stereo
        out = torch.zeros((2, length), dtype=torch.float32)
        segments = -(-frames // SEGMENT)
        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, int(threads)))
        try:
            for j in range(segments):
                k0, k1 = j * SEGMENT, min((j + 1) * SEGMENT, frames)
                chunk = padded[:, k0 * HOP:(k1 - 1) * HOP + N_FFT]
                spec = torch.fft.rfft(chunk.unfold(-1, N_FFT, HOP) * self.window)  # (2, nf, 2049)
                mask = self.vocal_mask(spec[..., :BINS].abs())
                spec[..., :BINS] *= mask
                spec[..., BINS:] = 0  # mask_extension: zeros
                y = torch.fft.irfft(spec, n=N_FFT) * (self.window * WINDOW_COMPENSATION)
                nf = k1 - k0
                quarters = y.reshape(2, nf, N_FFT // HOP, HOP)
                for q in range(N_FFT // HOP):  # overlap-add, one quarter of each frame at a time
                    start = (k0 + q) * HOP
                    out[:, start:start + nf * HOP] += quarters[:, :, q].reshape(2, nf * HOP)
                if progress is not None:
                    progress(j + 1, segments)
        finally:
            torch.set_num_threads(previous)
        vocal = to_channels(out[:, N_FFT:N_FFT + n].numpy(), channels)
        backing = mixture - vocal
        return np.ascontiguousarray(vocal), np.ascontiguousarray(backing)


@functools.lru_cache(maxsize=2)
def _cached(path: str, mtime_ns: int, size: int) -> PretrainedSeparator:
    return PretrainedSeparator(load_weights(path), source=path)


def load_separator(weights: str | os.PathLike | None = None) -> PretrainedSeparator:
    """The pretrained separator from ``weights`` (default: the installed file).

    Raises :class:`~vocalmix.separation.spleeter_weights.WeightsError` with the install hint
    when the weights are missing, and for a file that is not exactly Spleeter 2stems weights
    (never a network with random weights).
    """
    p = Path(find_weights(weights)).resolve()
    st = p.stat()
    return _cached(str(p), st.st_mtime_ns, st.st_size)
