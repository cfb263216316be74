"""The task models' inference in numpy: the data-driven system's predictions without torch.

Mixing a song with the data-driven system needs four small CNNs
(:class:`vocalmix.models.nets.MixNet`) on a few hundred log-mel windows; importing torch
for them cost about a second of CPU time on the 2-core reference machine, in a thread that
competes with the mix itself. :class:`NumpyPredictor` has the interface of
:class:`vocalmix.models.nets.Predictor` (``meta``, ``targets``, calling it on windows,
``predict_inputs``, ``load``) and computes the same network from the same checkpoint, read
by :func:`vocalmix.modelfiles.read_checkpoint_arrays` (a whitelisting unpickler: no code
from the file runs). Training keeps torch and its own ``Predictor``; this module never
imports torch, directly or through another module.

The network in eval mode, layer by layer (``MixNet.forward``):

* each block's batch norm (running mean and variance, :data:`BN_EPS` as torch's default)
  folded into its 3x3 convolution (padding 1): one weight matrix and bias per block,
  folded in float64 and stored as float32;
* the convolution as one float32 matrix product (BLAS) over an im2col matrix whose rows are
  contiguous copies of the padded input: each window's padded channel is one flat row, so
  the 3x3 neighbour ``(i, j)`` of every output position is the same row shifted by
  ``i * (width + 2) + j`` -- the two outputs per row that wrap into the next row are
  computed and dropped (2 of ``width + 2`` columns). The activations are laid out
  ``(channels, windows, mels, frames)`` so that the whole batch is one product;
* the 2x2 max-pool with torch's floor (an odd last row or column dropped), taken before the
  bias and ReLU, which it commutes with exactly (both are monotone per channel), on a
  quarter of the values;
* the mean over the frames, the flatten in torch's ``(channel, mel)`` order, and the head's
  two linear layers with a ReLU between (dropout is the identity in eval mode).

The predictions equal torch's within float32 rounding (sums in another order):
``tests/unit/test_inference_numpy.py`` holds them to 1e-4 in target units (LU, dB) on
random networks; on the trained models and a 3-minute song's windows they differed by at
most 1e-6 LU (level, loudness range), 1e-5 for reverb and 2e-5 dB for EQ (outputs of up to
70 dB: float32 rounding).
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import NDArray

from vocalmix.modelfiles import load_task_model, read_checkpoint_arrays

__all__ = ["ARCH_DEFAULTS", "BN_EPS", "DEFAULT_BATCH", "NumpyMixNet", "TaskPredictor",
           "NumpyPredictor", "load_numpy_checkpoint"]

#: :class:`vocalmix.models.nets.MixNet`'s keyword defaults, for a checkpoint's ``arch`` that
#: leaves one out (a test holds them to ``MixNet.__init__``'s signature).
ARCH_DEFAULTS = {"in_channels": 2, "n_mels": 64, "channels": (16, 32, 64), "hidden": 128,
                 "dropout": 0.2}
#: ``nn.BatchNorm2d``'s ``eps``, which a checkpoint does not store (MixNet keeps the default;
#: a test checks its modules).
BN_EPS = 1e-5
#: Windows per forward pass. Small batches keep the im2col matrices in a core's cache: with
#: 3-s windows (64 mels x 129 frames) the largest, the second block's, is 2.4 MB for 2
#: windows. On the reference machine (2 MB of L2 per core, one BLAS thread) the four trained
#: models took 0.63, 0.61, 0.64, 0.8 and 1.1 s of CPU time for a 3-minute song's 178 windows
#: in batches of 1, 2, 4, 8 and 32.
DEFAULT_BATCH = 2


class _Block:
    """One conv block with its batch norm folded in: ``weight`` ``(out, in * 9)`` in the
    order of torch's ``(out, in, 3, 3)`` weight, ``bias`` ``(out, 1, 1, 1)``."""

    __slots__ = ("weight", "bias")

    def __init__(self, conv_w: NDArray, conv_b: NDArray, gamma: NDArray, beta: NDArray,
                 mean: NDArray, var: NDArray, eps: float = BN_EPS):
        scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
        w = conv_w.astype(np.float64) * scale[:, None, None, None]
        b = (conv_b.astype(np.float64) - mean.astype(np.float64)) * scale + beta
        self.weight = np.ascontiguousarray(w.reshape(w.shape[0], -1), dtype=np.float32)
        self.bias = np.ascontiguousarray(b.reshape(-1, 1, 1, 1), dtype=np.float32)


