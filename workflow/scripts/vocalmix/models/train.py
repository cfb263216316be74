"""Training of one task model (rule ``train_model``, ``results/models/{task}/``).

Seeded and deterministic on the CPU (one thread, deterministic algorithms); CUDA is used when
present and ``device`` allows. Adam on a masked, window-weighted mean squared error of the
standardised targets (NaN targets -- silent windows, bands above Nyquist -- carry no loss);
early stopping on the validation split (a seeded share of the training *tracks* when the
corpus has no validation split), the best epoch's weights kept.

Writes ``model.pt`` (weights, architecture, input and target statistics), ``curve.csv`` and
``curve.png`` (loss per epoch) and ``metrics.json`` (held-out metrics on the test split, in
target units, next to a baseline that always predicts the training mean).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Mapping

import numpy as np

from vocalmix import seeding
from vocalmix.config import schema_settings
from vocalmix.dsp.effects import EQBand
from vocalmix.files import save_figure, write_json
from vocalmix.models.augment import EQResponses, MelEQAugment
from vocalmix.models.dataset import TARGETS, ShardedDataset
from vocalmix.models.nets import (
    MULTITASK,
    TASKS,
    MixNet,
    Predictor,
    save_checkpoint,
    select_device,
    targets_index,
    task_groups,
    task_targets,
)
from vocalmix.tables import fixed, write_table

log = logging.getLogger(__name__)

__all__ = ["TrainSettings", "train_task", "evaluate_windows"]

@schema_settings("train")
class TrainSettings:
    """Training of the task models (config section ``train``; defaults from the schema).

    ``inputs`` maps a task to its input channels (``vocal``, ``backing``); a task not named
    there (the multi-task model) gets every channel of the dataset. ``gpus`` is what the rule
    asks a cluster for; training itself reads ``device``.
    """

    max_epochs: int
    patience: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    channels: tuple[int, ...]
    hidden: int
    dropout: float
    valid_fraction: float
    device: str
    eq_augment: float
    inputs: Mapping[str, tuple[str, ...]]
    gpus: int


class _Split:
    """A split's windows held in memory for the task (float32 inputs, task targets)."""

    def __init__(self, ds: ShardedDataset, cols: list[int], rows: list[int] | None = None,
                 channels: list[int] | None = None):
        rows = list(range(len(ds))) if rows is None else rows
        self.rows = rows
        self.index = [ds.index[i] for i in rows]
        if rows:
            items = [ds[i] for i in rows]
            self.x = np.stack([it[0] if channels is None else it[0][channels] for it in items])
            self.y = np.stack([it[1][cols] for it in items]).astype(np.float32)
            self.w = np.array([it[2] for it in items], dtype=np.float32)
        else:
            self.x = np.zeros((0,), np.float32)
            self.y = np.zeros((0, len(cols)), np.float32)
            self.w = np.zeros(0, np.float32)

    def __len__(self) -> int:
        return len(self.rows)


def _rows(ds: ShardedDataset, versions: set[str] | None) -> list[int]:
    return [i for i, r in enumerate(ds.index) if versions is None or r["version"] in versions]


def _loss(pred, y, w, torch, groups=None):
    """Window-weighted MSE over the finite targets; with ``groups`` (a multi-task model) the
    mean of each group's loss, so a 31-band EQ curve does not outweigh a single level."""
    if groups is not None and len(groups) > 1:
        return sum(_loss(pred[:, g], y[:, g], w, torch) for g in groups) / len(groups)
    mask = ~torch.isnan(y)
    diff = torch.where(mask, pred - torch.nan_to_num(y), torch.zeros_like(pred))
    per = (diff ** 2).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    has = mask.any(dim=1).float() * w
    return (per * has).sum() / has.sum().clamp(min=1e-6)


