"""The data-driven models: a small convolutional network per mixing decision.

Input: ``(batch, 2, n_mels, frames)`` log-mel spectrograms of the (corrupted or raw) vocal
and of the backing, each loudness-normalised per track, standardised by the training set's
per-channel mean and deviation. Three conv blocks (3x3 convolution, batch norm, ReLU, 2x2
max-pool) keep the mel axis (frequency detail matters for EQ) and the time axis is
averaged away; a two-layer head maps the resulting ``channels x mels/8`` summary to the
task's targets (standardised, so every output has the same scale):

=============  =================================================================
task           targets
=============  =================================================================
``level``      vocal-to-backing loudness ratio of the window (LU)
``eq``         correction curve at the 31 third-octave centres (dB)
``compression`` the vocal's loudness range (LU)
``reverb``     log mid-band T60, damping, return level (dB), pre-delay (ms)
=============  =================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from vocalmix.models.dataset import REVERB_TARGETS, TARGETS, eq_target_names, tone_target_names
from vocalmix.models.inference import TaskPredictor

__all__ = ["TASKS", "MULTITASK", "task_targets", "task_groups", "MixNet", "save_checkpoint", "load_checkpoint", "Predictor",
           "select_device"]

TASKS = ("level", "eq", "compression", "reverb")
MULTITASK = "all"


def task_targets(task: str) -> list[str]:
    """Target names a task model predicts (``all``: every task's, one multi-task network)."""
    if task == MULTITASK:
        return [n for t in TASKS for n in task_targets(t)]
    if task == "level":
        return ["level_lu"]
    if task == "eq":  # the corruption's inverse and the processed vocal's tonal balance
        return eq_target_names() + tone_target_names()
    if task == "compression":
        return ["lra_lu"]
    if task == "reverb":
        return list(REVERB_TARGETS)
    raise ValueError(f"unknown task {task!r}; tasks: {', '.join(TASKS)} or {MULTITASK}")


def task_groups(task: str) -> list[list[int]]:
    """Column groups of a task's outputs that weigh equally in the loss (one per task)."""
    if task != MULTITASK:
        return [list(range(len(task_targets(task))))]
    groups, k = [], 0
    for t in TASKS:
        n = len(task_targets(t))
        groups.append(list(range(k, k + n)))
        k += n
    return groups


class MixNet(nn.Module):
    """CNN over log-mel windows.

    Shape
    -----
    input: ``(batch, in_channels, n_mels, frames)``; output: ``(batch, n_outputs)``.
    """

    def __init__(self, n_outputs: int, *, in_channels: int = 2, n_mels: int = 64,
                 channels: tuple[int, ...] = (16, 32, 64), hidden: int = 128,
                 dropout: float = 0.2):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        mels = n_mels // (2 ** len(channels))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c_in * mels, hidden), nn.ReLU(),
                                  nn.Linear(hidden, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (batch, channels, mels', frames')
        return self.head(h.mean(dim=3))


def select_device(preference: str = "auto") -> torch.device:
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def save_checkpoint(path: str | Path, model: MixNet, meta: dict) -> None:
    """Write ``model``'s weights and ``meta`` as a plain checkpoint (no pickled code), atomically.

    The same weights and meta give the same bytes; see :mod:`vocalmix.modelfiles`.
    """
    from vocalmix.modelfiles import write_checkpoint

    write_checkpoint(path, {"state_dict": model.state_dict(), "meta": meta}, save=torch.save,
                     load=safe_load)


def safe_load(file) -> object:
    """``torch.load`` that refuses pickled code (``weights_only=True``), onto the CPU."""
    return torch.load(file, map_location="cpu", weights_only=True)


def load_checkpoint(path: str | Path) -> tuple[MixNet, dict]:
    """Load a task model saved by :func:`save_checkpoint`, never running code from the file.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    vocalmix.modelfiles.ModelFileError
        The file is corrupt, foreign, or not a vocalmix task model (one line naming it).
    """
    from vocalmix.modelfiles import load_task_model, read_checkpoint

    def build(ckpt) -> tuple[MixNet, dict]:
        meta = ckpt["meta"]
        model = MixNet(len(meta["targets"]), **meta["arch"])
        model.load_state_dict(ckpt["state_dict"])
        return model.eval(), meta

    return load_task_model(
        path, lambda p: read_checkpoint(p, load=safe_load, what="vocalmix task model"), build)


class Predictor(TaskPredictor):
    """A trained task model applied to log-mel windows, in target units."""

    batch = 64

    def __init__(self, model: MixNet, meta: dict):
        super().__init__(meta)
        self.model = model

    @classmethod
    def load(cls, path: str | Path) -> "Predictor":
        return cls(*load_checkpoint(path))

    def predict_inputs(self, inputs: NDArray, batch: int = 64) -> NDArray[np.float32]:
        """Like calling the predictor, on windows holding only the model's own channels."""
        out = []
        with torch.inference_mode():
            for i in range(0, len(inputs), batch):
                x = np.asarray(inputs[i: i + batch], dtype=np.float32)
                x = (x - self.x_mean) / self.x_std
                y = _infer(self.model, torch.from_numpy(np.ascontiguousarray(x))).numpy()
                out.append(y * self.y_std + self.y_mean)
        return np.concatenate(out) if out else np.zeros((0, len(self.targets)), np.float32)


def _plain_pool(layer: nn.Module, h: torch.Tensor) -> bool:
    """Whether ``layer`` is ``nn.MaxPool2d(2)`` (2x2 windows, stride 2, no padding) on an
    input ``h`` it can pool (``max_pool2d`` refuses one under two rows or columns)."""
    return (min(h.shape[-2:]) >= 2
            and isinstance(layer, nn.MaxPool2d) and layer.kernel_size in (2, (2, 2))
            and layer.stride in (2, (2, 2)) and layer.padding in (0, (0, 0))
            and layer.dilation in (1, (1, 1)) and not layer.ceil_mode)


def _max_pool_2x2(h: torch.Tensor) -> torch.Tensor:
    """``nn.MaxPool2d(2)`` of ``h`` as the larger of its even and odd rows, then columns:
    the same values (a maximum is exact; NaN propagates as there), at about a third of
    the cost of ``max_pool2d``, which also records the argmax for a backward pass that
    inference never takes (it was half of a model's time on a song's windows)."""
    h = h[..., : h.shape[-2] // 2 * 2, : h.shape[-1] // 2 * 2]
    rows = torch.maximum(h[..., 0::2, :], h[..., 1::2, :])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def _infer(model: MixNet, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` for inference: :meth:`MixNet.forward`'s layers, its plain 2x2 max-pools
    as :func:`_max_pool_2x2` (the same outputs, ``tests/unit/test_speed_paths_dd.py``)."""
    h = x
    for layer in model.features:
        h = _max_pool_2x2(h) if _plain_pool(layer, h) else layer(h)
    return model.head(h.mean(dim=3))


def targets_index(names: list[str]) -> list[int]:
    return [TARGETS.index(n) for n in names]


