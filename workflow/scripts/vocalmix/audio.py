"""Audio input/output with explicit layouts and validation.

Conventions (see DESIGN.md): audio in memory is ``numpy.float32`` of shape
``(channels, samples)`` and travels with an explicit ``sample_rate``. soundfile is
channels-last, so the transpose happens here and nowhere else.
"""

from __future__ import annotations

import os
import struct
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np
from numpy.typing import NDArray

from vocalmix.files import atomic_path

__all__ = [
    "AudioError",
    "AudioStream",
    "open_audio",
    "stream_blocks",
    "read_audio",
    "write_audio",
    "audio_info",
    "validate_audio",
    "resample",
    "StreamResampler",
    "AudioWriter",
    "open_audio_writer",
    "to_channels",
    "db_to_gain",
    "peak_abs",
]

class AudioError(ValueError):
    """A file or signal that cannot be used, with the file named in the message."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


def db_to_gain(db: float | NDArray) -> float | NDArray:
    """Amplitude gain of a level in dB: ``10 ** (db / 20)``.

    The result has the type of ``db``'s arithmetic (a Python float for a float, a numpy scalar
    of the same precision for a numpy scalar, an array for an array), so a float32 signal
    times the gain of a float level stays float32.
    """
    return 10.0 ** (db / 20.0)


def peak_abs(audio: NDArray) -> float:
    """The largest absolute sample of ``audio`` (0 for no samples), from its extremes: two
    passes, no song-sized ``abs`` temporary."""
    x = np.asarray(audio)
    return max(float(x.max()), -float(x.min())) if x.size else 0.0




def _wav_declared_data_bytes(path: Path) -> tuple[int, int] | None:
    """For a RIFF/WAVE file return (declared data bytes, available data bytes).

    libsndfile silently shortens a truncated WAV to what is on disk, so the
    truncation is only visible by comparing the ``data`` chunk's declared size with
    the bytes that follow it. Returns None for other formats or unparsable headers.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return None
            if head[:4] == b"RF64":
                return None  # 64-bit sizes live in ds64; trust libsndfile there
            pos = 12
            while pos + 8 <= size:
                fh.seek(pos)
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"data":
                    return csize, size - (pos + 8)
                pos += 8 + csize + (csize & 1)
    except OSError:
        return None
    return None


