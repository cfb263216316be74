"""The task models' inference without torch (:mod:`vocalmix.models.inference`) against torch's.

The checkpoint reader (:func:`vocalmix.modelfiles.read_checkpoint_arrays`) gives torch's
tensors bit for bit and refuses every hostile or broken file with one line naming it,
running nothing; the numpy network gives the torch network's predictions within float32
rounding; and the data-driven system's model loading never imports torch.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vocalmix.modelfiles import (ModelFileError, plain, read_checkpoint_arrays,  # noqa: E402
                                 write_checkpoint)
from vocalmix.models.inference import (ARCH_DEFAULTS, BN_EPS, NumpyMixNet,  # noqa: E402
                                       NumpyPredictor, load_numpy_checkpoint)
from vocalmix.models.nets import (TASKS, MixNet, Predictor, safe_load, save_checkpoint,  # noqa: E402
                                  task_targets)

#: Largest difference allowed between the numpy and the torch predictions, in target units
#: (LU, dB, ...) after de-standardisation: float32 sums in another order, a folded batch
#: norm; the differences seen are a few 1e-6.
TOLERANCE = 1e-4


def _net(n_outputs: int, *, seed: int, in_channels: int = 2, n_mels: int = 16,
         channels: tuple[int, ...] = (4, 8, 8), hidden: int = 16) -> MixNet:
    """A randomly initialised MixNet in eval mode whose batch norms have non-trivial
    running statistics and affine parameters (as a trained one has)."""
    torch.manual_seed(seed)
    net = MixNet(n_outputs, in_channels=in_channels, n_mels=n_mels, channels=channels,
                 hidden=hidden)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.running_mean.copy_(torch.randn(c, generator=g))
                module.running_var.copy_(torch.rand(c, generator=g) * 2.0 + 0.05)
                module.weight.copy_(torch.randn(c, generator=g))
                module.bias.copy_(torch.randn(c, generator=g) * 0.5)
                module.num_batches_tracked.fill_(37)
    return net.eval()


def _meta(n_outputs: int, *, n_mels: int = 16, channels: tuple[int, ...] = (4, 8, 8),
          hidden: int = 16, inputs: tuple[str, ...] = ("vocal", "backing"),
          targets: list[str] | None = None) -> dict:
    rng = np.random.default_rng(n_outputs)
    return {"task": "test", "targets": targets or [f"t{k}" for k in range(n_outputs)],
            "arch": {"in_channels": len(inputs), "n_mels": n_mels, "channels": channels,
                     "hidden": hidden, "dropout": 0.2},
            "input_channels": list(inputs), "input": {"channels": ["vocal", "backing"]},
            "input_mean": (-80.0 + rng.standard_normal(len(inputs))).astype(np.float32),
            "input_std": 12.0 + rng.random(len(inputs)),
            "target_mean": rng.standard_normal(n_outputs).tolist(),
            "target_std": (0.5 + 3.0 * rng.random(n_outputs)).tolist()}


def _windows(rng: np.random.Generator, n: int, n_mels: int, frames: int) -> np.ndarray:
    return (-80.0 + 12.0 * rng.standard_normal((n, 2, n_mels, frames))).astype(np.float32)


# --------------------------------------------------------------------------- reader
def test_the_reader_gives_torchs_tensors_bit_for_bit(tmp_path):
    net = _net(3, seed=1)
    meta = _meta(3)
    path = tmp_path / "model.pt"
    save_checkpoint(path, net, meta)
    expected = torch.load(path, map_location="cpu", weights_only=True)
    got = read_checkpoint_arrays(path, what="vocalmix task model")
    assert set(got) == set(expected) == {"state_dict", "meta"}
    assert got["meta"] == expected["meta"]  # lists, tuples, dicts, numbers as torch gives
    sd, ref = got["state_dict"], expected["state_dict"]
    assert type(sd) is OrderedDict and list(sd) == list(ref)
    assert sd._metadata == ref._metadata
    for key, tensor in ref.items():
        a = sd[key]
        assert a.dtype == tensor.numpy().dtype and a.shape == tuple(tensor.shape), key
        assert a.tobytes() == tensor.numpy().tobytes(), key
        assert a.flags.writeable and a.flags.c_contiguous and a.flags.owndata, key
    # non-trivial batch norm statistics came through (not the defaults 0 and 1)
    assert np.abs(sd["features.1.running_mean"]).max() > 0.1
    assert sd["features.1.num_batches_tracked"].dtype == np.int64
    assert int(sd["features.1.num_batches_tracked"]) == 37


def test_the_reader_follows_views_offsets_and_dtypes(tmp_path):
    """Tensors sharing one storage at offsets and strides, every storage type the reader
    knows, empty and 0-d tensors: the same values and dtypes as ``torch.load``; the copies are
    independent of each other."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj = {"base": base, "t": base.t(), "slice": base[1:, 2:5], "step": base[:, ::2],
           "scalar": torch.tensor(2.5, dtype=torch.float64), "empty": torch.zeros(0, 3),
           "i64": torch.arange(-3, 3), "i32": torch.arange(5, dtype=torch.int32),
           "i16": torch.arange(5, dtype=torch.int16), "i8": torch.arange(-2, 2, dtype=torch.int8),
           "u8": torch.arange(4, dtype=torch.uint8), "f16": torch.linspace(0, 1, 5).half(),
           "bool": torch.tensor([True, False, True]), "nested": [{"x": base[2]}, (base[3, 1],)]}
    path = tmp_path / "views.pt"
    write_checkpoint(path, obj, save=torch.save, load=safe_load)
    expected = torch.load(path, weights_only=True)
    got = read_checkpoint_arrays(path)

    def same(a, t):
        assert isinstance(a, np.ndarray) and a.dtype == t.numpy().dtype
        assert a.shape == tuple(t.shape) and a.tobytes() == t.contiguous().numpy().tobytes()

    for key in obj:
        if key != "nested":
            same(got[key], expected[key])
    same(got["nested"][0]["x"], expected["nested"][0]["x"])
    same(got["nested"][1][0], expected["nested"][1][0])
    assert isinstance(got["nested"][1], tuple)
    got["base"][0, 0] = 99.0
    assert got["t"][0, 0] == 0.0 and got["slice"][0, 0] == 8.0  # independent copies


