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
content above it), so the two always sum to the song. Segments are processed one at a time:
:meth:`PretrainedSeparator.separate_stream` reads the song in blocks and hands out the
stems' finished samples block by block, holding one segment (about 12 s) and the frames'
overlap, so its memory does not grow with the song; :meth:`PretrainedSeparator.separate`
(whole arrays) collects the same blocks.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from vocalmix.audio import AudioStream, to_channels
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
#: samples of overlap between a segment's last frames and the next segment's: N_FFT - HOP
TAIL = N_FFT - HOP
#: frames per block read from an :class:`~vocalmix.audio.AudioStream`
READ_BLOCK = 1 << 16
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

    def separate(self, mixture: NDArray, sample_rate: int, *, threads: int = 1,
                 progress: Callable[[int, int | None], None] | None = None
                 ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Split a ``(channels, samples)`` mixture at 44.1 kHz into (vocal, backing).

        Mono is separated as two identical channels and averaged back. ``progress``, if
        given, is called with (segments done, segments in all). Returns float32 arrays
        shaped like ``mixture``; ``vocal + backing == mixture`` up to float rounding.

        :meth:`separate_stream` of the whole mixture as one block, collected: the same
        samples as the stream's blocks, bit for bit.
        """
        mixture = np.asarray(mixture, dtype=np.float32)
        if mixture.ndim != 2:
            raise ValueError(f"expected a (channels, samples) mixture, got shape {mixture.shape}")
        vocal = np.empty(mixture.shape, dtype=np.float32)
        backing = np.empty(mixture.shape, dtype=np.float32)
        pos = 0
        for v, b in self.separate_stream([mixture], sample_rate, frames=mixture.shape[1],
                                         threads=threads, progress=progress):
            vocal[:, pos:pos + v.shape[1]] = v
            backing[:, pos:pos + b.shape[1]] = b
            pos += v.shape[1]
        return vocal, backing

    def separate_stream(self, source: Iterable[NDArray] | AudioStream,
                        sample_rate: int | None = None, *, frames: int | None = None,
                        threads: int = 1,
                        progress: Callable[[int, int | None], None] | None = None,
                        block_frames: int = READ_BLOCK
                        ) -> Iterator[tuple[NDArray[np.float32], NDArray[np.float32]]]:
        """:meth:`separate` of a mixture that arrives in blocks, in memory bounded by one
        segment, whatever the song's length.

        Parameters
        ----------
        source : iterable of arrays, or AudioStream
            Successive ``(channels, n)`` blocks of the mixture (any lengths, mono or stereo,
            the same channels throughout; converted to float32), or an opened
            :class:`~vocalmix.audio.AudioStream` (read in blocks of ``block_frames``; its
            rate and length are taken from it).
        sample_rate : int
            The mixture's rate (44.1 kHz); read from an ``AudioStream`` when omitted.
        frames : int, optional
            The mixture's length, if known: only for ``progress``'s total.
        progress : callable, optional
            Called with (segments done, segments in all, or None while the length is
            unknown) after each segment.

        Yields
        ------
        vocal, backing : float32 ``(channels, m)`` arrays
            The next ``m`` samples of the two stems (fresh arrays); concatenated, exactly
            (bit for bit) what :meth:`separate` of the whole mixture returns. A segment's
            samples come out once the next segment's input has been read (one segment,
            ``SEGMENT * HOP`` samples, plus the ``N_FFT - HOP`` overlap are held).
        """
        if isinstance(source, AudioStream):
            sample_rate = source.sample_rate if sample_rate is None else sample_rate
            frames = source.frames if frames is None else frames
            source = source.blocks(block_frames)
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"Spleeter's 2stems model runs at {SAMPLE_RATE} Hz, the mixture is "
                             f"at {sample_rate} Hz; resample it first")
        segments = None if frames is None else -(-_frames(int(frames)) // SEGMENT)
        return self._stream(iter(source), max(1, int(threads)), segments, progress)

    def _stream(self, blocks: Iterator[NDArray], threads: int, segments: int | None,
                progress: Callable[[int, int | None], None] | None
                ) -> Iterator[tuple[NDArray[np.float32], NDArray[np.float32]]]:
        """The generator of :meth:`separate_stream`.

        ``inp`` holds the zero-padded stereo signal (``N_FFT`` zeros, the mixture, zeros)
        from padded sample ``base`` = ``k0 * HOP`` on, where ``k0`` is the segment's first
        STFT frame: the ``SEGMENT`` frames' ``(SEGMENT - 1) * HOP + N_FFT`` samples. ``out``
        holds the overlap-add sums from the same sample: the previous segments' sums over
        the first ``N_FFT - HOP`` samples (the part the next frames overlap), zeros after.
        A segment's frames are added in the order of the whole-song computation, so every
        output sample is the same sum in the same order.
        """
        size = SEGMENT * HOP + TAIL
        inp = torch.zeros((2, size), dtype=torch.float32)
        out = torch.zeros((2, size), dtype=torch.float32)
        inp_np, out_np = inp.numpy(), out.numpy()  # the same memory
        fill = N_FFT  # samples of inp filled (the leading zeros of the padding first)
        base = k0 = n = done = 0  # n: mixture samples read so far
        channels: int | None = None
        pending = np.zeros((2, 0), dtype=np.float32)  # the part of a block not yet in inp
        ended = False
        while True:
            while fill < size and not ended:
                if pending.shape[1] == 0:
                    block = next(blocks, None)
                    if block is None:
                        ended = True
                        break
                    block = np.asarray(block, dtype=np.float32)
                    if block.ndim != 2:
                        raise ValueError(f"expected (channels, n) blocks, got shape "
                                         f"{block.shape}")
                    if channels is None:
                        channels = block.shape[0]
                    elif block.shape[0] != channels:
                        raise ValueError(f"a block of {block.shape[0]} channels after blocks "
                                         f"of {channels}")
                    pending = to_channels(block, 2)
                m = min(size - fill, pending.shape[1])
                inp_np[:, fill:fill + m] = pending[:, :m]
                pending = pending[:, m:]
                fill += m
                n += m
            if ended:
                total = _frames(n)  # the song's STFT frames: now known
                nf = min(SEGMENT, total - k0)
                inp_np[:, fill:] = 0  # the zero padding at the end
                segments = -(-total // SEGMENT)
            else:  # inp is full, so the song has more than SEGMENT frames from k0 on
                nf = SEGMENT
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                self._segment(inp, out, nf)
            finally:
                torch.set_num_threads(previous)
            done += 1
            if progress is not None:
                progress(done, segments)
            # the samples no later frame reaches: padded [base, base + nf * HOP), less the
            # leading zeros and the padding at the end
            lo = max(base, N_FFT) - base
            hi = min(base + nf * HOP, N_FFT + n) - base
            if hi > lo and channels is not None:
                vocal = np.array(to_channels(out_np[:, lo:hi], channels), dtype=np.float32)
                backing = inp_np[:channels, lo:hi] - vocal  # row 0 of a mono song is the song
                yield vocal, backing
            if ended and k0 + nf >= total:
                return
            shift = nf * HOP  # = SEGMENT * HOP: the next segment's first sample
            inp_np[:, :size - shift] = inp_np[:, shift:]
            out_np[:, :TAIL] = out_np[:, shift:shift + TAIL]
            out_np[:, TAIL:] = 0
            fill -= shift
            base += shift
            k0 += nf

    @torch.inference_mode()
    def _segment(self, inp: torch.Tensor, out: torch.Tensor, nf: int) -> None:
        """Add the inverse STFT of the masked spectrum of ``nf`` frames from ``inp``'s first
        sample into ``out`` (the same sample): windowed overlap-add, frame quarter by
        quarter."""
        chunk = inp[:, :(nf - 1) * HOP + N_FFT]
        spec = torch.fft.rfft(chunk.unfold(-1, N_FFT, HOP) * self.window)  # (2, nf, 2049)
        mask = self.vocal_mask(spec[..., :BINS].abs())
        spec[..., :BINS] *= mask
        spec[..., BINS:] = 0  # mask_extension: zeros
        y = torch.fft.irfft(spec, n=N_FFT) * (self.window * WINDOW_COMPENSATION)
        quarters = y.reshape(2, nf, N_FFT // HOP, HOP)
        for q in range(N_FFT // HOP):  # overlap-add, one quarter of each frame at a time
            start = q * HOP
            out[:, start:start + nf * HOP] += quarters[:, :, q].reshape(2, nf * HOP)


def _frames(n: int) -> int:
    """STFT frames of an ``n``-sample mixture: ``tf.signal.frame(pad_end=True)`` of the
    signal after ``N_FFT`` leading zeros."""
    return -(-(n + N_FFT) // HOP)


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
