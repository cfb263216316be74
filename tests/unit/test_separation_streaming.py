"""The pretrained separator streamed: block by block from the song file to the stems' files,
in memory flat in the song's length, with the very samples and files of the whole-array
computation (and the same report figures, to rounding)."""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from vocalmix.audio import AudioError, open_audio, read_audio, write_audio
from vocalmix.separation import spleeter_net as sn
from vocalmix.separation import spleeter_weights as sw
from vocalmix.separation.api import separate as api_separate
from vocalmix.separation.settings import SeparationSettings
from vocalmix.separation.stage import Description, describe
from vocalmix.stages.separate import separate as stage

SR = 44100
#: 13.3 s: one whole segment (512 frames, 11.9 s) and part of a second, not a whole number
#: of hops (the segment boundaries of longer songs: the cheap-mask cases below)
N = int(13.3 * SR) + 17
SETTINGS = {"backend": "pretrained", "pretrained": {"weights": ""}}
#: the report's figures against describe() of the whole arrays
LU_TOL, REL_TOL = 1e-6, 1e-9


@pytest.fixture(scope="module")
def separator() -> sn.PretrainedSeparator:
    """The installed weights' separator; their absence is a failure, not a skip (as in
    test_separation_pretrained.py)."""
    try:
        return sn.load_separator(sw.find_weights())
    except sw.WeightsError as exc:
        pytest.fail(f"pretrained weights not installed ({exc})")


