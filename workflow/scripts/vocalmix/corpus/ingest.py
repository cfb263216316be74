"""Ingestion (rule ``ingest``): every configured dataset -> one manifest and standard audio.

For each track found by :func:`vocalmix.corpus.adapters.discover`, the stems are read,
checked, summed (backing), trimmed and resampled once to ``config.sample_rate``; the track
gets a row in ``tracks.tsv``. A track that cannot be used gets a row in ``rejected.tsv``
(track, file, reason) and a warning in the log; the others go on. If no track survives, the
job fails with one message summarising why.

No second copy of a dataset (issue 19, disk): a role whose standard audio *is* its one
source file as it lies on disk (the configured rate, nothing summed, trimmed or split) is
read in place, so its path in the manifest is the dataset's own file. Only audio that
ingestion had to make (a backing summed from stems, a resampled or trimmed stem, a mixture
of vocal + backing, the two halves of a stereo file) is written, losslessly, as
``results/corpus/audio/<track>/<role>.flac`` (24-bit PCM, far below any stage's
resolution; a signal beyond full scale keeps 32-bit float in a ``.wav``). The ``checksums``
column records the SHA-256 of every file a row names, as it was when ingested.

Memory (issue 19): a track is streamed, never held whole. Its files are read in blocks of
:data:`~vocalmix.corpus.adapters.BLOCK_FRAMES` (:func:`~vocalmix.corpus.adapters.open_track`:
stems summed, levels and NaN checked block by block), resampled by a
:class:`~vocalmix.audio.StreamResampler` (the samples of :func:`~vocalmix.audio.resample` of
the whole signal) and written by :func:`~vocalmix.audio.open_audio_writer` (the bytes of
:func:`~vocalmix.audio.write_audio` of the whole signal), so the files and the manifest are
those of a whole-track ingestion. Whether a made role fits 24-bit FLAC (peak <= 1) is known
only at its end: a role of up to :data:`HOLD_FRAMES` frames (a clip) is held and written
then; a longer one streams to FLAC and, if it ends beyond full scale, is written again as
float WAV in a second pass.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from vocalmix.audio import (StreamResampler, audio_info, open_audio_writer, to_channels,
                            write_audio)
from vocalmix.corpus.adapters import TrackSource, open_track
from vocalmix.corpus.tracks import Candidate, TrackRejected
from vocalmix.files import read_json

log = logging.getLogger(__name__)

__all__ = ["ingest_track", "in_place_source", "sha256_file"]

ROLES = ("vocal", "backing", "mixture", "raw_vocal")
#: Frames of a made role held in memory before it streams to its file (about 24 s at
#: 44.1 kHz, 8 MiB in stereo): see :class:`_Output`.
HOLD_FRAMES = 1 << 20


def ingest_track(c: Candidate, audio_dir: str, cfg: dict) -> dict:
    """Standardise one track; return its manifest row. Raises TrackRejected."""
    out = Path(audio_dir) / c.track_id
    try:
        return _ingest(c, out, cfg)
    except BaseException:
        try:  # a rejected track leaves nothing (its writers removed their files)
            out.rmdir()
        except OSError:
            pass
        raise


def _open(c: Candidate, cfg: dict):
    ing = cfg["ingest"]
    return open_track(c, min_duration_s=float(ing["min_duration_s"]),
                      length_tolerance_s=float(ing["length_tolerance_s"]))


def _ingest(c: Candidate, out: Path, cfg: dict) -> dict:
    sample_rate = int(cfg["sample_rate"])
    with _open(c, cfg) as src, ExitStack() as writing:
        if "vocal" not in src.channels and "raw_vocal" not in src.channels:
            raise TrackRejected(c.origin, "no vocal stem")
        notes = list(src.notes)
        if src.sample_rate != sample_rate:
            notes.append(f"resampled {src.sample_rate} -> {sample_rate} Hz")
        plan = _Plan(src, sample_rate)
        if plan.derived_mixture:
            notes.append("no mixture file: mixture = vocal + backing")
        paths = {}
        for role in ROLES:
            if role in plan.channels:
                source = in_place_source(c, role, plan.frames, plan.channels[role], sample_rate)
                if source is not None:
                    paths[role] = source
        made = {role: _Output(out / role, sample_rate, plan.channels[role], writing)
                for role in ROLES if role in plan.channels and role not in paths}
        _stream(src, plan, made)
        src.check_silence(float(cfg["ingest"]["silence_dbfs"]))
        tempo = c.tempo_bpm
        if c.truth:
            try:
                tempo = float(read_json(c.truth)["tempo_bpm"])
            except (OSError, ValueError, KeyError) as exc:
                raise TrackRejected(c.truth, f"unreadable ground-truth JSON ({exc})") from None
        again = []
        for role, output in made.items():
            path = output.finish()
            if path is None:
                again.append(role)
            else:
                paths[role] = str(path)
    if again:  # streamed to FLAC, but beyond full scale: 32-bit float WAV, a second pass
        with _open(c, cfg) as src, ExitStack() as writing:
            writers = {role: writing.enter_context(open_audio_writer(
                out / f"{role}.wav", sample_rate, plan.channels[role], subtype="FLOAT"))
                for role in again}
            _stream(src, _Plan(src, sample_rate), writers)
        paths.update({role: str(out / f"{role}.wav") for role in again})
    paths = {role: paths[role] for role in ROLES if role in paths}
    checksums = " ".join(f"{role}:{sha256_file(path)}" for role, path in paths.items())
    for note in notes:
        log.info("%s: %s", c.track_id, note)
    return {
        "track_id": c.track_id, "dataset": c.dataset, "adapter": c.adapter, "split": c.split,
        "source": c.source, "genre": c.genre or "unknown",
        "genre_source": "metadata" if c.genre else "unknown",
        "tempo_bpm": tempo,
        "duration_s": plan.frames / sample_rate, "sample_rate": sample_rate,
        "vocal_channels": plan.channels[plan.vocal], "backing_channels": plan.channels["backing"],
        "weight": c.weight, **paths, "room_ir": c.room_ir, "truth": c.truth, "origin": c.origin,
        "checksums": checksums, "notes": "; ".join(notes) or None,
    }


class _Plan:
    """A track's standard audio: its roles' channels and frames at the configured rate."""

    def __init__(self, src: TrackSource, sample_rate: int):
        self.sample_rate = sample_rate
        self.channels = dict(src.channels)
        self.vocal = "vocal" if "vocal" in self.channels else "raw_vocal"
        self.derived_mixture = "mixture" not in self.channels
        if self.derived_mixture:
            self.channels["mixture"] = max(self.channels[self.vocal], self.channels["backing"])
        # the length resample gives: ceil(frames * sample_rate / the files' rate)
        self.frames = -(-src.frames * sample_rate // src.sample_rate)


class _Output:
    """A role ingestion makes, as its blocks come: ``<base>.flac`` (24-bit), or ``<base>.wav``
    (32-bit float) when the signal goes beyond full scale, which only its last block can tell.

    Up to :data:`HOLD_FRAMES` frames are held in memory and written at :meth:`finish` in the
    format the peak calls for (one pass: a MIR-1K clip, whose mixture of the two channels is
    often beyond full scale). A longer signal streams to the FLAC file from then on; if its
    peak ends beyond full scale, :meth:`finish` drops that file and returns None (the caller
    writes the float WAV in a second pass).
    """

    def __init__(self, base: Path, sample_rate: int, channels: int, stack: ExitStack):
        self.base, self.sample_rate, self.channels = base, sample_rate, channels
        self._stack = stack
        self._held: list = []
        self._held_frames = 0
        self._writer = None
        self.peak = 0.0

    def write(self, block) -> None:
        if self._writer is not None:
            self._writer.write(block)
            return
        if not block.shape[1]:
            return
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        self._held.append(np.array(block, dtype=np.float32))  # a copy: never a read buffer
        self._held_frames += block.shape[1]
        if self._held_frames > HOLD_FRAMES:
            self._writer = self._stack.enter_context(open_audio_writer(
                self.base.with_name(self.base.name + ".flac"), self.sample_rate,
                self.channels, subtype="PCM_24"))
            for held in self._held:
                self._writer.write(held)
            self._held = []

    def finish(self) -> Path | None:
        """The file written (FLAC: when the enclosing stack closes), or None: write again."""
        if self._writer is not None:
            if self._writer.peak <= 1.0:
                return self._writer.path
            self._writer.discard()
            return None
        full_scale = self.peak <= 1.0
        path = self.base.with_name(self.base.name + (".flac" if full_scale else ".wav"))
        audio = (self._held[0] if len(self._held) == 1
                 else np.concatenate(self._held, axis=1))
        self._held = []
        write_audio(path, audio, self.sample_rate, subtype="PCM_24" if full_scale else "FLOAT")
        return path


def _stream(src: TrackSource, plan: _Plan, outputs: dict) -> None:
    """Read ``src`` once and pass each role of ``outputs`` (role -> an object with
    ``write(block)``) its standard audio, at the plan's rate, block by block."""
    mixture = plan.derived_mixture and "mixture" in outputs
    # the roles read (and resampled): the outputs, and what a derived mixture sums
    needed = [role for role in src.channels
              if role in outputs or (mixture and role in (plan.vocal, "backing"))]
    resamplers = {}
    if src.sample_rate != plan.sample_rate:
        resamplers = {role: StreamResampler(src.sample_rate, plan.sample_rate,
                                            src.channels[role]) for role in needed}
    written = dict.fromkeys(outputs, 0)

    def put(blocks: dict) -> None:
        if mixture:
            ch = plan.channels["mixture"]
            blocks["mixture"] = (to_channels(blocks[plan.vocal], ch)
                                 + to_channels(blocks["backing"], ch))
        for role, output in outputs.items():
            output.write(blocks[role])
            written[role] += blocks[role].shape[1]

    for block in src.blocks():
        if resamplers:
            put({role: resamplers[role].push(block[role]) for role in needed})
        else:
            put({role: block[role] for role in needed})
    if resamplers:
        put({role: resamplers[role].flush() for role in needed})
    for role, frames in written.items():
        if frames != plan.frames:  # an internal error, never a bad input
            raise RuntimeError(f"{role}: {frames} frames made, expected {plan.frames}")


def in_place_source(c: Candidate, role: str, frames: int, channels: int,
                    sample_rate: int) -> str | None:
    """The dataset file that already holds ``role``'s standard audio, or None.

    That is the case when the role comes from one file (not the halves of a stereo file,
    not stems summed) at ``sample_rate`` with exactly ``frames`` frames and ``channels``
    channels (nothing trimmed or resampled): its samples, read as float32, are the role's
    standard audio.
    """
    files = c.files.get(role) or []
    if c.layout == "stereo_lr" or len(files) != 1:
        return None
    info = audio_info(files[0])
    if (info["sample_rate"], info["channels"], info["frames"]) != (sample_rate, channels,
                                                                    frames):
        return None
    return files[0]


def sha256_file(path: str, block_bytes: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(block_bytes), b""):
            digest.update(block)
    return digest.hexdigest()