def audio_info(path: str | os.PathLike) -> dict:
    """Header facts of an audio file: sample_rate, channels, frames, duration_s, format.

    Raises
    ------
    AudioError
        If the file is missing or not readable as audio.
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file does not exist")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises its own error types
        raise AudioError(path, f"not readable as audio ({exc})") from None
    return {
        "sample_rate": int(info.samplerate),
        "channels": int(info.channels),
        "frames": int(info.frames),
        "duration_s": float(info.frames) / float(info.samplerate) if info.samplerate else 0.0,
        "format": info.format,
        "subtype": info.subtype,
    }


#: Frames per block that :meth:`AudioStream.read` asks libsndfile for.
_READ_BLOCK = 1 << 16


class AudioStream:
    """An opened, validated audio file read in blocks; made by :func:`open_audio`.

    Attributes
    ----------
    path : Path
    sample_rate, channels, frames : int
        Header facts; ``frames`` is what is on disk (a truncated WAV was refused).
    """

    def __init__(self, path: Path, handle: Any):
        self.path = path
        self._fh = handle
        self.sample_rate = int(handle.samplerate)
        self.channels = int(handle.channels)
        self.frames = int(handle.frames)
        self.subtype = str(handle.subtype)

    def read(self, frames: int = -1, *, check_finite: bool = True) -> NDArray[np.float32]:
        """The next ``frames`` samples (all the rest for -1) as float32 ``(channels, n)``.

        Raises
        ------
        AudioError
            A read error (damaged data) or NaN/inf samples; the message names the file.
        """
        # read through a small interleaved buffer into the (channels, n) array: no
        # song-sized interleaved copy to transpose (the samples libsndfile gives either way)
        try:
            remaining = max(0, self._fh.frames - self._fh.tell())
        except Exception as exc:  # libsndfile raises its own error types
            raise AudioError(self.path, f"not readable as audio ({exc})") from None
        total = remaining if frames < 0 else min(int(frames), remaining)
        out = np.empty((self.channels, total), dtype=np.float32)
        buf = np.empty((min(total, _READ_BLOCK), self.channels), dtype=np.float32)
        pos, finite = 0, True
        while pos < total:
            got = self.read_into(buf[: min(_READ_BLOCK, total - pos)])
            if got.shape[0] == 0:
                break
            out[:, pos:pos + got.shape[0]] = got.T
            if check_finite:  # min and max reach any NaN or infinity
                finite = finite and bool(np.isfinite(got.min()) and np.isfinite(got.max()))
            pos += got.shape[0]
        if pos < total:  # fewer frames than the header said
            out = np.ascontiguousarray(out[:, :pos])
        if not finite:
            bad = int(np.count_nonzero(~np.isfinite(out)))
            raise AudioError(self.path, f"contains {bad} NaN or infinite samples")
        return out

    def seek(self, frame: int) -> None:
        """Continue reading at ``frame`` (from the start of the file)."""
        if not 0 <= frame <= self.frames:
            raise ValueError(f"{self.path}: frame {frame} outside 0..{self.frames}")
        self._fh.seek(int(frame))

    def read_into(self, out: NDArray) -> NDArray:
        """Read the next ``len(out)`` frames into ``out`` ``(frames, channels)``, as the file
        stores them (interleaved: no transposed copy, no allocation, so a streaming reader
        reuses its buffers); the filled part ``out[:n]`` (``n`` < ``len(out)`` at the end of
        the file). ``out`` is float32, float64, int16 or int32 (libsndfile's integer reads
        are full scale: a ``PCM_16`` file read as int16 is its samples, as float32 they are
        those divided by 2**15). Not checked for NaN/inf: the caller sees every sample.

        Raises
        ------
        AudioError
            A read error (damaged data); the message names the file.
        """
        try:
            data = self._fh.read(out.shape[0], dtype=out.dtype.name, always_2d=True, out=out)
        except Exception as exc:  # libsndfile raises its own error types
            raise AudioError(self.path, f"not readable as audio ({exc})") from None
        return data

    def blocks(self, block_frames: int, *, check_finite: bool = True
               ) -> Iterator[NDArray[np.float32]]:
        """Successive ``(channels, <= block_frames)`` float32 blocks to the end of the file."""
        if block_frames <= 0:
            raise ValueError(f"block_frames must be positive, got {block_frames}")
        while True:
            block = self.read(block_frames, check_finite=check_finite)
            if block.shape[1] == 0:
                return
            yield block


@contextmanager
def open_audio(path: str | os.PathLike) -> Iterator[AudioStream]:
    """Open an audio file after checking it, for reading in blocks; the one place that does.

    Every reader of audio goes through here (:func:`read_audio`, :func:`stream_blocks`,
    the streaming loudness meter), so a file refused by one command is refused by all.

    Raises
    ------
    AudioError
        Missing, not readable as audio, truncated (a WAV whose header declares more data
        than is present: libsndfile alone would silently read the part that is there), or
        without samples; the message names the file.
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file does not exist")
    if path.is_dir():
        raise AudioError(path, "is a folder, not an audio file")
    sizes = _wav_declared_data_bytes(path)
    if sizes is not None and sizes[1] < sizes[0]:
        raise AudioError(
            path,
            f"truncated: the header declares {sizes[0]} data bytes but only {sizes[1]} are present",
        )
    try:
        handle = sf.SoundFile(str(path))
    except Exception as exc:
        raise AudioError(path, f"not readable as audio ({exc})") from None
    try:
        stream = AudioStream(path, handle)
        if stream.frames == 0:
            raise AudioError(path, "contains no samples")
        yield stream
    finally:
        handle.close()