@torch.inference_mode()
def _reference(sep: sn.PretrainedSeparator, mixture: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The whole-array separation as it was before streaming, verbatim: the padded song,
    one song-long overlap-add buffer."""
    from vocalmix.audio import to_channels

    mixture = np.asarray(mixture, dtype=np.float32)
    channels, n = mixture.shape
    stereo = torch.from_numpy(np.ascontiguousarray(to_channels(mixture, 2)))
    frames = -(-(n + sn.N_FFT) // sn.HOP)
    length = (frames - 1) * sn.HOP + sn.N_FFT
    padded = torch.zeros((2, length), dtype=torch.float32)
    padded[:, sn.N_FFT:sn.N_FFT + n] = stereo
    out = torch.zeros((2, length), dtype=torch.float32)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for j in range(-(-frames // sn.SEGMENT)):
            k0, k1 = j * sn.SEGMENT, min((j + 1) * sn.SEGMENT, frames)
            chunk = padded[:, k0 * sn.HOP:(k1 - 1) * sn.HOP + sn.N_FFT]
            spec = torch.fft.rfft(chunk.unfold(-1, sn.N_FFT, sn.HOP) * sep.window)
            mask = sep.vocal_mask(spec[..., :sn.BINS].abs())
            spec[..., :sn.BINS] *= mask
            spec[..., sn.BINS:] = 0
            y = torch.fft.irfft(spec, n=sn.N_FFT) * (sep.window * sn.WINDOW_COMPENSATION)
            nf = k1 - k0
            quarters = y.reshape(2, nf, sn.N_FFT // sn.HOP, sn.HOP)
            for q in range(sn.N_FFT // sn.HOP):
                start = (k0 + q) * sn.HOP
                out[:, start:start + nf * sn.HOP] += quarters[:, :, q].reshape(2, nf * sn.HOP)
    finally:
        torch.set_num_threads(previous)
    vocal = to_channels(out[:, sn.N_FFT:sn.N_FFT + n].numpy(), channels)
    return np.ascontiguousarray(vocal), np.ascontiguousarray(mixture - vocal)


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    """A generated stereo song (singing over a backing), N samples."""
    from vocalmix.corpus.demo import generate_song

    audio, _ = generate_song("streamed", "pop", duration_s=N / SR, sample_rate=SR, seed=7)
    mixture = np.ascontiguousarray(audio["mixture"][:, :N])
    assert mixture.shape == (2, N)
    return mixture


@pytest.fixture(scope="module")
def reference(separator, song) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{channels: (vocal, backing)}`` of the song in stereo and mono, computed as before."""
    return {2: _reference(separator, song), 1: _reference(separator, song[:1])}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit (``array_equal`` would call -0.0 and 0.0 equal)."""
    return (a.dtype == b.dtype == np.float32 and a.shape == b.shape
            and np.array_equal(a.view(np.uint32), b.view(np.uint32)))


def _blocks(x: np.ndarray, size: int):
    for start in range(0, x.shape[1], size):
        yield x[:, start:start + size]


def _collect(stream) -> tuple[np.ndarray, np.ndarray]:
    parts = list(stream)
    return (np.concatenate([v for v, _ in parts], axis=1),
            np.concatenate([b for _, b in parts], axis=1))


# ------------------------------------------------------------------- (a) the separator
def test_whole_array_separation_is_the_computation_it_was(separator, song, reference):
    for channels in (2, 1):
        ref_vocal, ref_backing = reference[channels]
        calls = []
        vocal, backing = separator.separate(song[:channels], SR, threads=1,
                                            progress=lambda d, t: calls.append((d, t)))
        assert _same(vocal, ref_vocal) and _same(backing, ref_backing)
        assert vocal.flags.c_contiguous and backing.flags.c_contiguous
        assert calls == [(1, 2), (2, 2)]  # 13.3 s: two segments
    # and through the API (no resampling at 44.1 kHz)
    vocal, backing, info = api_separate(song, SR, SeparationSettings.from_mapping(SETTINGS))
    assert _same(vocal, reference[2][0]) and _same(backing, reference[2][1])


@pytest.mark.parametrize("channels,block", [(2, 4096), (1, 100_003)])
def test_streamed_blocks_are_the_whole_arrays_bit_for_bit(separator, song, reference,
                                                          channels, block):
    mixture = song[:channels]
    vocal, backing = _collect(separator.separate_stream(_blocks(mixture, block), SR))
    ref_vocal, ref_backing = reference[channels]
    assert _same(vocal, ref_vocal) and _same(backing, ref_backing)


def test_an_opened_file_streams_the_same_samples(separator, song, reference, tmp_path):
    sf.write(tmp_path / "song.wav", song.T, SR, subtype="FLOAT")  # float32: exact
    with open_audio(tmp_path / "song.wav") as stream:
        calls = []
        vocal, backing = _collect(separator.separate_stream(
            stream, block_frames=30_000, progress=lambda d, t: calls.append((d, t))))
    assert _same(vocal, reference[2][0]) and _same(backing, reference[2][1])
    assert calls == [(1, 2), (2, 2)]


def _cheap_mask(mag: torch.Tensor) -> torch.Tensor:
    """A mask that depends on the magnitudes, in place of the network (fast)."""
    return mag / (mag + 1.0)


@pytest.mark.parametrize("n", [0, 1, sn.HOP - 1, sn.SEGMENT * sn.HOP - sn.N_FFT,
                               sn.SEGMENT * sn.HOP - sn.N_FFT + 1,
                               sn.SEGMENT * sn.HOP + sn.N_FFT - sn.HOP - sn.N_FFT,  # inp full
                               sn.SEGMENT * sn.HOP - sn.HOP + 1,
                               2 * sn.SEGMENT * sn.HOP - sn.N_FFT + 2 * sn.HOP - 1])
def test_every_segment_boundary_case_is_bit_for_bit(separator, monkeypatch, n):
    """Lengths that end a song at and around the segments' edges (the input buffer just
    full, a last segment of a few frames, nothing after the padding), with the network
    replaced by a cheap mask: the stream's blocks are the whole-array samples."""
    monkeypatch.setattr(separator, "vocal_mask", _cheap_mask)
    x = (0.1 * np.random.default_rng(n).standard_normal((2, n))).astype(np.float32)
    for channels in (2, 1):
        ref_vocal, ref_backing = _reference(separator, x[:channels])
        vocal, backing = separator.separate(x[:channels], SR)
        assert _same(vocal, ref_vocal) and _same(backing, ref_backing)
        if n:
            vocal, backing = _collect(separator.separate_stream(_blocks(x[:channels], 3001),
                                                                SR))
            assert _same(vocal, ref_vocal) and _same(backing, ref_backing)