def train_task(dataset_dir: str | Path, out_dir: str | Path, task: str, *, seed: int,
               settings: TrainSettings | None = None) -> dict:
    """Train the ``task`` model on ``dataset_dir``; write its files to ``out_dir``.

    Parameters
    ----------
    dataset_dir
        The windowed dataset of rule ``build_dataset``.
    out_dir
        Folder of ``model.pt``, ``curve.csv``, ``curve.png`` and ``metrics.json``.
    task
        One of :data:`vocalmix.models.nets.TASKS` or the multi-task model.
    seed
        The config seed; every random choice derives from it and the task.
    settings
        Training settings (default: the schema's).

    Returns
    -------
    dict
        Window counts, epochs, seconds, device and held-out metrics.
    """
    import torch
    from tqdm import tqdm

    s = settings if settings is not None else TrainSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seeding.derive_seed(seed, "train", task) % (2**31))
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    device = select_device(s.device)
    names = task_targets(task)
    cols = targets_index(names)
    groups = task_groups(task)

    train_ds = ShardedDataset(dataset_dir, "train")
    desc = train_ds.description
    available = list(desc["input"]["channels"])
    wanted = list(s.inputs.get(task) or available)
    unknown = [c for c in wanted if c not in available]
    if unknown:
        raise ValueError(f"train.inputs.{task}: unknown input {', '.join(unknown)}; the dataset "
                         f"has {', '.join(available)}")
    chans = [available.index(c) for c in wanted]
    valid_ds = ShardedDataset(dataset_dir, "valid", stats=False)
    test_ds = ShardedDataset(dataset_dir, "test", stats=False)
    if len(train_ds) == 0:
        raise ValueError(f"{dataset_dir}: no training windows")
    # Without the vocal as input, the corrupted versions of a track are the same window
    # (same backing, same targets) repeated: keep one of each.
    versions = None if "vocal" in wanted else {"0"}
    train_rows = _rows(train_ds, versions)
    if len(valid_ds) == 0:  # carve validation tracks from the training tracks
        tracks = train_ds.tracks()
        order = sorted(tracks, key=lambda t: seeding.derive_seed(seed, "valid", t))
        n_valid = max(1, int(round(s.valid_fraction * len(tracks)))) if len(tracks) > 1 else 0
        held = set(order[:n_valid])
        valid = _Split(train_ds, cols, [i for i in train_rows
                                        if train_ds.index[i]["track_id"] in held], chans)
        train_rows = [i for i in train_rows if train_ds.index[i]["track_id"] not in held]
        log.info("no validation split: %d training track(s) held out for early stopping",
                 len(held))
    else:
        valid = _Split(valid_ds, cols, _rows(valid_ds, versions), chans)
    train = _Split(train_ds, cols, train_rows, chans)
    test = _Split(test_ds, cols, _rows(test_ds, versions), chans)

    x_mean = train.x.mean(axis=(0, 2, 3))
    x_std = train.x.std(axis=(0, 2, 3)) + 1e-6
    y_mean = np.array([desc["train_mean"][TARGETS.index(n)] or 0.0 for n in names], np.float32)
    y_std = np.array([desc["train_std"][TARGETS.index(n)] or 1.0 for n in names], np.float32)

    def tensors(split: _Split):
        x = (split.x - x_mean[None, :, None, None]) / x_std[None, :, None, None]
        y = (split.y - y_mean) / y_std
        return (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                torch.from_numpy(y), torch.from_numpy(split.w))

    xv, yv, wv = tensors(valid) if len(valid) else (None, None, None)
    augment, eq_cols, vocal_ch = None, [], None
    if "vocal" in wanted and float(s.eq_augment) > 0:
        eq_cols = [k for k, n in enumerate(names) if n.startswith("eq_")]
    if eq_cols:
        vocal_ch = wanted.index("vocal")
        resp = EQResponses(desc["input"])
        per_version = {key: resp([EQBand.from_dict(b) for b in bands])[0]
                       for key, bands in desc["corruption_eq"].items()}
        recorded = np.stack([per_version[f"{r['track_id']}/{r['version']}"]
                             for r in train.index])
        augment = MelEQAugment(desc["input"], recorded, probability=float(s.eq_augment),
                               seed=seeding.derive_seed(seed, "augment", task) % (2**31))
        log.info("%s: EQ augmentation on %.0f%% of the training windows per batch", task,
                 100 * float(s.eq_augment))
    xm = x_mean[None, :, None, None]
    xs = x_std[None, :, None, None]

    def batch(rows: np.ndarray):
        x, y = train.x[rows], train.y[rows]
        if augment is not None:
            x, y_eq = augment(x, y[:, eq_cols], rows, vocal_ch)
            y = y.copy()
            y[:, eq_cols] = y_eq
        return (torch.from_numpy(np.ascontiguousarray((x - xm) / xs, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray((y - y_mean) / y_std, dtype=np.float32)),
                torch.from_numpy(train.w[rows]))
    arch = {"in_channels": int(train.x.shape[1]), "n_mels": int(train.x.shape[2]),
            "channels": tuple(s.channels), "hidden": int(s.hidden),
            "dropout": float(s.dropout)}
    model = MixNet(len(names), **arch).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=s.learning_rate,
                           weight_decay=s.weight_decay)
    gen = torch.Generator().manual_seed(seeding.derive_seed(seed, "batches", task) % (2**31))
    curve, best, best_state, stale = [], math.inf, None, 0
    t0 = time.perf_counter()
    bar = tqdm(range(int(s.max_epochs)), desc=f"train {task}", unit="epoch", file=sys.stderr,
               mininterval=2.0)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(train), generator=gen).numpy()
        total, count = 0.0, 0
        for i in range(0, len(perm), int(s.batch_size)):
            b = perm[i: i + int(s.batch_size)]
            if len(b) < 2:
                continue
            xb, yb, wb = batch(b)
            opt.zero_grad()
            loss = _loss(model(xb.to(device)), yb.to(device), wb.to(device), torch, groups)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
            count += len(b)
        model.eval()
        with torch.no_grad():
            vloss = (float(_loss(model(xv.to(device)), yv.to(device), wv.to(device), torch,
                                     groups))
                     if xv is not None and len(xv) else total / max(count, 1))
        curve.append({"epoch": epoch + 1, "train_loss": total / max(count, 1),
                      "valid_loss": vloss})
        bar.set_postfix(train=f"{curve[-1]['train_loss']:.3f}", valid=f"{vloss:.3f}")
        if vloss < best - 1e-4:
            best, stale = vloss, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= int(s.patience):
                log.info("%s: early stop after epoch %d (best valid loss %.4f)", task, epoch + 1,
                         best)
                break
    bar.close()
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    meta = {"task": task, "targets": names, "arch": arch, "input_channels": wanted,
            "input_mean": x_mean.tolist(), "input_std": x_std.tolist(),
            "target_mean": y_mean.tolist(), "target_std": y_std.tolist(),
            "input": desc["input"], "eq_bands_hz": desc["eq_bands_hz"], "seed": seed,
            "epochs": len(curve), "best_valid_loss": best}
    save_checkpoint(out / "model.pt", model, meta)
    _write_curve(out, curve, task)

    pred = Predictor(model, meta)
    metrics = {"task": task, "train_windows": len(train), "valid_windows": len(valid),
               "test_windows": len(test), "epochs": len(curve), "seconds": time.perf_counter() - t0,
               "device": str(device)}
    for name, split in (("valid", valid), ("test", test)):
        if len(split):
            metrics[name] = evaluate_windows(task, pred.predict_inputs(split.x), split.y,
                                             split.index, y_mean,
                                             meta["eq_bands_hz"])
    # the training time goes to the log (and the rule's benchmark), not into the file:
    # same config, same bytes
    write_json(out / "metrics.json", {k: v for k, v in metrics.items() if k != "seconds"})
    log.info("%s: %d epochs in %.1f s; held-out %s", task, len(curve), metrics["seconds"],
             metrics.get("test"))
    return metrics


