"""Training of one task model (rule ``train_model``, ``results/models/{task}/``).

Seeded and deterministic on the CPU (one thread, deterministic algorithms); CUDA is used when
present and ``device`` allows. Adam on a masked, window-weighted mean squared error of the
standardised targets (NaN targets -- silent windows, bands above Nyquist -- carry no loss);
early stopping on the validation split (a seeded share of the training *tracks* when the
corpus has no validation split), the best epoch's weights kept.

The windows' log-mels are read from the dataset's shards when a batch needs them (the input
statistics, the validation loss and the held-out predictions go through a split in chunks
too); only the targets and weights, a few numbers a window, are held, so the memory of
training does not grow with the dataset. The numbers are those of training with the split
held whole in memory, to the bit on the CPU (the statistics are tested; the validation loss,
made of predictions a chunk at a time, was measured so with torch 2.13).

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
from typing import Collection, Iterator, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

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

#: Windows read and evaluated at once outside the training batches (the input statistics,
#: the validation loss, the held-out predictions): about 2 MB of log-mels per input channel
EVAL_BATCH = 64
#: Windows read at once for the input statistics, and the most elements summed by one numpy
#: call there (16 and 8 MB of float32)
STATS_CHUNK = 4 * EVAL_BATCH
SUM_LEAF = 1 << 21
#: The fewest windows evaluated at once: the network's CPU kernels give a batch of 1-3
#: windows other last bits than a larger one (measured with torch 2.13)
MIN_CHUNK = 8

#: how the loss weighs a track's windows: each window by its track's weight (``window``), or
#: each track by its weight whatever its length (``song``: a window's weight divided by its
#: track's window count, times the mean count, so a 3-minute song counts as much as a
#: 12-second one instead of 15 times as much)
WEIGHTINGS = ("window", "song")


def song_weights(w: NDArray, track_ids: Sequence[str]) -> NDArray[np.float32]:
    """Window weights ``w`` rescaled so every track's windows weigh, in sum, its weight times
    the mean number of windows per track (``train.window_weighting: song``)."""
    tracks, inverse, counts = np.unique(np.asarray(track_ids), return_inverse=True,
                                        return_counts=True)
    scale = counts.mean() / counts[inverse]
    return (np.asarray(w, dtype=np.float64) * scale).astype(np.float32)


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
    window_weighting: str

    def __post_init__(self):
        if self.window_weighting not in WEIGHTINGS:
            raise ValueError(f"train.window_weighting must be one of {', '.join(WEIGHTINGS)}, "
                             f"not {self.window_weighting!r}")


class _Split:
    """A split's windows for the task: targets and weights in memory (a few numbers a window),
    the log-mel inputs read from the shards a batch at a time (:meth:`x`), so the memory of
    training does not grow with the dataset."""

    def __init__(self, ds: ShardedDataset, cols: list[int], rows: NDArray | None = None,
                 channels: list[int] | None = None):
        self.ds = ds
        self.rows = (np.arange(len(ds)) if rows is None else np.asarray(rows)).astype(np.int64)
        self.channels = channels
        self.index = ds.rows_view(self.rows)
        self.y = ds.targets(self.rows)[:, cols].astype(np.float32)
        self.w = ds.weights[self.rows].astype(np.float32)

    def __len__(self) -> int:
        return int(self.rows.size)

    def x(self, positions: NDArray) -> NDArray[np.float32]:
        """Float32 inputs ``(len(positions), channels, n_mels, frames)`` of the split's
        windows at ``positions``."""
        return self.ds.inputs(self.rows[np.asarray(positions, dtype=np.int64)], self.channels)

    def chunks(self, size: int | None = None) -> Iterator[NDArray]:
        """Positions ``0..len`` in order, ``size`` (default :data:`EVAL_BATCH`) at a time; a
        last chunk under :data:`MIN_CHUNK` joins the one before."""
        size = EVAL_BATCH if size is None else size
        n = len(self)
        first = 0
        while first < n:
            stop = first + size if n - (first + size) >= MIN_CHUNK else n
            yield np.arange(first, stop)
            first = stop

    def inputs(self) -> "_Inputs":
        return _Inputs(self)


class _Inputs:
    """A split's inputs as a sequence that reads a slice when asked (what
    :meth:`~vocalmix.models.nets.Predictor.predict_inputs` takes in batches)."""

    def __init__(self, split: _Split):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, s: slice) -> NDArray[np.float32]:
        return self.split.x(np.arange(len(self.split))[s])


def _pairwise_sum(read, lo: int, hi: int) -> np.float32:
    """numpy's pairwise float32 sum of elements ``lo:hi`` of a sequence that ``read(lo, hi)``
    returns a part of: halves split as numpy splits them (at a multiple of 8), each half
    up to :data:`SUM_LEAF` elements summed by numpy itself (the same subtree)."""
    n = hi - lo
    if n <= SUM_LEAF:
        return np.add.reduce(read(lo, hi))
    half = n // 2
    half -= half % 8
    return np.float32(_pairwise_sum(read, lo, lo + half) + _pairwise_sum(read, lo + half, hi))


def _channel_sums(split: _Split, transform=None) -> NDArray[np.float32]:
    """``transform(x).sum(axis=(0, 2, 3))`` of the split's whole float32 input array ``x``
    (windows, channels, mels, frames), to the bit, read a chunk of windows at a time.

    numpy sums such an array over those axes pairwise within each window's channel and adds
    the windows up in order, in float32 -- or, with one channel, where the array is one
    contiguous run, pairwise over the whole run (:func:`_pairwise_sum`). Both orders are
    kept, so training gives the bytes it gave when it held the split (tested)."""
    tf = (lambda x: x) if transform is None else transform
    n = len(split)
    shape = split.x(np.arange(1)).shape
    channels, per = shape[1], shape[2] * shape[3]
    if channels > 1:
        total = np.zeros(channels, np.float32)
        for pos in split.chunks(STATS_CHUNK):
            for row in tf(split.x(pos)).reshape(len(pos), channels, per).sum(axis=2):
                np.add(total, row, out=total)
        return total

    def read(lo: int, hi: int) -> NDArray:
        w0, w1 = lo // per, (hi - 1) // per + 1
        return tf(split.x(np.arange(w0, w1))).reshape(-1)[lo - w0 * per: hi - w0 * per]

    return np.array([_pairwise_sum(read, 0, n * per)], dtype=np.float32)


def _input_stats(split: _Split) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Per-channel mean and standard deviation (+1e-6) of a split's inputs over windows, mel
    bands and frames -- ``x.mean(axis=(0, 2, 3))`` and ``x.std(...)`` of the whole float32
    array, as numpy computes them (sums by :func:`_channel_sums`, divided by the count as an
    ``intp``) -- in passes over the shards that hold a chunk at a time."""
    shape = split.x(np.arange(1)).shape
    count = np.intp(len(split) * shape[2] * shape[3])
    total = _channel_sums(split)
    mean = np.true_divide(total, count, out=total, casting="unsafe")
    m = mean[None, :, None, None]
    squares = _channel_sums(split, lambda x: np.square(np.subtract(x, m)))
    var = np.true_divide(squares, count, out=squares, casting="unsafe")
    return mean, np.sqrt(var, out=var) + 1e-6