def test_streaming_refuses_another_rate_and_mixed_blocks(separator):
    with pytest.raises(ValueError, match="44100 Hz"):
        separator.separate_stream([np.zeros((2, 10), np.float32)], 48000)
    with pytest.raises(ValueError, match="channels"):
        list(separator.separate_stream([np.zeros((2, 10), np.float32),
                                        np.zeros((1, 10), np.float32)], SR))


# ---------------------------------------------------------------------- (b) the stage
def _stage(tmp_path: Path, mix: Path, name: str, sample_rate: int = SR) -> dict:
    out = {k: str(tmp_path / name / f) for k, f in
           (("vocal", "vocal.wav"), ("backing", "backing.wav"), ("report", "report.json"))}
    stage({"mix": str(mix)}, out, {"track": "separated_song", "sample_rate": sample_rate,
                                   "separation": SETTINGS})
    return {**out, **json.loads(Path(out["report"]).read_text())}


def _assert_facts(report: dict, facts: dict) -> None:
    for key in ("mixture_lufs", "vocal_lufs", "backing_lufs", "vocal_to_backing_lu"):
        assert math.isfinite(facts[key]) and abs(report[key] - facts[key]) <= LU_TOL, key
    share = facts["vocal_energy_share"]
    assert 0 < share < 1
    assert abs(report["vocal_energy_share"] - share) <= REL_TOL * share


@pytest.mark.parametrize("channels", [2, 1])
def test_the_stage_writes_the_files_of_the_whole_array_path(separator, song, reference,
                                                            tmp_path, channels):
    mixture = song[:channels]
    sf.write(tmp_path / "song.wav", mixture.T, SR, subtype="FLOAT")
    got = _stage(tmp_path, tmp_path / "song.wav", "out")
    assert got["status"] == "ok" and got["run"]["streamed"] is True
    assert got["run"]["backend"] == "pretrained"
    assert got["channels"] == channels and got["duration_s"] == N / SR
    assert got["source_sample_rate"] == SR
    # the stage before streaming: the song read whole, separated, written whole
    ref_vocal, ref_backing = reference[channels]
    write_audio(tmp_path / "ref" / "vocal.wav", ref_vocal, SR)
    write_audio(tmp_path / "ref" / "backing.wav", ref_backing, SR)
    for stem in ("vocal", "backing"):
        assert Path(got[stem]).read_bytes() == (tmp_path / "ref" / f"{stem}.wav").read_bytes()
    _assert_facts(got, describe(mixture, ref_vocal, ref_backing, SR))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "backing.wav", "report.json", "vocal.wav"]  # no temporary files left


def test_streamed_description_equals_describe(song, reference):
    """The accumulators fed in blocks of other sizes for each signal: describe()'s figures."""
    vocal, backing = reference[2]
    with Description(SR, 2) as d:
        for block in _blocks(song, 100_003):
            d.add_mixture(block)
        for start in range(0, N, 4096 * 7):
            d.add_stems(vocal[:, start:start + 4096 * 7], backing[:, start:start + 4096 * 7])
        facts = d.facts()
    whole = describe(song, vocal, backing, SR)
    _assert_facts({**facts}, whole)
    for key in ("mixture_lufs", "vocal_lufs", "backing_lufs"):  # in fact the same numbers
        assert facts[key] == whole[key]


# ---------------------------------------------------------- (c) another rate: fallback
def test_a_song_at_another_rate_is_separated_whole(separator, tmp_path):
    from vocalmix.corpus.demo import generate_song

    audio, _ = generate_song("at48k", "rock", duration_s=8.0, sample_rate=48000, seed=3)
    sf.write(tmp_path / "song.wav", audio["mixture"].T, 48000, subtype="PCM_16")
    got = _stage(tmp_path, tmp_path / "song.wav", "out")
    assert got["status"] == "ok" and got["run"]["streamed"] is False
    assert got["source_sample_rate"] == 48000 and got["duration_s"] == pytest.approx(8.0)
    # what the stage wrote before: read and resampled whole, separated, written whole
    mixture, _ = read_audio(tmp_path / "song.wav", sample_rate=SR)
    vocal, backing, _ = api_separate(mixture, SR, SeparationSettings.from_mapping(SETTINGS))
    write_audio(tmp_path / "ref" / "vocal.wav", vocal, SR)
    write_audio(tmp_path / "ref" / "backing.wav", backing, SR)
    for stem in ("vocal", "backing"):
        assert Path(got[stem]).read_bytes() == (tmp_path / "ref" / f"{stem}.wav").read_bytes()
    _assert_facts(got, describe(mixture, vocal, backing, SR))