def _write_curve(out: Path, curve: list[dict], task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    write_table(out / "curve.csv", curve, ["epoch", "train_loss", "valid_loss"],
                cell=fixed(6, nonfinite=None), delimiter=",")
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["epoch"] for r in curve], [r["train_loss"] for r in curve], label="train")
    ax.plot([r["epoch"] for r in curve], [r["valid_loss"] for r in curve], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (standardised MSE)")
    ax.set_title(f"{task} model")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, out / "curve.png", dpi=90)


def evaluate_windows(task: str, pred: np.ndarray, y: np.ndarray, index: list[dict],
                     train_mean: np.ndarray, bands_hz: list[float]) -> dict:
    """Held-out errors in target units, per window and per (track, version), with the
    train-mean baseline beside them (a multi-task model: one entry per task)."""
    if task == MULTITASK:
        out, k = {}, 0
        for t in TASKS:
            n = len(task_targets(t))
            out[t] = evaluate_windows(t, pred[:, k: k + n], y[:, k: k + n], index,
                                      np.asarray(train_mean)[k: k + n], bands_hz)
            k += n
        return out
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(index):
        groups.setdefault((r["track_id"], r["version"]), []).append(i)

    def agg(values: np.ndarray) -> np.ndarray:
        return np.stack([np.nanmean(values[idx], axis=0) for idx in groups.values()])

    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            base = np.broadcast_to(train_mean, y.shape)
            if task == "eq":
                sel = (np.asarray(bands_hz) >= 100) & (np.asarray(bands_hz) <= 10000)

                def rms(a, b):
                    return float(np.nanmean(np.sqrt(np.nanmean((a - b)[:, sel] ** 2, axis=1))))

                return {"curve_rms_db": rms(pred, y), "baseline_curve_rms_db": rms(base, y),
                        "track_curve_rms_db": rms(agg(pred), agg(y)),
                        "baseline_track_curve_rms_db": rms(agg(base), agg(y))}
            if task == "reverb":
                def t60_err(a, b):
                    return float(np.nanmedian(np.abs(np.exp(agg(a)[:, 0] - agg(b)[:, 0]) - 1)) * 100)

                return {"t60_median_abs_error_pct": t60_err(pred, y),
                        "baseline_t60_median_abs_error_pct": t60_err(base, y),
                        "wet_db_mae": float(np.nanmean(np.abs(agg(pred)[:, 2] - agg(y)[:, 2])))}
            mae_w = float(np.nanmean(np.abs(pred[:, 0] - y[:, 0])))
            mae_t = float(np.nanmean(np.abs(agg(pred)[:, 0] - agg(y)[:, 0])))
            mae_b = float(np.nanmean(np.abs(agg(base)[:, 0] - agg(y)[:, 0])))
            unit = "lu"
            return {f"window_mae_{unit}": mae_w, f"track_mae_{unit}": mae_t,
                    f"baseline_track_mae_{unit}": mae_b}
