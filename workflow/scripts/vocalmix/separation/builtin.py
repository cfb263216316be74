"""The ``builtin`` separator: a small mask-estimation network trained on the corpus's own stems.

It works offline on a plain CPU with nothing downloaded: rule ``train_separator`` trains it on
the *training-split* stems of the configured datasets (the demo songs by default; MUSDB18-HQ,
MedleyDB, ... when configured), never on validation or test tracks, which it uses for model
selection and for the quality report.

Model
-----
Short-time Fourier transform (Hann window, ``N_FFT`` = 2048, hop ``HOP`` = 512 samples) of
one channel of the mixture; the input is the log power of every bin, standardised per bin
with the training mixtures' statistics. A 1x1 convolution maps the bins of a frame to
``hidden`` features, residual blocks of dilated temporal convolutions (kernel 3, dilations
1, 2, 4, ..., 32 with the default 6 blocks: 63 frames, about +-0.73 s at 44.1 kHz) with per-frame
layer normalisation model the context, and a 1x1 convolution with a sigmoid gives a soft
vocal mask for every bin. The vocal is the inverse STFT of the masked complex spectrum, each
channel separately; the backing is the mixture minus the vocal, so the two always sum to
the mixture.

Training
--------
Random excerpts (``segment_s``) of a training track's vocal and backing -- a share
``REMIX`` (half) of them with the backing of another training track, to multiply the
combinations -- with random gains (+/-``GAIN_DB``), one random channel or the mid. The loss
(``LOSS``) is the negative SI-SDR (Le Roux et al. 2019) of the two time-domain estimates
(inverse STFT of the masked mixture, and the mixture minus it), averaged: the quality
measure itself. (An L1 loss on square-root magnitudes, ``_loss(kind="magnitude")``, reached
a 6.5 dB vocal SI-SDR gain on the held-out demo songs where this one reaches 9.9 dB, same
seed and steps.) Adam with a one-cycle schedule; seeded from ``config.seed``, one CPU
thread, deterministic algorithms: same config, same weights. The validation loss (fixed excerpts of the validation tracks) picks the best of the
evaluated checkpoints.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from vocalmix.audio import db_to_gain
from vocalmix import seeding
from vocalmix.separation.external import SeparationError
from vocalmix.separation.settings import BuiltinSettings

log = logging.getLogger(__name__)

__all__ = ["N_FFT", "HOP", "EVAL_EVERY", "Stems", "train", "BuiltinSeparator", "load_model",
           "save_model", "SeparatorModelError"]

N_FFT = 2048
HOP = 512
#: Steps between evaluations of the training and validation loss.
EVAL_EVERY = 100
#: Random gain of each training excerpt's vocal and backing (+/- dB).
GAIN_DB = 6.0
#: Share of the excerpts whose backing comes from another training track.
REMIX = 0.5
#: The training loss (negative SI-SDR of the two estimates).
LOSS = "si_sdr"
MODEL_FORMAT = "vocalmix-builtin-separator/1"


@dataclass
class Stems:
    """One track's vocal and backing (float32, ``(channels, samples)``, same length)."""

    track_id: str
    vocal: NDArray
    backing: NDArray
    meta: dict = field(default_factory=dict)


class FrameNorm(nn.Module):
    """Layer normalisation over the features of each frame (length-independent).

    Shape: ``(batch, channels, frames)`` in and out.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x):  # (B, C, T)
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class Block(nn.Module):
    """Residual dilated convolution over frames: conv, frame norm, ReLU, 1x1 mix."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation, padding=dilation)
        self.norm = FrameNorm(channels)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x):
        return x + self.mix(torch.relu(self.norm(self.conv(x))))


class MaskNet(nn.Module):
    """The builtin separator: a vocal mask from the log power spectrogram.

    Shape: ``(batch, n_bins, frames)`` log power in, a mask in 0..1 of the same shape out.
    ``mean``/``std`` are the training inputs' statistics per bin (buffers, saved with it).
    """

    def __init__(self, n_bins: int, hidden: int, blocks: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_bins))
        self.register_buffer("std", torch.ones(n_bins))
        self.inp = nn.Conv1d(n_bins, hidden, 1)
        self.inp_norm = FrameNorm(hidden)
        self.blocks = nn.ModuleList([Block(hidden, 2 ** i) for i in range(blocks)])
        self.out = nn.Conv1d(hidden, n_bins, 1)

    def forward(self, log_power):  # (B, F, T) -> vocal mask (B, F, T)
        x = (log_power - self.mean[:, None]) / self.std[:, None]
        h = torch.relu(self.inp_norm(self.inp(x)))
        for block in self.blocks:
            h = block(h)
        return torch.sigmoid(self.out(h))