def stream_blocks(path: str | os.PathLike, block_frames: int, *, check_finite: bool = True
                  ) -> Iterator[tuple[NDArray[np.float32], int]]:
    """``(block, sample_rate)`` pairs of a checked file (see :func:`open_audio`), in order."""
    with open_audio(path) as stream:
        for block in stream.blocks(block_frames, check_finite=check_finite):
            yield block, stream.sample_rate


def read_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    check_finite: bool = True,
) -> tuple[NDArray[np.float32], int]:
    """Read an audio file as float32 ``(channels, samples)``.

    Parameters
    ----------
    path : path-like
        Any format soundfile/libsndfile reads (WAV, FLAC, OGG, MP3, AIFF, ...).
    sample_rate : int, optional
        If given, the file is resampled to this rate (once, here).
    check_finite : bool
        Raise on NaN or infinite samples (float files can contain them).

    Returns
    -------
    audio : np.ndarray [shape=(channels, samples), dtype=float32]
    sample_rate : int

    Raises
    ------
    AudioError
        Missing, unreadable, truncated, empty or non-finite audio; the message names the file
        (the checks of :func:`open_audio`).
    """
    with open_audio(path) as stream:
        audio = stream.read(-1, check_finite=check_finite)
        sr = stream.sample_rate
    if audio.shape[1] == 0:
        raise AudioError(path, "contains no samples")
    if sample_rate is not None and sr != sample_rate:
        audio = resample(audio, orig_sample_rate=sr, target_sample_rate=sample_rate)
        sr = sample_rate
    return audio, int(sr)


def write_audio(
    path: str | os.PathLike,
    audio: NDArray,
    sample_rate: int,
    *,
    subtype: Literal["FLOAT", "PCM_16", "PCM_24"] = "FLOAT",
    clip: Literal["error", "clip", "none"] = "none",
) -> None:
    """Write ``(channels, samples)`` audio atomically (temporary name, then rename): WAV, or
    FLAC when ``path`` ends in ``.flac``.

    Parameters
    ----------
    subtype : {"FLOAT", "PCM_16", "PCM_24"}
        FLOAT (default) keeps intermediate results exact and allows levels above 0 dBFS
        (WAV only: FLAC holds integers, so a ``.flac`` path needs PCM_16 or PCM_24).
    clip : {"none", "clip", "error"}
        Policy for samples beyond +/-1 with an integer subtype: clip them, or raise.
    """
    import soundfile as sf

    fmt = "FLAC" if Path(path).suffix.lower() == ".flac" else "WAV"
    if fmt == "FLAC" and subtype == "FLOAT":
        raise ValueError(f"{path}: FLAC holds integer samples; subtype must be PCM_16 or "
                         "PCM_24, not FLOAT")
    audio, lo, hi = _validated(audio, str(path))
    peak = max(hi, -lo)
    clipping = False
    if subtype != "FLOAT" and peak > 1.0:
        if clip == "error":
            raise AudioError(path, f"peak {peak:.3f} exceeds full scale for {subtype}")
        clipping = clip == "clip"
    # written in blocks (what ``sf.write(path, audio.T)`` writes, byte for byte): no
    # song-sized transposed or clipped copy
    with atomic_path(path) as tmp:
        with sf.SoundFile(str(tmp), "w", int(sample_rate), audio.shape[0], subtype=subtype,
                          format=fmt) as fh:
            for start in range(0, audio.shape[1], _WRITE_BLOCK):
                block = audio[:, start:start + _WRITE_BLOCK]
                fh.write((np.clip(block, -1.0, 1.0) if clipping else block).T)
        if fmt == "WAV":
            _zero_peak_timestamp(tmp)


#: Frames per block that :func:`write_audio` hands to libsndfile.
_WRITE_BLOCK = 1 << 16