def test_the_numpy_constants_are_mixnets():
    defaults = {k: p.default for k, p in inspect.signature(MixNet.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert defaults == ARCH_DEFAULTS
    eps = {m.eps for m in MixNet(2).modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert eps == {BN_EPS}


# --------------------------------------------------------------------------- forward
@pytest.mark.parametrize("arch", [
    dict(n_mels=16, channels=(4, 8, 8), hidden=16),
    dict(n_mels=24, channels=(6, 5), hidden=7),
    dict(n_mels=64, channels=(16, 32, 64), hidden=128),  # the trained models' shape
], ids=["small", "two-blocks-odd-mels", "trained-shape"])
def test_the_numpy_network_predicts_what_torchs_does(tmp_path, arch):
    n_out = 5
    net, meta = _net(n_out, seed=7, **arch), _meta(n_out, **arch)
    path = tmp_path / "model.pt"
    save_checkpoint(path, net, meta)
    theirs = Predictor.load(path)
    ours = NumpyPredictor.load(path)
    assert ours.targets == theirs.targets and ours.meta == theirs.meta
    rng = np.random.default_rng(11)
    least = 2 ** len(arch["channels"])
    for n, frames, batch in ((1, 129, 8), (19, 129, 8), (70, 40, 64), (9, 33, 4),
                             (3, least, 8), (5, least + 1, 2), (4, 64, 1)):
        windows = _windows(rng, n, arch["n_mels"], frames)
        expected = theirs(windows)
        got = ours(windows, batch=batch)
        assert got.dtype == np.float32 and got.shape == expected.shape == (n, n_out)
        diff = float(np.abs(got - expected).max())
        assert diff <= TOLERANCE, (n, frames, batch, diff)
        # the batches change nothing but the memory (and the BLAS kernels' blocking)
        one_by_one = np.concatenate([ours(windows[i: i + 1], batch=1) for i in range(n)])
        assert np.abs(got - one_by_one).max() <= TOLERANCE


def test_a_model_of_one_input_channel_takes_its_channel(tmp_path):
    net, meta = _net(2, seed=3, in_channels=1), _meta(2, inputs=("backing",))
    save_checkpoint(tmp_path / "model.pt", net, meta)
    windows = _windows(np.random.default_rng(0), 6, 16, 40)
    expected = Predictor.load(tmp_path / "model.pt")(windows)
    got = NumpyPredictor.load(tmp_path / "model.pt")(windows)
    assert np.abs(got - expected).max() <= TOLERANCE
    inputs = windows[:, 1:]  # predict_inputs: the model's own channel only
    assert np.array_equal(NumpyPredictor.load(tmp_path / "model.pt").predict_inputs(inputs), got)


def test_nan_spreads_as_in_torch_and_bad_windows_are_refused(tmp_path):
    net, meta = _net(3, seed=5), _meta(3)
    save_checkpoint(tmp_path / "model.pt", net, meta)
    ours, theirs = NumpyPredictor.load(tmp_path / "model.pt"), Predictor.load(tmp_path / "model.pt")
    windows = _windows(np.random.default_rng(1), 4, 16, 20)
    windows[2, 0, 5, 3] = np.nan
    assert np.array_equal(np.isnan(ours(windows)), np.isnan(theirs(windows)))
    assert np.isnan(ours(windows)[2]).all() and not np.isnan(ours(windows)[[0, 1, 3]]).any()
    assert ours(windows[:0]).shape == (0, 3)
    for shape in ((2, 2, 16, 7), (2, 2, 15, 20), (2, 3, 16, 20), (2, 16, 20)):
        with pytest.raises(ValueError, match="windows of shape"):
            ours(np.zeros(shape, np.float32)) if shape[1] != 3 else ours.predict_inputs(
                np.zeros(shape, np.float32))


def test_a_state_dict_that_does_not_fit_its_architecture_is_refused(tmp_path):
    cases = {
        "other-arch": (_net(2, seed=1, channels=(4,)), _meta(2, channels=(8,))),
        "too-few-targets": (_net(3, seed=1), _meta(2)),
        "unknown-setting": (_net(2, seed=1), {**_meta(2), "arch": {**_meta(2)["arch"],
                                                                    "kernel": 5}}),
        "no-arch": (_net(2, seed=1), {k: v for k, v in _meta(2).items() if k != "arch"}),
        "stats-of-another-model": (_net(2, seed=1), {**_meta(2), "input_mean": [0.0] * 3}),
    }
    for name, (net, meta) in cases.items():
        path = tmp_path / name / "model.pt"
        save_checkpoint(path, net, meta)
        with pytest.raises(ModelFileError, match="not a vocalmix task model") as err:
            NumpyPredictor.load(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value), name
    with pytest.raises(FileNotFoundError, match="no model checkpoint"):
        load_numpy_checkpoint(tmp_path / "nowhere.pt")
    state = {k: v.numpy() for k, v in _net(2, seed=1).state_dict().items()}
    state["head.4.bias"] = state["head.4.bias"].astype(np.int64)
    with pytest.raises(ValueError, match="head.4.bias holds int64"):
        NumpyMixNet.from_state_dict(state, _meta(2)["arch"], 2)


# ------------------------------------------------------------------- hostile files
class _Payload:
    """Unpickling this calls ``os.system`` with a command that creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class _EvalPayload(_Payload):
    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w').close()",))


def _zip(path, members: dict[str, bytes], root: str = "archive") -> None:
    """A zip laid out like a torch checkpoint: ``root/data.pkl``, ``root/byteorder``,
    ``root/data/<key>`` and the rest given."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in {"byteorder": b"little", "version": b"3\n", **members}.items():
            z.writestr(f"{root}/{name}", data)


class _Storage:
    """What the crafted pickle names as a storage (``persistent_id``)."""

    def __init__(self, key: str, numel: int):
        self.key, self.numel = key, numel


class _Tensor:
    """A tensor the crafted pickle rebuilds with ``torch._utils._rebuild_tensor_v2``."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class _Crafter(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def _crafted(path, obj, storages: dict[str, bytes], *, patch=None) -> None:
    """A checkpoint whose pickle (protocol 2, as torch writes) is ``obj`` and whose storages
    are ``storages``; ``patch(bytes) -> bytes`` edits the finished file."""
    buf = io.BytesIO()
    _Crafter(buf, protocol=2).dump(obj)
    _zip(path, {"data.pkl": buf.getvalue(), **{f"data/{k}": v for k, v in storages.items()}})
    if patch:
        path.write_bytes(patch(path.read_bytes()))


def _declare_size(name: str, size: int):
    """A patch that makes the central directory declare ``size`` bytes for member
    ``name`` (its uncompressed size field), the data left as it is."""
    def patch(data: bytes) -> bytes:
        at = data.index(b"PK\x01\x02")
        while data[at + 46: at + 46 + struct.unpack_from("<H", data, at + 28)[0]] \
                != name.encode():
            at = data.index(b"PK\x01\x02", at + 4)
        out = bytearray(data)
        struct.pack_into("<I", out, at + 24, size)
        return bytes(out)
    return patch


def _floats(n: int) -> bytes:
    return np.arange(n, dtype="<f4").tobytes()


HOSTILE = {
    "os-system": lambda p, m: _zip(p, {"data.pkl": pickle.dumps(
        {"state_dict": OrderedDict(), "meta": _Payload(m)}, protocol=2)}),
    "builtins-eval": lambda p, m: _zip(p, {"data.pkl": pickle.dumps(
        {"meta": [1, _EvalPayload(m)]}, protocol=2)}),
    "builtins-eval-protocol-4": lambda p, m: _zip(p, {"data.pkl": pickle.dumps(
        {"meta": _EvalPayload(m)}, protocol=4)}),
    "torch-save-with-payload": lambda p, m: torch.save(
        {"state_dict": OrderedDict(w=torch.zeros(2)), "meta": _Payload(m)}, p),
    "raw-pickle": lambda p, m: p.write_bytes(pickle.dumps({"meta": _Payload(m)}, protocol=2)),
    "random-bytes": lambda p, m: p.write_bytes(np.random.default_rng(3).bytes(4096)),
    "empty": lambda p, m: p.write_bytes(b""),
    "foreign-zip": lambda p, m: _zip(p, {"hello.txt": b"hi"}),
    "two-roots": lambda p, m: _two_roots(p),
    "big-endian": lambda p, m: _zip(p, {"data.pkl": pickle.dumps({}, protocol=2),
                                        "byteorder": b"big"}),
    "truncated-checkpoint": lambda p, m: p.write_bytes(_real_checkpoint()[:-700]),
    "truncated-start": lambda p, m: p.write_bytes(_real_checkpoint()[:300]),
    "truncated-pickle": lambda p, m: _rezipped(p, lambda name, data: data[: len(data) // 2]
                                               if name.endswith("data.pkl") else data),
    "storage-short-of-its-tensor": lambda p, m: _crafted(
        p, {"w": _Tensor(_Storage("0", 6), 0, (6,), (1,))}, {"0": _floats(5)}),
    "tensor-past-its-storage": lambda p, m: _crafted(
        p, {"w": _Tensor(_Storage("0", 6), 2, (3, 2), (2, 1))}, {"0": _floats(6)}),
    "negative-stride": lambda p, m: _crafted(
        p, {"w": _Tensor(_Storage("0", 6), 5, (6,), (-1,))}, {"0": _floats(6)}),
    "expanded-to-petabytes": lambda p, m: _crafted(
        p, {"w": _Tensor(_Storage("0", 1), 0, (2 ** 25, 2 ** 25), (0, 0))}, {"0": _floats(1)}),
    "storage-of-two-lengths": lambda p, m: _crafted(
        p, {"a": _Tensor(_Storage("0", 6), 0, (6,), (1,)),
            "b": _Tensor(_Storage("0", 3), 0, (3,), (1,))}, {"0": _floats(6)}),
    "huge-pickle-member": lambda p, m: _crafted(
        p, {"w": 1}, {}, patch=_declare_size("archive/data.pkl", 0xFFFFFFF0)),
    "huge-storage-member": lambda p, m: _crafted(
        p, {"w": _Tensor(_Storage("0", 0x3FFFFFFC), 0, (4,), (1,))}, {"0": _floats(4)},
        patch=_declare_size("archive/data/0", 0xFFFFFFF0)),
    "build-on-a-whitelisted-global": lambda p, m: _zip(p, {"data.pkl": (
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n"  # the global, then BUILD with
        b"N}X\x0c\x00\x00\x00__defaults__)s\x86b.")}),  # (None, {"__defaults__": ()})
    "call-a-storage-type": lambda p, m: _zip(p, {"data.pkl": b"\x80\x02ctorch\nFloatStorage\n)R."}),
    "unknown-persistent-id": lambda p, m: _zip(p, {"data.pkl": b"\x80\x02X\x01\x00\x00\x00xQ."}),
    "a-cycle": lambda p, m: _zip(p, {"data.pkl": pickle.dumps({"meta": _cycle()}, protocol=2)}),
    "compressed-member": lambda p, m: _rezipped(p, compression=zipfile.ZIP_DEFLATED),
}


def _cycle() -> list:
    a: list = []
    a.append(a)
    return a


def _real_checkpoint() -> bytes:
    buf = io.BytesIO()
    torch.save(plain({"state_dict": _net(2, seed=0).state_dict(), "meta": _meta(2)}), buf)
    return buf.getvalue()


def _two_roots(path) -> None:
    _zip(path, {"data.pkl": pickle.dumps({}, protocol=2)}, root="a")
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("b/data.pkl", pickle.dumps({}, protocol=2))


def _rezipped(path, edit=lambda name, data: data, compression=zipfile.ZIP_STORED) -> None:
    """A real checkpoint written again member by member, ``edit(name, bytes)`` applied."""
    with zipfile.ZipFile(io.BytesIO(_real_checkpoint())) as src, \
            zipfile.ZipFile(path, "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info)))


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_or_broken_file_is_one_line_naming_it_and_runs_nothing(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    HOSTILE[name](path, marker)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as err:
            read_checkpoint_arrays(path, what="vocalmix task model")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert peak < 20 * 2 ** 20, f"{peak} bytes taken to refuse the file"
    assert not marker.exists(), "reading the model file ran its code"
    if name in ("os-system", "builtins-eval", "builtins-eval-protocol-4",
                "torch-save-with-payload"):
        assert "call code" in message and "nothing was run" in message
    with pytest.raises(ModelFileError):
        NumpyPredictor.load(path)
    assert not marker.exists()


def test_the_payloads_work_when_unpickled_unsafely(tmp_path):
    """A control: the payloads above really run their code (in a copy, the unsafe way)."""
    for cls, name in ((_Payload, "a"), (_EvalPayload, "b")):
        pickle.loads(pickle.dumps(cls(tmp_path / name)))
        assert (tmp_path / name).exists()


def test_the_crafted_files_are_well_formed_apart_from_their_flaws(tmp_path):
    """Controls: the crafting helpers make files both readers take when nothing is wrong."""
    path = tmp_path / "crafted.pt"
    _crafted(path, {"w": _Tensor(_Storage("0", 6), 1, (2, 2), (2, 1))}, {"0": _floats(6)})
    expected = torch.load(path, weights_only=True)["w"].numpy()
    assert np.array_equal(read_checkpoint_arrays(path)["w"], expected)
    assert expected.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    _rezipped(tmp_path / "rezipped.pt")
    assert read_checkpoint_arrays(tmp_path / "rezipped.pt")["meta"]["targets"] == ["t0", "t1"]


def test_shared_references_are_read_once(tmp_path):
    """A pickle of 60 levels of a list holding the level below twice (a few hundred bytes)
    is 2**60 paths: read in linear time, the sharing kept as torch keeps it."""
    x: list = [torch.ones(2)]
    for _ in range(60):
        x = [x, x]
    path = tmp_path / "shared.pt"
    torch.save({"meta": x}, path)  # (not write_checkpoint: plain() would walk every path)
    got = read_checkpoint_arrays(path)["meta"]
    assert got[0] is got[1] and got[0][0] is got[1][1]
    for _ in range(60):
        got = got[0]
    assert got[0].tolist() == [1.0, 1.0]


def test_a_file_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    import vocalmix.modelfiles as ck

    path = tmp_path / "model.pt"
    path.write_bytes(_real_checkpoint())
    monkeypatch.setattr(ck, "MAX_CHECKPOINT_BYTES", 100)
    monkeypatch.setattr(ck.zipfile, "ZipFile", lambda *a, **k: pytest.fail("read it"))
    with pytest.raises(ModelFileError, match="larger than"):
        read_checkpoint_arrays(path)
    with pytest.raises(ModelFileError, match="no model checkpoint there"):
        read_checkpoint_arrays(tmp_path / "missing.pt")


def test_a_whitelisted_functions_defaults_are_left_alone(tmp_path):
    """The ``BUILD`` of the hostile case above is refused before it touches anything."""
    from vocalmix import modelfiles

    before = modelfiles._rebuild_tensor.__defaults__
    HOSTILE["build-on-a-whitelisted-global"](tmp_path / "m.pt", None)
    with pytest.raises(ModelFileError):
        read_checkpoint_arrays(tmp_path / "m.pt")
    assert modelfiles._rebuild_tensor.__defaults__ == before


# --------------------------------------------------------------- data-driven loading
def test_load_models_never_imports_torch_and_predicts_as_torch(tmp_path):
    models = tmp_path / "models"
    for k, task in enumerate(TASKS):
        n = len(task_targets(task))
        save_checkpoint(models / task / "model.pt", _net(n, seed=k),
                        _meta(n, targets=task_targets(task)))
    windows = _windows(np.random.default_rng(2), 12, 16, 129)
    np.save(tmp_path / "windows.npy", windows)
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        from vocalmix.mixing.data_driven import load_models, predict
        models = load_models({str(models)!r})
        windows = np.load({str(tmp_path / "windows.npy")!r})
        for task, model in models.items():
            np.save({str(tmp_path)!r} + f"/{{task}}.npy", model(windows))
        predict(models, windows, np.zeros(len(windows), bool), 3)
        print(json.dumps({{"torch": "torch" in sys.modules,
                          "types": sorted({{type(m).__name__ for m in models.values()}})}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"torch": False, "types": ["NumpyPredictor"]}
    for task in TASKS:
        expected = Predictor.load(models / task / "model.pt")(windows)
        got = np.load(tmp_path / f"{task}.npy")
        assert got.shape == expected.shape and np.abs(got - expected).max() <= TOLERANCE, task


def test_the_inference_module_imports_no_torch():
    code = ("import sys, vocalmix.models.inference, vocalmix.mixing.data_driven\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