def _rows(ds: ShardedDataset, versions: set[int] | None) -> NDArray:
    if versions is None:
        return np.arange(len(ds))
    return np.flatnonzero(np.isin(ds.index.version, sorted(versions)))


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


def _split_loss(model, split: _Split, norm_x, norm_y, device, torch, groups=None) -> float:
    """:func:`_loss` of ``model`` over a whole split: the predictions are made a chunk of
    windows at a time (a window's prediction does not depend on the chunk it is in; chunks
    are never under :data:`MIN_CHUNK` windows, where the kernels differ), the loss once over
    them all."""
    with torch.no_grad():
        pred = torch.cat([model(norm_x(split.x(pos)).to(device)) for pos in split.chunks()])
        return float(_loss(pred, norm_y(split.y).to(device),
                           torch.from_numpy(split.w).to(device), torch, groups))


def train_task(dataset_dir: str | Path, out_dir: str | Path, task: str, *, seed: int,
               settings: TrainSettings | None = None,
               holdout_tracks: Collection[str] = ()) -> dict:
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
    holdout_tracks
        Training-split tracks left out of training and scored apart (``metrics['holdout']``):
        cross-validation over real songs (``benchmarks/level_model_real.py``).

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
    valid_ds = ShardedDataset(dataset_dir, "valid")
    test_ds = ShardedDataset(dataset_dir, "test")
    if len(train_ds) == 0:
        raise ValueError(f"{dataset_dir}: no training windows")
    # Without the vocal as input, the corrupted versions of a track are the same window
    # (same backing, same targets) repeated: keep one of each.
    versions = None if "vocal" in wanted else {0}
    train_rows = _rows(train_ds, versions)
    if len(valid_ds) == 0:  # carve validation tracks from the training tracks
        tracks = train_ds.tracks()
        order = sorted(tracks, key=lambda t: seeding.derive_seed(seed, "valid", t))
        n_valid = max(1, int(round(s.valid_fraction * len(tracks)))) if len(tracks) > 1 else 0
        held = set(order[:n_valid])
        is_held = np.array([t in held for t in train_ds.index.track_ids(train_rows)], bool)
        valid = _Split(train_ds, cols, train_rows[is_held], chans)
        train_rows = train_rows[~is_held]
        log.info("no validation split: %d training track(s) held out for early stopping",
                 len(held))
    else:
        valid = _Split(valid_ds, cols, _rows(valid_ds, versions), chans)
    holdout = None
    if holdout_tracks:
        out_of = np.isin(np.asarray(train_ds.index.track_ids(train_rows)), list(holdout_tracks))
        holdout = _Split(train_ds, cols, train_rows[out_of], chans)
        train_rows = train_rows[~out_of]
    train = _Split(train_ds, cols, train_rows, chans)
    if s.window_weighting == "song":
        train.w = song_weights(train.w, train_ds.index.track_ids(train.rows))
        valid.w = song_weights(valid.w, valid.ds.index.track_ids(valid.rows))
    test = _Split(test_ds, cols, _rows(test_ds, versions), chans)
    if len(train) == 0:
        raise ValueError(f"{dataset_dir}: no training windows left for {task} once the "
                         "validation tracks are held out")

    x_mean, x_std = _input_stats(train)
    y_mean = np.array([desc["train_mean"][TARGETS.index(n)] or 0.0 for n in names], np.float32)
    y_std = np.array([desc["train_std"][TARGETS.index(n)] or 1.0 for n in names], np.float32)
    xm = x_mean[None, :, None, None]
    xs = x_std[None, :, None, None]

    def norm_x(x):
        return torch.from_numpy(np.ascontiguousarray((x - xm) / xs, dtype=np.float32))

    def norm_y(y):
        return torch.from_numpy(np.ascontiguousarray((y - y_mean) / y_std, dtype=np.float32))

    augment, eq_cols, vocal_ch = None, [], None
    if "vocal" in wanted and float(s.eq_augment) > 0:
        eq_cols = [k for k, n in enumerate(names) if n.startswith("eq_")]
    if eq_cols:
        vocal_ch = wanted.index("vocal")
        resp = EQResponses(desc["input"])
        keys = sorted(desc["corruption_eq"])
        per_version = np.stack([resp([EQBand.from_dict(b) for b in desc["corruption_eq"][k]])[0]
                                for k in keys]).astype(np.float32)
        key_of = {k: i for i, k in enumerate(keys)}
        versions_of = train_ds.index.version[train.rows]
        recorded = per_version[[key_of[f"{t}/{v}"] for t, v in
                                zip(train_ds.index.track_ids(train.rows), versions_of)]]
        augment = MelEQAugment(desc["input"], recorded, probability=float(s.eq_augment),
                               seed=seeding.derive_seed(seed, "augment", task) % (2**31))
        log.info("%s: EQ augmentation on %.0f%% of the training windows per batch", task,
                 100 * float(s.eq_augment))

    def batch(rows: np.ndarray):
        x, y = train.x(rows), train.y[rows]
        if augment is not None:
            x, y_eq = augment(x, y[:, eq_cols], rows, vocal_ch)
            y = y.copy()
            y[:, eq_cols] = y_eq
        return norm_x(x), norm_y(y), torch.from_numpy(train.w[rows])
    arch = {"in_channels": len(chans), "n_mels": int(desc["input"]["n_mels"]),
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
        vloss = (_split_loss(model, valid, norm_x, norm_y, device, torch, groups) if len(valid)
                 else total / max(count, 1))
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
    _write_curve(out, curve, task)

    pred = Predictor(model, meta)
    metrics = {"task": task, "train_windows": len(train), "valid_windows": len(valid),
               "test_windows": len(test), "epochs": len(curve), "seconds": time.perf_counter() - t0,
               "device": str(device)}
    for name, split in (("valid", valid), ("test", test), ("holdout", holdout)):
        if split is not None and len(split):
            metrics[name] = evaluate_windows(task, pred.predict_inputs(split.inputs(),
                                                                       EVAL_BATCH),
                                             split.y, split.index, y_mean,
                                             meta["eq_bands_hz"])
    # the tonal balance's error on the validation split, per band: how far from the
    # predicted balance a take may lie before the data-driven mixer corrects it
    tone_rmse = (metrics.get("valid") or {}).get("tone_band_rmse_db")
    if task == "eq" and tone_rmse:
        meta["tone_rmse_db"] = tone_rmse
    save_checkpoint(out / "model.pt", model, meta)
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
                n_eq = len(bands_hz)  # the correction curve, then the tonal balance
                sel = (np.asarray(bands_hz) >= 100) & (np.asarray(bands_hz) <= 10000)

                def rms(a, b, cols=slice(0, n_eq), mask=sel):
                    d = (a[:, cols] - b[:, cols])[:, mask]
                    return float(np.nanmean(np.sqrt(np.nanmean(d ** 2, axis=1))))

                out = {"curve_rms_db": rms(pred, y), "baseline_curve_rms_db": rms(base, y),
                       "track_curve_rms_db": rms(agg(pred), agg(y)),
                       "baseline_track_curve_rms_db": rms(agg(base), agg(y))}
                if pred.shape[1] > n_eq:
                    tone = dict(cols=slice(n_eq, None), mask=slice(None))
                    out.update(tone_rms_db=rms(agg(pred), agg(y), **tone),
                               baseline_tone_rms_db=rms(agg(base), agg(y), **tone),
                               tone_band_rmse_db=[
                                   float(np.sqrt(np.nanmean((agg(pred)[:, k] - agg(y)[:, k])
                                                            ** 2)))
                                   for k in range(n_eq, pred.shape[1])])
                return out
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
