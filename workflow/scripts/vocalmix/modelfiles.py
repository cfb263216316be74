"""Checkpoint files that cannot run code: plain torch saves loaded with ``weights_only=True``.

Model files are shared between people, so the package treats every one as untrusted
(DESIGN.md, conventions). A checkpoint is a ``torch.save`` archive holding only tensors and
plain containers (dict, list, tuple, str, int, float, bool, None); :func:`save_plain`
converts anything else (numpy arrays and scalars, paths) to those before writing, and checks
that the result loads the safe way, so every checkpoint the project writes can be read back
by :func:`load_plain`. :func:`load_plain` reads with ``torch.load(weights_only=True)``, which
refuses pickled globals (an ``os.system`` call in a crafted file is never made), and turns
every failure (random bytes, a zip that is no checkpoint, a pickle that names a global, a
truncated file) into one :class:`ModelFileError` line naming the file.

Writes go through a buffer and :func:`vocalmix.files.atomic_path`: ``torch.save`` names the
archive's root folder after the file it writes, so writing to the temporary name directly
would make the same weights differ in bytes between runs.
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from pathlib import Path, PurePath
from typing import Any

import numpy as np

__all__ = ["ModelFileError", "MAX_CHECKPOINT_BYTES", "plain", "save_plain", "load_plain"]

#: Checkpoints larger than this are refused before reading (the project's are < 10 MB).
MAX_CHECKPOINT_BYTES = 2 * 1024 ** 3


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, foreign, or not loadable without running code."""


def plain(obj: Any) -> Any:
    """``obj`` with numpy values and paths turned into what ``weights_only`` loading accepts.

    Tensors, dicts, lists, tuples, str, int, float, bool and None pass through (dict keys
    are converted too); numpy arrays become tensors, numpy scalars Python numbers, paths
    strings. Anything else raises :class:`TypeError` (it could only be stored by pickling).
    """
    import torch

    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, OrderedDict):  # a state_dict: keep its class and version metadata
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


def save_plain(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` (converted by :func:`plain`) as a torch checkpoint at ``path``, atomically.

    The same object gives the same bytes (written through a buffer). Raises
    :class:`TypeError` when ``obj`` holds something that only pickling could store.
    """
    import torch

    from vocalmix.files import atomic_path

    obj = plain(obj)
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    # the file must read back the safe way; if not, fail now rather than at its first use
    torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def load_plain(path: str | os.PathLike, *, what: str = "model checkpoint") -> Any:
    """Read a checkpoint written by :func:`save_plain`, never running code from it.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file (untrusted).
    what : str
        What the file should be, for the error message ("separator model", ...).

    Returns
    -------
    Any
        The stored tensors and plain containers.

    Raises
    ------
    ModelFileError
        ``path`` is not a file, is larger than :data:`MAX_CHECKPOINT_BYTES`, or is not a
        torch checkpoint loadable with ``weights_only=True`` (corrupt, foreign, or asking to
        import or call anything); one line naming the file.
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no {what} there")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise ModelFileError(f"{path}: {size} bytes, larger than any {what} "
                             f"({MAX_CHECKPOINT_BYTES} bytes at most); refused")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
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