def receptive_half_width(blocks: int) -> int:
    """Frames of context on each side that influence one output frame."""
    return sum(2 ** i for i in range(blocks))


def _stft(x, window, hop):
    n_fft = window.shape[0]
    return torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)


def _power(spec):
    ri = torch.view_as_real(spec)
    return ri[..., 0] ** 2 + ri[..., 1] ** 2


def _log_power(spec):
    return torch.log10(_power(spec) + 1e-8)


# ------------------------------------------------------------------------------ training
class _Sampler:
    """Seeded random training excerpts (vocal, backing), mono, as torch tensors."""

    def __init__(self, tracks: list[Stems], segment: int, hyper: dict, seed: int):
        self.tracks = [t for t in tracks if t.vocal.shape[1] >= segment]
        if not self.tracks:
            raise ValueError(f"no training track is at least {segment} samples long")
        self.segment = segment
        self.gain_db = float(hyper["gain_db"])
        self.remix = float(hyper["remix"])
        self.rng = seeding.rng(seed, "separator", "batches")

    def _excerpt(self, audio: NDArray, channel: int, start: int) -> NDArray:
        x = audio[:, start:start + self.segment]
        if channel >= x.shape[0]:
            return x.mean(axis=0)
        return x[channel]

    def batch(self, size: int):
        r = self.rng
        v_out = np.empty((size, self.segment), np.float32)
        b_out = np.empty((size, self.segment), np.float32)
        for k in range(size):
            tv = self.tracks[int(r.integers(len(self.tracks)))]
            tb = self.tracks[int(r.integers(len(self.tracks)))] if r.random() < self.remix else tv
            sv = int(r.integers(tv.vocal.shape[1] - self.segment + 1))
            sb = sv if tb is tv else int(r.integers(tb.backing.shape[1] - self.segment + 1))
            channel = int(r.integers(3))  # left, right or mid
            gv, gb = db_to_gain(r.uniform(-self.gain_db, self.gain_db, size=2))
            v_out[k] = gv * self._excerpt(tv.vocal, channel, sv)
            b_out[k] = gb * self._excerpt(tb.backing, channel, sb)
        return torch.from_numpy(v_out), torch.from_numpy(b_out)


def _fixed_excerpts(tracks: list[Stems], segment: int, per_track: int = 4):
    """Deterministic validation excerpts: evenly spaced, mid channel, as recorded."""
    v, b = [], []
    for t in tracks:
        n = t.vocal.shape[1]
        if n < segment:
            continue
        for start in np.linspace(0, n - segment, per_track).astype(int):
            v.append(t.vocal[:, start:start + segment].mean(axis=0))
            b.append(t.backing[:, start:start + segment].mean(axis=0))
    if not v:
        return None
    return torch.from_numpy(np.stack(v)), torch.from_numpy(np.stack(b))


def _neg_si_sdr(ref, est):
    """Mean negative SI-SDR (dB) over a batch of 1-D signals ``(B, n)``."""
    energy = torch.sum(ref * ref, dim=1, keepdim=True) + 1e-8
    a = torch.sum(est * ref, dim=1, keepdim=True) / energy
    target = a * ref
    ratio = torch.sum(target ** 2, dim=1) / (torch.sum((target - est) ** 2, dim=1) + 1e-8)
    return -torch.mean(10.0 * torch.log10(ratio + 1e-8))


def _loss(net, vocal, backing, window, hop, kind: str = "magnitude"):
    with torch.no_grad():
        spec = _stft(vocal + backing, window, hop)
        power = _power(spec)
        features = torch.log10(power + 1e-8)
    mask = net(features)
    if kind == "si_sdr":
        n = vocal.shape[-1]
        v_hat = torch.istft(mask * spec, window.shape[0], hop, window=window, center=True,
                            length=n)
        b_hat = (vocal + backing) - v_hat
        return 0.5 * (_neg_si_sdr(vocal, v_hat) + _neg_si_sdr(backing, b_hat))
    with torch.no_grad():
        root_mag = power ** 0.25
        root_v = _power(_stft(vocal, window, hop)) ** 0.25
        root_b = _power(_stft(backing, window, hop)) ** 0.25
    # sqrt(m |X|) = sqrt(m) sqrt(|X|): the compressed magnitudes of the two estimates
    return (torch.mean(torch.abs(torch.sqrt(mask + 1e-8) * root_mag - root_v))
            + torch.mean(torch.abs(torch.sqrt(1 - mask + 1e-8) * root_mag - root_b)))


