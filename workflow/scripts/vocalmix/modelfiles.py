"""Model files that cannot run code: plain torch checkpoints, read with ``weights_only=True``.

Model files are shared between people, so the package treats every one as untrusted
(DESIGN.md, conventions). A checkpoint holds only tensors and plain containers (dict, list,
tuple, str, int, float, bool, None); :func:`plain` converts anything else (numpy arrays and
scalars, paths) before writing, and :func:`write_checkpoint` checks that the bytes load the
safe way, so every checkpoint the project writes reads back through :func:`read_checkpoint`.
That reads with ``torch.load(weights_only=True)``, which refuses pickled globals (an
``os.system`` call in a crafted file is never made), and turns every failure (random bytes,
a zip that is no checkpoint, a pickle that names a global, a truncated file) into one
:class:`ModelFileError` line naming the file.

This base module does not import torch (torch lives in ``models/`` and ``separation/``
only): those floors pass ``torch.save`` / ``torch.load`` in, as :func:`vocalmix.models.nets.
save_checkpoint` and :func:`vocalmix.separation.builtin.save_model` do.

Writes go through a buffer and :func:`vocalmix.files.atomic_path`: ``torch.save`` names the
archive's root folder after the file it writes, so writing to the temporary name directly
would make the same weights differ in bytes between runs.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path, PurePath
from typing import Any, Callable

import numpy as np

__all__ = ["ModelFileError", "MAX_CHECKPOINT_BYTES", "plain", "write_checkpoint",
           "read_checkpoint"]

#: Checkpoints larger than this are refused before reading (the project's are < 10 MB).
MAX_CHECKPOINT_BYTES = 2 * 1024 ** 3

#: ``torch.save(obj, file)``
SaveFn = Callable[[Any, Any], None]
#: ``lambda file: torch.load(file, map_location="cpu", weights_only=True)``
LoadFn = Callable[[Any], Any]


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, foreign, or not loadable without running code."""


def _is_tensor(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "torch"


def plain(obj: Any) -> Any:
    """``obj`` with numpy values and paths turned into what ``weights_only`` loading accepts.

    Tensors, dicts (state dicts keep their class and version metadata), lists, tuples, str,
    int, float, bool and None pass through; numpy arrays become lists, numpy scalars Python
    numbers, paths strings. Anything else raises :class:`TypeError` (only pickling could
    store it).
    """
    if obj is None or isinstance(obj, (bool, int, float, str)) or _is_tensor(obj):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, OrderedDict):
        out = OrderedDict((plain(k), plain(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):
            out._metadata = plain(dict(obj._metadata))  # type: ignore[attr-defined]
        return out
    if isinstance(obj, dict):
        return {plain(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(plain(v) for v in obj)
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint without pickling it; "
                    "convert it to tensors, numbers, strings, lists or dicts")


def write_checkpoint(path: str | os.PathLike, obj: Any, *, save: SaveFn, load: LoadFn) -> None:
    """Write ``obj`` (converted by :func:`plain`) as a checkpoint at ``path``, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination.
    obj : Any
        Tensors and plain containers (numpy values and paths are converted).
    save, load : callable
        ``torch.save`` and the safe ``torch.load`` (``weights_only=True``).

    Raises
    ------
    TypeError
        ``obj`` holds something only pickling could store; nothing is written.
    """
    from vocalmix.files import atomic_path

    buf = io.BytesIO()
    save(plain(obj), buf)
    data = buf.getvalue()
    load(io.BytesIO(data))  # must read back the safe way: fail now, not at first use
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def read_checkpoint(path: str | os.PathLike, *, load: LoadFn,
                    what: str = "model checkpoint") -> Any:
    """Read an untrusted checkpoint, never running code from it.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    load : callable
        The safe ``torch.load`` (``weights_only=True``), called with ``path``.
    what : str
        What the file should be, for the message ("separator model", ...).

    Raises
    ------
    ModelFileError
        ``path`` is not a file, is larger than :data:`MAX_CHECKPOINT_BYTES`, or does not
        load with ``weights_only=True`` (corrupt, foreign, or asking to import or call
        code); one line naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no {what} there")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise ModelFileError(f"{path}: {size} bytes, larger than any {what} "
                             f"({MAX_CHECKPOINT_BYTES} bytes at most); refused")
    try:
        return load(path)
    except pickle.UnpicklingError as exc:
        # weights_only refusals (a global, a reduce) and broken pickles both land here
        reason = _unpickler_reason(str(exc))
        if any(w in reason.lower() for w in ("global", "class", "reduce", "build", "import")):
            raise ModelFileError(
                f"{path}: not a plain {what}: it asks to import or call code when loaded "
                f"(refused, nothing was run: {reason[:200]})") from None
        raise ModelFileError(f"{path}: not a readable {what} (corrupt or foreign file: "
                             f"{reason[:200]})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError,
            AttributeError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a readable {what} (corrupt or foreign file: "
                             f"{first[:200]})") from None


def _unpickler_reason(message: str) -> str:
    """The one informative line of torch's long ``weights_only`` failure message."""
    boiler = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [ln.replace("WeightsUnpickler error:", "").strip() for ln in message.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(boiler)]
    return lines[0] if lines else "unreadable pickle"