def test_an_unreadable_song_gives_empty_stems_and_the_problem(separator, tmp_path):
    x = (0.1 * np.random.default_rng(0).standard_normal((2, 30 * SR))).astype(np.float32)
    x[0, SR + 5] = np.nan  # in the first block; counted over the whole file, as read_audio does
    x[1, 25 * SR] = np.inf
    sf.write(tmp_path / "nan.wav", x.T, SR, subtype="FLOAT")
    with pytest.raises(AudioError) as whole:
        read_audio(tmp_path / "nan.wav")
    got = _stage(tmp_path, tmp_path / "nan.wav", "out")
    assert got["status"] == "unreadable" and got["problem"] == str(whole.value)
    assert "contains 2 NaN or infinite samples" in got["problem"]
    assert sf.info(got["vocal"]).frames == sf.info(got["backing"]).frames == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "backing.wav", "report.json", "vocal.wav"]
    sf.write(tmp_path / "three.wav", np.zeros((SR, 3), np.float32), SR, subtype="FLOAT")
    got = _stage(tmp_path, tmp_path / "three.wav", "out3")
    assert got["status"] == "unreadable" and "3 channels" in got["problem"]
    (tmp_path / "bad.wav").write_bytes(b"RIFF\0\0\0\0WAVEjunk")
    got = _stage(tmp_path, tmp_path / "bad.wav", "bad")
    assert got["status"] == "unreadable" and "bad.wav" in got["problem"]


# --------------------------------------------------------------- (d) memory is bounded
def test_the_stream_holds_one_segment_whatever_the_songs_length(separator, monkeypatch):
    """Five minutes of stereo, made block by block: the stems come out while the song is
    read, never more than one segment and the frames' overlap behind it, and the arrays
    allocated meanwhile stay far below one copy of the song. (The network is replaced by a
    constant mask, so that five minutes take seconds; the buffering is the same.)"""
    monkeypatch.setattr(separator, "vocal_mask", lambda mag: torch.full_like(mag, 0.5))
    block, n = 100_003, 5 * 60 * SR
    read = [0]

    def blocks():
        rng = np.random.default_rng(1)
        for start in range(0, n, block):
            m = min(block, n - start)
            read[0] += m
            yield (0.1 * rng.standard_normal((2, m))).astype(np.float32)

    behind = sn.SEGMENT * sn.HOP + sn.N_FFT - sn.HOP  # one segment's samples and the overlap
    out, most = 0, 0
    tracemalloc.start()
    try:
        for vocal, backing in separator.separate_stream(blocks(), SR):
            assert vocal.shape == backing.shape and vocal.shape[1] <= sn.SEGMENT * sn.HOP
            most = max(most, read[0] - out)  # read but not yet handed out
            out += vocal.shape[1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out == read[0] == n
    assert most <= behind + block
    song_bytes = 2 * n * 4  # one float32 copy of the stereo song: 106 MB
    assert peak < 48 * 2**20 < song_bytes / 2, peak


def test_the_command_streams_a_song_to_the_same_files(separator, song, reference, tmp_path,
                                                      capsys):
    """``vocalmix separate`` on a 44.1 kHz song: streamed (the report says so), the files
    those of the whole-array separation."""
    from vocalmix.cli import main

    sf.write(tmp_path / "song.wav", song.T, SR, subtype="FLOAT")
    assert main(["separate", str(tmp_path / "song.wav"), "-o", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["run"]["streamed"] is True and report["duration_s"] == N / SR
    for stem, ref in zip(("vocal", "backing"), reference[2]):
        write_audio(tmp_path / "ref" / f"{stem}.wav", ref, SR)
        assert ((tmp_path / "out" / f"{stem}.wav").read_bytes()
                == (tmp_path / "ref" / f"{stem}.wav").read_bytes())
    assert "separated by pretrained" in capsys.readouterr().out
