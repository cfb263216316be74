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
:func:`read_checkpoint_arrays` reads the same files with no torch at all, tensors as numpy
arrays, for inference (:mod:`vocalmix.models.inference`): its unpickler knows only the
handful of globals ``torch.save`` writes for such checkpoints, each mapped to a function of
this module, and refuses any other, with the same one-line errors.

Writes go through a buffer and :func:`vocalmix.files.atomic_path`: ``torch.save`` names the
archive's root folder after the file it writes, so writing to the temporary name directly
would make the same weights differ in bytes between runs.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path, PurePath
from typing import Any, Callable

import numpy as np

__all__ = ["ModelFileError", "MAX_CHECKPOINT_BYTES", "plain", "write_checkpoint",
           "read_checkpoint", "read_checkpoint_arrays", "load_task_model"]

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


def _small_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path, once it is known to be a file of at most
    :data:`MAX_CHECKPOINT_BYTES` (else one :class:`ModelFileError` line naming it)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no {what} there")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise ModelFileError(f"{path}: {size} bytes, larger than any {what} "
                             f"({MAX_CHECKPOINT_BYTES} bytes at most); refused")
    return path


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
    path = _small_file(path, what)
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


# --------------------------------------------------------------- reading without torch
#: Element types of the storage classes ``torch.save`` names (always little-endian here:
#: :func:`read_checkpoint_arrays` refuses an archive written in another byte order).
#: ``BFloat16Storage`` and the complex and quantised types have no numpy equivalent and are
#: refused like any other name.
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
    "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}
#: Most dimensions a tensor may declare (numpy's own limit is 64).
_MAX_DIMS = 32
#: Deepest nesting of containers accepted (a plain checkpoint nests a few levels).
_MAX_DEPTH = 64


class _Refused(Exception):
    """The checkpoint is not a plain one; ``calls_code``: it asked for a global or a call."""

    def __init__(self, reason: str, *, calls_code: bool = False):
        super().__init__(reason)
        self.calls_code = calls_code


class _Sealed:
    """Base of the stand-ins the reader hands to the unpickler: instances of a class with no
    ``__dict__`` whose ``__setstate__`` refuses, so a pickle's ``BUILD`` opcode can set
    nothing on them (and nothing on this module's functions, which it never sees)."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise _Refused("the pickle sets the state of an object", calls_code=True)


class _Global(_Sealed):
    """A whitelisted global: what the pickle gets for ``module.name``; calling it (``REDUCE``)
    runs this module's own ``build``, never anything the file names."""

    __slots__ = ("qualname", "build", "dtype")

    def __init__(self, qualname: str, build: Callable[..., Any] | None, dtype: str = ""):
        self.qualname, self.build, self.dtype = qualname, build, dtype

    def __call__(self, *args: Any) -> Any:
        if self.build is None:
            raise _Refused(f"the pickle calls {self.qualname}", calls_code=True)
        return self.build(*args)


class _Storage(_Sealed):
    """One storage of the archive (``<root>/data/<key>``) as a read-only 1-D array."""

    __slots__ = ("key", "array")

    def __init__(self, key: str, array: np.ndarray):
        self.key, self.array = key, array


class _Tensor(_Sealed):
    """A tensor of the pickle, checked to lie inside its storage; made an array at the end."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    @property
    def nbytes(self) -> int:
        return math.prod(self.size) * self.storage.array.itemsize

    def array(self) -> np.ndarray:
        """An independent, writable, C-contiguous copy of the tensor's elements."""
        store = self.storage.array
        if 0 in self.size:
            return np.zeros(self.size, dtype=store.dtype)
        view = np.lib.stride_tricks.as_strided(
            store[self.offset:], shape=self.size,
            strides=tuple(s * store.itemsize for s in self.stride), writeable=False)
        return np.array(view, order="C", copy=True)


def _index(value: Any, what: str) -> int:
    """``value`` as a non-negative int (a bool or anything else is refused)."""
    if type(value) is not int or value < 0:
        raise _Refused(f"{what} {value!r} is not a non-negative integer")
    return value


def _ordered_dict(*args: Any) -> OrderedDict:
    """``collections.OrderedDict()``, as ``torch.save`` writes it (items follow as
    ``SETITEMS``, the state dict's ``_metadata`` as a ``BUILD`` on it)."""
    if args:
        raise _Refused("the pickle builds an OrderedDict from arguments")
    return OrderedDict()


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any,
                    hooks: Any, metadata: Any = None) -> _Tensor:
    """``torch._utils._rebuild_tensor_v2``: a strided view of a storage, checked to fit."""
    if not isinstance(storage, _Storage):
        raise _Refused("a tensor without a storage")
    if not isinstance(size, tuple) or not isinstance(stride, tuple) or len(size) != len(stride):
        raise _Refused(f"a tensor's size {size!r} and stride {stride!r} do not match")
    if len(size) > _MAX_DIMS:
        raise _Refused(f"a tensor of {len(size)} dimensions")
    offset = _index(offset, "a tensor's storage offset")
    size = tuple(_index(n, "a tensor size") for n in size)
    stride = tuple(_index(s, "a tensor stride") for s in stride)
    if type(requires_grad) is not bool or not isinstance(hooks, dict) or hooks:
        raise _Refused("a tensor with gradient hooks")
    if metadata not in (None, {}):
        raise _Refused("a tensor with metadata")
    if 0 not in size:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.array.size:
            raise _Refused(f"a tensor of size {size} (offset {offset}, stride {stride}) "
                           f"reaches past its storage of {storage.array.size} elements")
    return _Tensor(storage, offset, size, stride)


