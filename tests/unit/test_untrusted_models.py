"""Model files are untrusted: loading one never runs code, and bad files get one clear line.

Issue 17, item 1: a ``model.pt`` whose pickle calls ``os.system`` used to run its command in
``vocalmix mix --system model`` (task models) and ``vocalmix separate --model`` (separator);
a corrupt file gave an ``UnpicklingError`` traceback. The hostile files are made here.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

from vocalmix.modelfiles import ModelFileError, read_checkpoint, write_checkpoint
from vocalmix.models.nets import MixNet, Predictor, load_checkpoint, safe_load, save_checkpoint
from vocalmix.separation import builtin


class _Payload:
    """Unpickling this calls ``os.system`` with a command that creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _torch_zip_with_payload(path, marker):
    """A real torch zip checkpoint whose data.pkl carries the payload beside real weights."""
    torch.save({"state_dict": OrderedDict(w=torch.zeros(2)), "meta": _Payload(marker),
                "format": builtin.MODEL_FORMAT}, path)


def _raw_pickle_with_payload(path, marker):
    """A legacy (non-zip) pickle file: what an attacker writes with plain ``pickle.dump``."""
    path.write_bytes(pickle.dumps({"meta": _Payload(marker)}, protocol=2))


@pytest.mark.parametrize("make", [_torch_zip_with_payload, _raw_pickle_with_payload],
                         ids=["torch-zip", "raw-pickle"])
@pytest.mark.parametrize("loader", ["task", "separator"])
def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path, make, loader):
    marker = tmp_path / "pwned"
    model = tmp_path / "model.pt"
    make(model, marker)
    # the payload really works when unpickled the unsafe way (a control, in a copy)
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(control)))
    assert control.exists(), "the payload should create its marker when unpickled unsafely"

    if loader == "task":
        with pytest.raises(ModelFileError) as err:
            load_checkpoint(model)
    else:
        with pytest.raises(builtin.SeparatorModelError) as err:
            builtin.load_model(model)
    message = str(err.value)
    assert str(model) in message and "\n" not in message
    assert "call code" in message and "nothing was run" in message
    assert isinstance(err.value, ValueError)
    assert not marker.exists(), "loading the model file ran its code"


@pytest.mark.parametrize("content", [
    pytest.param(lambda: np.random.default_rng(3).bytes(4096), id="random-bytes"),
    pytest.param(lambda: b"not a model", id="text"),
    pytest.param(lambda: _zip_bytes({"hello.txt": b"hi"}), id="foreign-zip"),
    pytest.param(lambda: _torch_bytes({"w": torch.zeros(3)})[:100], id="truncated-checkpoint"),
    pytest.param(lambda: b"", id="empty"),
])
@pytest.mark.parametrize("loader", ["task", "separator"])
def test_corrupt_or_foreign_file_gives_one_line_naming_the_file(tmp_path, content, loader):
    path = tmp_path / "model.pt"
    path.write_bytes(content())
    with pytest.raises(ValueError) as err:
        if loader == "task":
            load_checkpoint(path)
        else:
            builtin.load_model(path)
    assert isinstance(err.value, ModelFileError if loader == "task"
                      else builtin.SeparatorModelError)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_plain_checkpoint_of_the_wrong_kind_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    save_plain(path, {"something": torch.ones(2)})
    with pytest.raises(ModelFileError, match="not a vocalmix task model"):
        load_checkpoint(path)
    with pytest.raises(builtin.SeparatorModelError, match="not a vocalmix builtin separator"):
        builtin.load_model(path)


def test_task_model_round_trips_safely_and_byte_stably(tmp_path):
    torch.manual_seed(0)
    net = MixNet(1, n_mels=16, channels=(4,), hidden=8)
    meta = {"task": "level", "targets": ["level_lu"],
            "arch": {"in_channels": 2, "n_mels": 16, "channels": (4,), "hidden": 8,
                     "dropout": 0.2},
            "input_channels": ["vocal", "backing"], "input": {"channels": ["vocal", "backing"]},
            "input_mean": np.zeros(2, np.float32), "input_std": np.ones(2),
            "target_mean": [0.0], "target_std": [1.0], "seed": np.int64(7)}
    save_checkpoint(tmp_path / "a" / "model.pt", net, meta)
    save_checkpoint(tmp_path / "b" / "model.pt", net, meta)
    a, b = (tmp_path / "a" / "model.pt").read_bytes(), (tmp_path / "b" / "model.pt").read_bytes()
    assert a == b
    # the file loads the safe way with torch itself (numpy values were converted at save time)
    torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    model, meta2 = load_checkpoint(tmp_path / "a" / "model.pt")
    assert meta2["seed"] == 7 and isinstance(meta2["seed"], int)
    for k, v in net.state_dict().items():
        assert torch.equal(v, model.state_dict()[k])
    pred = Predictor(model, meta2)
    assert pred(np.zeros((3, 2, 16, 8), np.float32)).shape == (3, 1)


def test_save_refuses_what_only_pickling_could_store(tmp_path):
    with pytest.raises(TypeError, match="without pickling"):
        save_plain(tmp_path / "x.pt", {"meta": object()})
    assert not (tmp_path / "x.pt").exists()


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    import vocalmix.modelfiles as ck

    path = tmp_path / "model.pt"
    save_plain(path, {"w": torch.zeros(1000)})
    monkeypatch.setattr(ck, "MAX_CHECKPOINT_BYTES", 100)
    with pytest.raises(ModelFileError, match="larger than"):
        read_checkpoint(path, load=lambda f: pytest.fail("read a too-large file"))


def save_plain(path, obj):
    write_checkpoint(path, obj, save=torch.save, load=safe_load)


def test_no_unsafe_torch_load_in_the_package():
    from pathlib import Path

    import vocalmix

    root = Path(vocalmix.__file__).parent
    offenders = []
    for py in root.rglob("*.py"):
        text = py.read_text()
        if "weights_only=False" in text or "import pickle" in text and py.name != "modelfiles.py":
            offenders.append(str(py.relative_to(root)))
        for line in text.splitlines():
            if "torch.load(" in line and "weights_only=True" not in line:
                offenders.append(f"{py.relative_to(root)}: {line.strip()}")
    assert offenders == []


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()