def _zero_peak_timestamp(path: Path) -> None:
    """libsndfile writes a ``PEAK`` chunk with the wall-clock time into float WAVs; zero
    that timestamp so the same audio always gives the same bytes."""
    with open(path, "r+b") as fh:
        head = fh.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while True:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"PEAK":
                fh.seek(pos + 8 + 4)  # after the version field
                fh.write(b"\x00\x00\x00\x00")
                return
            if cid == b"data":
                return
            pos += 8 + size + (size & 1)


def validate_audio(audio: Any, *, name: str = "audio") -> NDArray[np.float32]:
    """Check a signal is a finite floating ``(channels, samples)`` array; return it as float32.

    Raises
    ------
    TypeError
        Not a floating numpy array.
    AudioError
        Wrong number of dimensions, more channels than samples (a likely transposed
        array), or NaN/inf values.
    """
    return _validated(audio, name)[0]


def _validated(audio: Any, name: str) -> tuple[NDArray[np.float32], float, float]:
    """:func:`validate_audio`'s checks; (the audio as float32, its least and largest sample,
    0 for no samples)."""
    if not isinstance(audio, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(audio).__name__}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise TypeError(f"{name}: expected floating-point samples, got dtype {audio.dtype}")
    if audio.ndim != 2:
        raise AudioError(None, f"{name}: expected shape (channels, samples), got {audio.shape}")
    if audio.shape[0] > 8 or (audio.shape[0] > audio.shape[1] and audio.shape[1] > 0):
        raise AudioError(
            None,
            f"{name}: shape {audio.shape} looks like (samples, channels); "
            "vocalmix requires (channels, samples)",
        )
    # min and max propagate NaN and reach an infinity: finite extremes mean finite samples
    # (two passes, no temporary array)
    lo, hi = (float(audio.min()), float(audio.max())) if audio.size else (0.0, 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise AudioError(None, f"{name}: contains NaN or infinite samples")
    x = np.asarray(audio, dtype=np.float32)
    if x is not audio and x.size:  # the extremes of the samples returned
        lo, hi = float(x.min()), float(x.max())
    return x, lo, hi


def resample(
    audio: NDArray, *, orig_sample_rate: int, target_sample_rate: int
) -> NDArray[np.float32]:
    """Polyphase resampling of ``(channels, samples)`` audio (scipy ``resample_poly``).

    The rational factor is exact for the usual rates (16k, 22.05k, 32k, 44.1k, 48k, 96k).
    """
    from scipy.signal import resample_poly

    if orig_sample_rate == target_sample_rate:
        return np.asarray(audio, dtype=np.float32)
    if orig_sample_rate <= 0 or target_sample_rate <= 0:
        raise ValueError(
            f"sample rates must be positive, got {orig_sample_rate} -> {target_sample_rate}"
        )
    ratio = Fraction(int(target_sample_rate), int(orig_sample_rate))
    out = resample_poly(np.asarray(audio, dtype=np.float64), ratio.numerator, ratio.denominator,
                        axis=-1)
    return out.astype(np.float32)


def to_channels(audio: NDArray, channels: int) -> NDArray[np.float32]:
    """Convert ``(c, n)`` audio (or a 1-D mono signal) to ``channels`` channels.

    Mono to stereo duplicates; stereo to mono averages; other changes raise
    :class:`AudioError`.
    """
    audio = np.atleast_2d(audio)
    c = audio.shape[0]
    if c == channels:
        return np.asarray(audio, dtype=np.float32)
    if c == 1:
        return np.repeat(np.asarray(audio, dtype=np.float32), channels, axis=0)
    if channels == 1:
        return np.asarray(audio.mean(axis=0, keepdims=True), dtype=np.float32)
    raise AudioError(None, f"cannot convert {c} channels to {channels}")


# ----------------------------------------------------------------- streaming write, resample
class AudioWriter:
    """A file being written block by block; made by :func:`open_audio_writer`.

    Attributes
    ----------
    path : Path
        The final name (the blocks go to a temporary file beside it until the end).
    channels : int
    frames : int
        Frames written so far.
    peak : float
        Largest absolute sample written so far (before any clipping).
    """

    def __init__(self, path: Path, handle: Any, channels: int, subtype: str, clip: str):
        self.path = path
        self._fh = handle
        self.channels = channels
        self.frames = 0
        self.peak = 0.0
        self._subtype = subtype
        self._clip = clip
        self.discarded = False

    def write(self, block: NDArray) -> None:
        """Append a ``(channels, n)`` block (float; converted to float32 as
        :func:`write_audio` converts a whole signal).

        Raises
        ------
        AudioError
            A block of other channels, NaN/inf samples, or (``clip="error"``) a sample
            beyond full scale for an integer subtype.
        """
        block = np.asarray(block)
        if not np.issubdtype(block.dtype, np.floating):
            raise TypeError(f"{self.path}: expected floating-point samples, got {block.dtype}")
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise AudioError(self.path, f"expected blocks of shape ({self.channels}, n), got "
                                        f"{block.shape}")
        if block.shape[1] == 0:
            return
        block = np.asarray(block, dtype=np.float32)
        if not np.all(np.isfinite(block)):
            raise AudioError(self.path, "contains NaN or infinite samples")
        peak = float(np.max(np.abs(block)))
        self.peak = max(self.peak, peak)
        if self._subtype != "FLOAT" and peak > 1.0:
            if self._clip == "error":
                raise AudioError(self.path, f"peak {peak:.3f} exceeds full scale for "
                                            f"{self._subtype}")
            if self._clip == "clip":
                block = np.clip(block, -1.0, 1.0)
        self._fh.write(block.T)
        self.frames += block.shape[1]

    def discard(self) -> None:
        """Drop the file: nothing is written under :attr:`path` (the temporary file goes)."""
        self.discarded = True


class _Discarded(Exception):
    pass


@contextmanager
def open_audio_writer(
    path: str | os.PathLike,
    sample_rate: int,
    channels: int,
    *,
    subtype: Literal["FLOAT", "PCM_16", "PCM_24"] = "FLOAT",
    clip: Literal["error", "clip", "none"] = "none",
) -> Iterator[AudioWriter]:
    """:func:`write_audio` for a signal that is written in blocks, in bounded memory.

    The blocks written in order give the same file, byte for byte, as :func:`write_audio`
    of the whole signal with the same ``subtype`` and ``clip`` (WAV, or FLAC for a
    ``.flac`` path; float WAVs get the same zeroed ``PEAK`` timestamp). The file appears
    under ``path`` only when the block ends without an exception and without
    :meth:`AudioWriter.discard` (atomic, as :func:`write_audio`).
    """
    import soundfile as sf

    fmt = "FLAC" if Path(path).suffix.lower() == ".flac" else "WAV"
    if fmt == "FLAC" and subtype == "FLOAT":
        raise ValueError(f"{path}: FLAC holds integer samples; subtype must be PCM_16 or "
                         "PCM_24, not FLOAT")
    if not 1 <= int(channels) <= 8:
        raise AudioError(path, f"cannot write {channels} channels")
    try:
        with atomic_path(path) as tmp:
            handle = sf.SoundFile(str(tmp), "w", int(sample_rate), int(channels),
                                  subtype=subtype, format=fmt)
            writer = AudioWriter(Path(path), handle, int(channels), subtype, clip)
            try:
                yield writer
            finally:
                handle.close()
            if writer.discarded:
                raise _Discarded
            if fmt == "WAV":
                _zero_peak_timestamp(tmp)
    except _Discarded:
        pass


class StreamResampler:
    """:func:`resample` of a signal that arrives in blocks, in bounded memory.

    :meth:`push` each block of a ``(channels, n)`` signal in order, then :meth:`flush`:
    the returned blocks, concatenated, are :func:`resample` of the whole signal (the same
    polyphase filter, scipy ``resample_poly``'s default, applied to overlapping windows:
    each output sample sees exactly the input samples it sees in the whole-signal call, so
    the samples agree to float32 rounding). Memory: about ``window_frames`` input frames
    and their output, whatever the signal's length.

    The output blocks' sizes depend only on the sizes pushed, so two signals pushed in the
    same blocks come out in blocks of the same sizes (they can be summed block by block).
    """

    def __init__(self, orig_sample_rate: int, target_sample_rate: int, channels: int, *,
                 window_frames: int = 1 << 18):
        if orig_sample_rate <= 0 or target_sample_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {orig_sample_rate} -> "
                             f"{target_sample_rate}")
        ratio = Fraction(int(target_sample_rate), int(orig_sample_rate))
        self.orig_sample_rate, self.target_sample_rate = int(orig_sample_rate), int(
            target_sample_rate)
        self.channels = int(channels)
        self.up, self.down = ratio.numerator, ratio.denominator
        # resample_poly's filter reaches 10 * max(up, down) samples of the upsampled signal
        # either side of an output sample, i.e. that / up input samples; the context kept
        # either side of a window is twice that plus two samples, rounded up to a multiple
        # of ``down`` so a window starts on an input sample that falls on an output sample.
        reach = 2 * 10 * max(self.up, self.down) + 2 * self.up
        self.margin = self.down * -(-reach // (self.up * self.down))
        self.window_frames = max(int(window_frames), 4 * self.margin)
        self._parts: list[NDArray[np.float32]] = []
        self._buffered = 0  # input frames in _parts, the first at input index _start
        self._start = 0
        self._received = 0
        self._done = 0  # output samples returned
        self._flushed = False

    def _empty(self) -> NDArray[np.float32]:
        return np.zeros((self.channels, 0), dtype=np.float32)

    def push(self, block: NDArray) -> NDArray[np.float32]:
        """Feed the next ``(channels, n)`` input block; the output samples now complete
        (possibly none)."""
        if self._flushed:
            raise ValueError("StreamResampler: push after flush")
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"expected blocks of shape ({self.channels}, n), got {block.shape}")
        if self.up == self.down:
            self._received += block.shape[1]
            self._done += block.shape[1]
            return block
        if block.shape[1]:
            self._parts.append(block)
            self._buffered += block.shape[1]
            self._received += block.shape[1]
        if self._buffered < self.window_frames:
            return self._empty()
        return self._emit(final=False)

    def flush(self) -> NDArray[np.float32]:
        """The rest of the output (the signal has ended)."""
        if self._flushed:
            raise ValueError("StreamResampler: flush twice")
        self._flushed = True
        if self.up == self.down or self._received == 0:
            return self._empty()
        return self._emit(final=True)

    @property
    def output_frames(self) -> int:
        """Output samples returned so far (after :meth:`flush`: the resampled length)."""
        return self._done

    def _emit(self, final: bool) -> NDArray[np.float32]:
        up, down = self.up, self.down
        window = self._parts[0] if len(self._parts) == 1 else np.concatenate(self._parts, axis=1)
        base = self._start // down * up  # the output index of the window's first sample
        if final:
            end = -(-self._received * up // down)
        else:
            end = max(self._done, (self._received - self.margin) * up // down)
        if end > self._done:
            y = resample(window, orig_sample_rate=self.orig_sample_rate,
                         target_sample_rate=self.target_sample_rate)
            out = np.ascontiguousarray(y[:, self._done - base:end - base])
        else:
            out = self._empty()
        self._done = end
        # keep the input that outputs from ``end`` on need: from a multiple of ``down``
        # at least ``margin`` before the input time of output ``end``
        keep = max(self._start, (end * down // up - self.margin) // down * down)
        rest = window[:, keep - self._start:]
        self._parts = [np.ascontiguousarray(rest)] if rest.shape[1] else []
        self._buffered = rest.shape[1]
        self._start = keep
        return out