class _Workspace:
    """The forward pass's buffers, kept from one batch to the next of a call: fresh large
    arrays are fresh pages from the kernel, and faulting them in cost as much as a third of
    a model's time on a song. Padded buffers are zeroed once; only their interiors are
    written afterwards, so their borders stay zero."""

    def __init__(self) -> None:
        self.arrays: dict[str, NDArray] = {}

    def get(self, name: str, shape: tuple[int, ...], *, zeroed: bool = False) -> NDArray:
        a = self.arrays.get(name)
        if a is None or a.shape != shape:
            a = (np.zeros if zeroed else np.empty)(shape, np.float32)
            self.arrays[name] = a
        return a

    def padded(self, name: str, channels: int, n: int, mels: int, frames: int
               ) -> tuple[NDArray, NDArray]:
        """A ``(channels, n, (mels + 2) * (frames + 2) + 2)`` buffer -- each window's channel
        zero-padded by one on every side, flattened, with two more zeros so that the last
        shifted row stays inside -- and the view of its interior, ``(channels, n, mels,
        frames)``."""
        flat = (mels + 2) * (frames + 2)
        buf = self.get(name, (channels, n, flat + 2), zeroed=True)
        inner = buf[:, :, :flat].reshape(channels, n, mels + 2, frames + 2)
        return buf, inner[:, :, 1: mels + 1, 1: frames + 1]