def _input_stats(tracks: list[Stems], window, hop, max_frames: int = 20000):
    """Per-bin mean and standard deviation of the training mixtures' log power."""
    rows = []
    for t in tracks:
        mix = torch.from_numpy((t.vocal + t.backing).mean(axis=0).astype(np.float32))
        rows.append(_log_power(_stft(mix, window, hop)))
    lp = torch.cat(rows, dim=1)
    if lp.shape[1] > max_frames:
        lp = lp[:, torch.linspace(0, lp.shape[1] - 1, max_frames).long()]
    return lp.mean(dim=1), lp.std(dim=1).clamp_min(1e-3)


def _hyperparameters(settings: BuiltinSettings, *, n_fft: int, hop: int,
                     eval_every: int) -> dict:
    """Everything the training uses, as its checkpoint records it (this key order: the same
    training writes the same bytes)."""
    return {"n_fft": n_fft, "hop": hop, "steps": settings.steps,
            "batch_size": settings.batch_size, "hidden": settings.hidden,
            "blocks": settings.blocks, "learning_rate": settings.learning_rate,
            "segment_s": settings.segment_s, "gain_db": GAIN_DB, "remix": REMIX,
            "max_seconds_per_track": float(settings.max_seconds_per_track),
            "eval_every": eval_every, "loss": LOSS}