#: Every global a plain checkpoint's pickle may name, and what stands for it.
_WHITELIST: dict[tuple[str, str], _Global] = {
    ("collections", "OrderedDict"): _Global("collections.OrderedDict", _ordered_dict),
    ("torch._utils", "_rebuild_tensor_v2"): _Global("torch._utils._rebuild_tensor_v2",
                                                    _rebuild_tensor),
    **{("torch", name): _Global(f"torch.{name}", None, dtype)
       for name, dtype in _STORAGE_DTYPES.items()},
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles a checkpoint's ``data.pkl`` with only :data:`_WHITELIST`'s globals; the
    storages it names are read from ``archive`` as numpy buffers."""

    def __init__(self, file: Any, archive: zipfile.ZipFile, root: str, limit: int):
        super().__init__(file)
        self.archive, self.root, self.limit = archive, root, limit
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _WHITELIST[(module, name)]
        except (KeyError, TypeError):
            raise _Refused(f"the pickle names {module}.{name}", calls_code=True) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise _Refused(f"an unknown persistent id {str(pid)[:60]}")
        _, kind, key, location, numel = pid
        if not (isinstance(kind, _Global) and kind.dtype):
            raise _Refused("a storage of no known type")
        if not (isinstance(key, str) and key.isascii() and key.isdigit()
                and isinstance(location, str)):
            raise _Refused(f"a storage named {str(key)[:40]!r}")
        numel = _index(numel, "a storage's length")
        dtype = np.dtype(kind.dtype)
        if key in self.storages:
            known = self.storages[key].array
            if known.dtype != dtype or known.size != numel:
                raise _Refused(f"storage {key} is named with two types or lengths")
            return self.storages[key]
        data = _member(self.archive, f"{self.root}/data/{key}", numel * dtype.itemsize,
                       self.limit)
        self.storages[key] = _Storage(key, np.frombuffer(data, dtype=dtype))
        return self.storages[key]


def _member(archive: zipfile.ZipFile, name: str, expected: int | None, limit: int) -> bytes:
    """The bytes of member ``name``: its declared size checked (``expected`` where it is
    known, otherwise at most ``limit``) before anything is read, stored uncompressed as
    ``torch.save`` writes every member, and the bytes read back checked against it."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _Refused(f"no {name} in the archive") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise _Refused(f"{name} is compressed (torch.save stores its members as they are)")
    if expected is not None and info.file_size != expected:
        raise _Refused(f"{name} holds {info.file_size} bytes where its tensor needs "
                       f"{expected}")
    if info.file_size > limit:
        raise _Refused(f"{name} declares {info.file_size} bytes, more than the file holds")
    with archive.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise _Refused(f"{name} holds {len(data)} bytes where it declares {info.file_size}")
    return data


class _Arrays:
    """Turns the unpickled structure into the checkpoint's: every :class:`_Tensor` an array
    (its copy counted against ``budget`` bytes), plain values as they are, and anything
    else the pickle left (a whitelisted global outside a tensor, a storage) refused. Each
    object is converted once (an object the pickle names twice is one object here too, so a
    small pickle of shared references cannot make exponential work); a cycle, which no
    checkpoint has, is refused as nesting too deep."""

    def __init__(self, budget: int):
        self.budget = budget
        self.done: dict[int, Any] = {}
        self.keep: list[Any] = []  # the converted objects stay alive while ids are reused

    def __call__(self, obj: Any, depth: int = 0) -> Any:
        if obj is None or type(obj) in (bool, int, float, str, bytes):
            return obj
        if id(obj) in self.done:
            return self.done[id(obj)]
        if depth > _MAX_DEPTH:
            raise _Refused("containers nested too deeply (or in a cycle)")
        out = self._convert(obj, depth + 1)
        self.done[id(obj)] = out
        self.keep.append(obj)
        return out

    def _convert(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, _Tensor):
            self.budget -= obj.nbytes
            if self.budget < 0:
                raise _Refused("the tensors take more memory than any checkpoint may")
            return obj.array()
        if type(obj) in (dict, OrderedDict):
            out = type(obj)((self(k, depth), self(v, depth)) for k, v in obj.items())
            extra = getattr(obj, "__dict__", {})
            if set(extra) - {"_metadata"}:
                raise _Refused("a dict with attributes other than a state dict's _metadata")
            if "_metadata" in extra:
                out._metadata = self(extra["_metadata"], depth)  # type: ignore[attr-defined]
            return out
        if type(obj) in (list, tuple):
            return type(obj)(self(v, depth) for v in obj)
        raise _Refused(f"a {type(obj).__name__} outside any tensor")


def read_checkpoint_arrays(path: str | os.PathLike, *,
                           what: str = "model checkpoint") -> Any:
    """Read an untrusted checkpoint without torch, with numpy arrays in place of tensors.

    The same nested structure :func:`read_checkpoint` gives (dicts, an ``OrderedDict``
    state dict with its ``_metadata``, lists, tuples, numbers, strings), read from the zip
    archive ``torch.save`` writes: ``<root>/data.pkl``, the pickled structure, and
    ``<root>/data/<key>``, the raw bytes of each storage. It is inference's reader (no
    second of importing torch to read a few hundred kilobytes) and as safe as
    ``weights_only=True``, by a whitelist rather than by torch's own checks: the unpickler
    resolves only the globals ``torch.save`` writes for such checkpoints --
    ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the storage types
    (``torch.FloatStorage``, ``torch.LongStorage``, ...) -- each to a function or marker of
    this module, so no code named by the file is imported or run, and any other name (an
    ``os.system``, a ``builtins.eval``) is refused.

    Memory is bounded by the file: one over :data:`MAX_CHECKPOINT_BYTES` is refused before
    reading, every member's declared size is checked before it is read (no member may claim
    more than the file holds, a storage exactly ``numel * itemsize`` bytes), every tensor's
    size, stride and offset must lie inside its storage, and the copies made all together
    stay under :data:`MAX_CHECKPOINT_BYTES`.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    what : str
        What the file should be, for the message ("vocalmix task model", ...).

    Returns
    -------
    Any
        The checkpoint's structure; each tensor an independent, writable, C-contiguous
        array of the tensor's dtype (``float32`` for ``FloatStorage``, ``int64`` for
        ``LongStorage``, ...) and shape, bit for bit its elements.

    Raises
    ------
    ModelFileError
        ``path`` is not a file, is too large, is not a zip checkpoint in little-endian byte
        order, names a global outside the whitelist, or is truncated or inconsistent; one
        line naming the file.
    """
    path = _small_file(path, what)
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            roots = [n[: -len("/data.pkl")] for n in archive.namelist()
                     if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(roots) != 1:
                raise _Refused("no data.pkl in the archive" if not roots
                               else "more than one data.pkl in the archive")
            root = roots[0]
            if f"{root}/byteorder" in archive.namelist():
                order = _member(archive, f"{root}/byteorder", None, 16)
                if order != b"little":
                    raise _Refused(f"byte order {order[:16]!r}; only little-endian is read")
            # (an archive without the entry predates it and was written little-endian, as
            # torch itself then assumes on every machine this package runs on)
            pkl = _member(archive, f"{root}/data.pkl", None, size)
            unpickler = _ArrayUnpickler(io.BytesIO(pkl), archive, root, size)
            obj = unpickler.load()
            return _Arrays(MAX_CHECKPOINT_BYTES)(obj)
    except _Refused as exc:
        if exc.calls_code:
            raise ModelFileError(
                f"{path}: not a plain {what}: it asks to import or call code when loaded "
                f"(refused, nothing was run: {str(exc)[:200]})") from None
        raise ModelFileError(f"{path}: not a readable {what} (corrupt or foreign file: "
                             f"{str(exc)[:200]})") from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError, ValueError,
            TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError,
            MemoryError, UnicodeDecodeError, NotImplementedError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a readable {what} (corrupt or foreign file: "
                             f"{first[:200]})") from None


def load_task_model(path: str | os.PathLike, read: Callable[[Path], Any],
                    build: Callable[[Any], Any]) -> Any:
    """A vocalmix task model from the checkpoint at ``path``: ``read(path)`` gives the
    checkpoint (:func:`read_checkpoint` with torch, :func:`read_checkpoint_arrays`
    without), ``build(checkpoint)`` the model from its ``meta`` and ``state_dict``; what
    ``build`` returns is returned. The one place the two loaders (torch's
    :func:`vocalmix.models.nets.load_checkpoint`, numpy's
    :func:`vocalmix.models.inference.load_numpy_checkpoint`) say what a missing or foreign
    file is.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        The file is corrupt or foreign (from ``read``), or ``build`` fails on it: not a
        vocalmix task model (one line naming it).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no model checkpoint (train the models first: "
                                "snakemake results/models/summary.tsv)")
    ckpt = read(path)
    try:
        return build(ckpt)
    except (TypeError, KeyError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelFileError(f"{path}: not a vocalmix task model ({first[:200]})") from None