class NumpyMixNet:
    """:class:`vocalmix.models.nets.MixNet` in eval mode, in numpy (see the module docstring).

    Shape
    -----
    input: ``(batch, in_channels, n_mels, frames)`` standardised log-mels, ``frames`` at
    least ``2 ** blocks``; output: ``(batch, n_outputs)`` standardised targets, float32.
    """

    def __init__(self, blocks: list[_Block], w1: NDArray, b1: NDArray, w2: NDArray,
                 b2: NDArray, *, in_channels: int, n_mels: int):
        self.blocks = blocks
        self.in_channels, self.n_mels = in_channels, n_mels
        # the head's products as (batch, in) @ (in, out), the weights transposed once
        self.w1 = np.ascontiguousarray(w1.T, dtype=np.float32)
        self.b1 = np.asarray(b1, dtype=np.float32)
        self.w2 = np.ascontiguousarray(w2.T, dtype=np.float32)
        self.b2 = np.asarray(b2, dtype=np.float32)

    @property
    def n_outputs(self) -> int:
        return self.w2.shape[1]

    @classmethod
    def from_state_dict(cls, state: dict, arch: dict, n_outputs: int) -> "NumpyMixNet":
        """The network ``MixNet(n_outputs, **arch)`` with the weights of ``state`` (the
        checkpoint's state dict, arrays), as ``load_state_dict`` would load them: every key,
        and only those, with its shape.

        Raises
        ------
        ValueError
            ``arch`` is not MixNet's, or ``state`` does not fit it (the first misfit named).
        """
        unknown = set(arch) - set(ARCH_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown architecture settings {sorted(unknown)}")
        a = {**ARCH_DEFAULTS, **arch}
        channels = tuple(a["channels"])
        sizes = (a["in_channels"], a["n_mels"], a["hidden"], n_outputs, *channels)
        if not channels or not all(type(v) is int and v > 0 for v in sizes):
            raise ValueError(f"architecture {a} with {n_outputs} outputs is not a MixNet's")
        mels = a["n_mels"] // 2 ** len(channels)
        if mels < 1:
            raise ValueError(f"{a['n_mels']} mels do not survive {len(channels)} poolings")
        shapes: dict[str, tuple[int, ...]] = {}
        c_in = a["in_channels"]
        for k, c in enumerate(channels):
            conv, bn = f"features.{4 * k}", f"features.{4 * k + 1}"
            shapes.update({f"{conv}.weight": (c, c_in, 3, 3), f"{conv}.bias": (c,),
                           f"{bn}.weight": (c,), f"{bn}.bias": (c,),
                           f"{bn}.running_mean": (c,), f"{bn}.running_var": (c,),
                           f"{bn}.num_batches_tracked": ()})
            c_in = c
        shapes.update({"head.2.weight": (a["hidden"], c_in * mels),
                       "head.2.bias": (a["hidden"],),
                       "head.4.weight": (n_outputs, a["hidden"]), "head.4.bias": (n_outputs,)})
        missing = [k for k in shapes if k not in state]
        extra = [k for k in state if k not in shapes]
        if missing or extra:
            raise ValueError(f"state dict does not fit the architecture (missing "
                             f"{missing[:3]}, unexpected {extra[:3]})")
        for key, shape in shapes.items():
            value = state[key]
            if not isinstance(value, np.ndarray) or value.shape != shape:
                got = value.shape if isinstance(value, np.ndarray) else type(value).__name__
                raise ValueError(f"{key} is {got}, the architecture needs {shape}")
            kind = "iu" if key.endswith("num_batches_tracked") else "f"
            if value.dtype.kind not in kind:
                raise ValueError(f"{key} holds {value.dtype}")
        blocks = [_Block(*(state[f"features.{4 * k}.{p}"] for p in ("weight", "bias")),
                         *(state[f"features.{4 * k + 1}.{p}"]
                           for p in ("weight", "bias", "running_mean", "running_var")))
                  for k in range(len(channels))]
        return cls(blocks, state["head.2.weight"], state["head.2.bias"],
                   state["head.4.weight"], state["head.4.bias"],
                   in_channels=a["in_channels"], n_mels=a["n_mels"])

    def check(self, shape: tuple[int, ...]) -> None:
        """Raise :class:`ValueError` unless windows of ``shape`` fit the network."""
        least = 2 ** len(self.blocks)
        if (len(shape) != 4 or shape[1] != self.in_channels or shape[2] != self.n_mels
                or shape[3] < least):
            raise ValueError(f"windows of shape {tuple(shape)}; the model takes (n, "
                             f"{self.in_channels}, {self.n_mels}, frames >= {least})")

    def __call__(self, x: NDArray, *, mean: NDArray | None = None,
                 std: NDArray | None = None, work: _Workspace | None = None
                 ) -> NDArray[np.float32]:
        """Outputs for the windows ``x``, standardised first as ``(x - mean) / std`` where
        given (per channel, broadcast as ``(1, channels, 1, 1)``; float32, the torch
        predictor's arithmetic). ``work``: the buffers of an earlier batch to reuse. Memory:
        the buffers hold about 60 times the batch's floats (4 MB a 3-s window), the im2col
        matrices most of it."""
        x = np.asarray(x, dtype=np.float32)
        self.check(x.shape)
        work = _Workspace() if work is None else work
        n, c, mels, frames = x.shape
        buf, inner = work.padded("in", c, n, mels, frames)
        inner[...] = x.transpose(1, 0, 2, 3)
        if mean is not None:
            inner -= np.asarray(mean, np.float32).reshape(-1, 1, 1, 1)
            inner /= np.asarray(std, np.float32).reshape(-1, 1, 1, 1)
        for k, block in enumerate(self.blocks):
            row = frames + 2
            span = mels * row  # the outputs of a window's channel, two wrapped per row
            cols = work.get(f"cols{k}", (c, 9, n, span))
            for t in range(9):
                off = (t // 3) * row + t % 3
                cols[:, t] = buf[:, :, off: off + span]
            out = block.weight.shape[0]
            y = work.get(f"conv{k}", (out, n * span))
            np.matmul(block.weight, cols.reshape(c * 9, n * span), out=y)
            y = y.reshape(out, n, mels, row)
            mels, frames = mels // 2, frames // 2
            y = y[:, :, : 2 * mels, : 2 * frames]
            rows = work.get(f"rows{k}", (out, n, mels, 2 * frames))
            np.maximum(y[:, :, 0::2], y[:, :, 1::2], out=rows)
            if k + 1 < len(self.blocks):
                buf, h = work.padded(f"pad{k}", out, n, mels, frames)
            else:
                h = work.get("last", (out, n, mels, frames))
            np.maximum(rows[..., 0::2], rows[..., 1::2], out=h)
            h += block.bias
            np.maximum(h, 0.0, out=h)
            c = out
        z = h.mean(axis=3, dtype=np.float32).transpose(1, 0, 2).reshape(n, -1)
        z = z @ self.w1
        z += self.b1
        np.maximum(z, 0.0, out=z)
        z = z @ self.w2
        z += self.b2
        return z


def load_numpy_checkpoint(path: str | os.PathLike) -> tuple[NumpyMixNet, dict]:
    """A task model saved by :func:`vocalmix.models.nets.save_checkpoint`, as a
    :class:`NumpyMixNet` and its meta; never runs code from the file. Raises as
    :func:`vocalmix.modelfiles.load_task_model` does (FileNotFoundError, ModelFileError).
    """

    return load_task_model(path, _read_arrays, _numpy_model)


def _read_arrays(path) -> dict:
    return read_checkpoint_arrays(path, what="vocalmix task model")


def _numpy_model(ckpt: dict) -> tuple[NumpyMixNet, dict]:
    meta = ckpt["meta"]
    return NumpyMixNet.from_state_dict(ckpt["state_dict"], dict(meta["arch"]),
                                       len(meta["targets"])), meta


class TaskPredictor:
    """What every task predictor reads from its checkpoint's ``meta``: the input and target
    statistics, the input channels it was trained on and the target names; calling it on
    ``(n, 2, n_mels, frames)`` log-mel windows (vocal, backing) gives ``(n, n_targets)``
    predictions from :meth:`predict_inputs` (the subclass's) on its own channels.
    :class:`NumpyPredictor` here, :class:`vocalmix.models.nets.Predictor` with torch."""

    #: Windows per batch when the caller gives none.
    batch = DEFAULT_BATCH

    def __init__(self, meta: dict):
        self.meta = meta
        self.x_mean = np.asarray(meta["input_mean"], dtype=np.float32)[None, :, None, None]
        self.x_std = np.asarray(meta["input_std"], dtype=np.float32)[None, :, None, None]
        self.y_mean = np.asarray(meta["target_mean"], dtype=np.float32)
        self.y_std = np.asarray(meta["target_std"], dtype=np.float32)
        channels = list(meta["input"]["channels"])
        self.channels = [channels.index(c) for c in meta.get("input_channels", channels)]

    @property
    def targets(self) -> list[str]:
        return list(self.meta["targets"])

    def __call__(self, windows: NDArray, batch: int | None = None) -> NDArray[np.float32]:
        """``windows``: ``(n, 2, n_mels, frames)`` log-mels (vocal, backing) ->
        ``(n, n_targets)``; the model uses the channels it was trained on."""
        return self.predict_inputs(np.asarray(windows)[:, self.channels],
                                   self.batch if batch is None else batch)


class NumpyPredictor(TaskPredictor):
    """A trained task model applied to log-mel windows, in target units, without torch: the
    interface and the numbers of :class:`vocalmix.models.nets.Predictor`."""

    def __init__(self, net: NumpyMixNet, meta: dict):
        super().__init__(meta)
        self.net = net
        n_in, n_out = net.in_channels, net.n_outputs
        if not (self.x_mean.size == self.x_std.size == len(self.channels) == n_in
                and self.y_mean.size == self.y_std.size == len(self.targets) == n_out):
            raise ValueError(f"meta's statistics ({self.x_mean.size} input, "
                             f"{self.y_mean.size} target) and channels do not fit a network "
                             f"of {n_in} inputs and {n_out} outputs")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NumpyPredictor":
        """The predictor of the checkpoint at ``path`` (:func:`load_numpy_checkpoint`).

        Raises
        ------
        FileNotFoundError, vocalmix.modelfiles.ModelFileError
            As :func:`load_numpy_checkpoint`; also for a meta that does not fit the network.
        """
        return load_task_model(path, _read_arrays, lambda ckpt: cls(*_numpy_model(ckpt)))

    def predict_inputs(self, inputs: NDArray, batch: int = DEFAULT_BATCH
                       ) -> NDArray[np.float32]:
        """Like calling the predictor, on windows holding only the model's own channels,
        ``batch`` windows at a time, through one set of buffers (about 60 times a batch's
        floats: 8 MB for the default batch of 3-s windows)."""
        inputs = np.asarray(inputs)
        if len(inputs) == 0:
            return np.zeros((0, len(self.targets)), np.float32)
        self.net.check(inputs.shape)
        batch = max(1, int(batch))
        out = np.empty((len(inputs), self.net.n_outputs), np.float32)
        work = _Workspace()
        for i in range(0, len(inputs), batch):
            y = self.net(inputs[i: i + batch], mean=self.x_mean, std=self.x_std, work=work)
            out[i: i + batch] = y * self.y_std + self.y_mean
        return out