def train(train_tracks: list[Stems], valid_tracks: list[Stems], *, sample_rate: int, seed: int,
          settings: BuiltinSettings, n_fft: int = N_FFT, hop: int = HOP,
          eval_every: int = EVAL_EVERY) -> tuple[dict, list[dict]]:
    """Train the mask network; return (checkpoint dict, learning curve rows).

    ``settings`` are config section ``separation.builtin`` (its ``method`` and
    ``max_seconds_per_track`` concern the caller); ``n_fft``, ``hop`` (STFT, samples) and
    ``eval_every`` (steps between evaluations) are fixed by the project, smaller in tests.
    ``valid_tracks`` may be empty: the best checkpoint is then chosen on the training loss
    of the evaluation steps (recorded as such in the curve).
    """
    from tqdm import tqdm

    s = _hyperparameters(settings, n_fft=n_fft, hop=hop, eval_every=eval_every)
    if not train_tracks:
        raise ValueError("the builtin separator needs training stems (vocal + backing) and the "
                         "configured datasets have no training-split track with both")
    torch.manual_seed(seeding.derive_seed(seed, "separator", "init") % (2 ** 31))
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    n_fft, hop = int(s["n_fft"]), int(s["hop"])
    window = torch.hann_window(n_fft)
    net = MaskNet(n_fft // 2 + 1, int(s["hidden"]), int(s["blocks"]))
    mean, std = _input_stats(train_tracks, window, hop)
    net.mean.copy_(mean)
    net.std.copy_(std)
    segment = int(round(float(s["segment_s"]) * sample_rate))
    sampler = _Sampler(train_tracks, segment, s, seed)
    valid = _fixed_excerpts(valid_tracks, segment)
    opt = torch.optim.Adam(net.parameters(), lr=float(s["learning_rate"]))
    steps = int(s["steps"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(s["learning_rate"]),
                                                total_steps=steps, pct_start=0.1)
    curve: list[dict] = []
    best = (math.inf, None, 0)
    running = []
    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc="train separator", unit="step", file=sys.stderr,
               mininterval=5.0)
    for step in bar:
        net.train()
        v, b = sampler.batch(int(s["batch_size"]))
        loss = _loss(net, v, b, window, hop, s["loss"])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if step % int(s["eval_every"]) == 0 or step == steps:
            net.eval()
            with torch.no_grad():
                vl = (float(_loss(net, *valid, window, hop, s["loss"])) if valid is not None
                      else math.nan)
            train_loss = float(np.mean(running))
            running = []
            curve.append({"step": step, "train_loss": train_loss, "valid_loss": vl,
                          "seconds": time.perf_counter() - start})
            key = vl if valid is not None else train_loss
            if key < best[0]:
                best = (key, {k: v.detach().clone() for k, v in net.state_dict().items()}, step)
            bar.set_postfix(train=f"{train_loss:.4f}", valid=f"{vl:.4f}")
            log.info("step %d: train loss %.4f, valid loss %.4f", step, train_loss, vl)
    bar.close()
    ckpt = {
        "format": MODEL_FORMAT,
        "state_dict": best[1],
        "best_step": best[2],
        "selected_on": "valid_loss" if valid is not None else "train_loss",
        "sample_rate": int(sample_rate),
        "n_fft": n_fft,
        "hop": hop,
        "hidden": int(s["hidden"]),
        "blocks": int(s["blocks"]),
        "settings": s,
        "train_tracks": [t.track_id for t in train_tracks],
        "valid_tracks": [t.track_id for t in valid_tracks],
    }
    return ckpt, curve


def save_model(path, ckpt: dict) -> None:
    """Write a separator checkpoint as a plain torch file (no pickled code), atomically;
    the same training gives the same bytes (see :mod:`vocalmix.modelfiles`)."""
    from vocalmix.modelfiles import write_checkpoint

    write_checkpoint(path, ckpt, save=torch.save, load=_safe_load)


def _safe_load(file):
    """``torch.load`` that refuses pickled code (``weights_only=True``), onto the CPU."""
    return torch.load(file, map_location="cpu", weights_only=True)


class SeparatorModelError(SeparationError, ValueError):
    """A builtin separator model file that is missing, corrupt, or not one of ours."""


def load_model(path) -> "BuiltinSeparator":
    """Load a builtin separator model, never running code from the file.

    Raises
    ------
    SeparatorModelError
        No file, a corrupt or foreign file, or one that asks to run code when loaded
        (one line naming the file).
    """
    from pathlib import Path

    from vocalmix.modelfiles import ModelFileError, read_checkpoint

    path = Path(path)
    if not path.is_file():
        raise SeparatorModelError(
            f"{path}: no builtin separator model there; train one with "
            "`snakemake results/separated/model/separator.pt` (it learns from the training "
            "stems of the configured datasets) or pass --model")
    try:
        ckpt = read_checkpoint(path, load=_safe_load, what="separator model")
    except ModelFileError as exc:
        raise SeparatorModelError(str(exc)) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != MODEL_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else None
        raise SeparatorModelError(f"{path}: not a vocalmix builtin separator model "
                                  f"(format {found!r})")
    try:
        return BuiltinSeparator(ckpt)
    except (TypeError, KeyError, ValueError, RuntimeError, IndexError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SeparatorModelError(f"{path}: not a usable builtin separator model "
                                  f"({first[:200]})") from None


class BuiltinSeparator:
    """Inference with a trained mask network."""

    def __init__(self, ckpt: dict):
        self.ckpt = ckpt
        self.sample_rate = int(ckpt["sample_rate"])
        self.n_fft, self.hop = int(ckpt["n_fft"]), int(ckpt["hop"])
        self.net = MaskNet(self.n_fft // 2 + 1, int(ckpt["hidden"]), int(ckpt["blocks"]))
        self.net.load_state_dict(ckpt["state_dict"])
        self.net.eval()
        self.window = torch.hann_window(self.n_fft)
        self.context = receptive_half_width(int(ckpt["blocks"]))

    def mask(self, spec, chunk_frames: int = 4096):
        """Vocal mask of complex spectra ``(channels, F, T)``, computed in chunks of frames
        with enough context that the result equals one pass over the whole signal."""
        lp = _log_power(spec)
        T = lp.shape[-1]
        out = torch.empty_like(lp)
        c = self.context
        with torch.no_grad():
            for a in range(0, T, chunk_frames):
                b = min(T, a + chunk_frames)
                lo, hi = max(0, a - c), min(T, b + c)
                m = self.net(lp[:, :, lo:hi])
                out[:, :, a:b] = m[:, :, a - lo:a - lo + (b - a)]
        return out

    def separate(self, mixture: NDArray, sample_rate: int, threads: int = 1
                 ) -> tuple[NDArray, NDArray]:
        """(vocal, backing) of a ``(channels, samples)`` mixture at the model's rate."""
        if sample_rate != self.sample_rate:
            raise ValueError(f"the separator was trained at {self.sample_rate} Hz, the mixture "
                             f"is at {sample_rate} Hz; resample it first")
        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, int(threads)))
        try:
            x = torch.from_numpy(np.ascontiguousarray(mixture, dtype=np.float32))
            n = x.shape[-1]
            spec = _stft(x, self.window, self.hop)
            vocal_spec = self.mask(spec) * spec
            vocal = torch.istft(vocal_spec, self.n_fft, self.hop, window=self.window, center=True,
                                length=n).numpy().astype(np.float32)
        finally:
            torch.set_num_threads(previous)
        backing = np.asarray(mixture, dtype=np.float32) - vocal
        return vocal, backing
