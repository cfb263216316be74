"""Rules ``corrupt`` and ``corrupt_extra``: corrupted versions of one track's processed vocal.

``corrupt`` does the expensive part once per track: WPE dereverberation (kept, as a 24-bit
FLAC: ``dereverberated.flac``), every version's parameters (``v<k>.json``) and the audio
of the versions that are read again later (``v<k>.flac``, 24-bit, for version 0, which the held-out
comparison uses, and ``render.corruption_version``, the systems' input in the renders).
``corrupt_extra`` makes the other versions' audio from the stored dereverberated vocal;
only the dataset reads them, once, so they are temporary (issue 19, disk) and remaking them
costs an EQ and an expander, not WPE.

Every version is made from the dereverberated vocal *as stored* (24-bit, -144 dBFS steps),
read back from ``dereverberated.flac`` by both rules, so a version made by either rule, now or
in a later run, has the same bytes.

Memory does not grow with the song (issue 19): the vocal is read, dereverberated
(:func:`~vocalmix.dsp.corruption.dereverberated_pieces`) and written a block at a time, and
each version is made from the stored file in passes over its blocks
(:func:`~vocalmix.dsp.corruption.corrupt_blocks`) and written block by block.
"""

from __future__ import annotations

import io
import logging
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
from numpy.typing import NDArray

from vocalmix import seeding
from vocalmix.audio import AudioError, AudioStream, open_audio, open_audio_writer, stream_blocks
from vocalmix.dsp import corruption
from vocalmix.dsp.corruption import CorruptionSettings, dereverberated_pieces, note_loss_db
from vocalmix.files import read_json, write_json

log = logging.getLogger(__name__)

__all__ = ["corrupt", "corrupt_extra", "as_stored"]


def _reader(stream: AudioStream) -> Callable[[int], NDArray]:
    """:data:`~vocalmix.dsp.corruption.Reader` of an opened file: exactly ``k`` samples."""
    def read(k: int) -> NDArray:
        block = stream.read(k)
        if block.shape[1] != k:
            raise AudioError(stream.path, f"ended after fewer than the {stream.frames} "
                                          "samples its header declares")
        return block
    return read


def _source(path: str | Path) -> Callable[[], Iterator[NDArray]]:
    """Passes over the blocks of an audio file (a new read of the file each call)."""
    def blocks() -> Iterator[NDArray]:
        for block, _ in stream_blocks(path, corruption.CORRUPT_BLOCK):
            yield block
    return blocks


class FullScaleError(AudioError):
    """Samples beyond full scale where 24-bit PCM must hold them; ``peak`` is their peak."""

    def __init__(self, name: str, peak: float):
        self.peak = peak
        super().__init__(None, f"{name}: peak {peak:.3f} exceeds full scale; it cannot be "
                               "stored as 24-bit PCM")


#: attempts at storing the dereverberated vocal, each with the gain the last one's peak asks
DEREVERB_ATTEMPTS = 3
#: the peak (dBFS) the dereverberated vocal is scaled to when it overshot full scale
DEREVERB_PEAK_DBFS = -1.0


def as_stored(audio: NDArray, sample_rate: int, *, name: str = "dereverberated vocal"
              ) -> NDArray[np.float32]:
    """``audio`` as a 24-bit FLAC holds it: the samples every version is made from.

    An in-memory round trip through the same encoder as the file (sample by sample, so a
    block at a time gives the same values), so the values equal what :func:`read_audio` gives
    for ``dereverberated.flac`` -- and for a 24-bit WAV written from them (libsndfile rounds
    floats to 24 bits differently for WAV; values that came through FLAC are kept exactly).
    Samples beyond full scale cannot be stored in 24 bits: an error naming ``name``, never
    clipped silently.
    """
    import soundfile as sf

    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1.0:
        raise FullScaleError(name, peak)
    buf = io.BytesIO()
    sf.write(buf, np.asarray(audio, dtype=np.float32).T, int(sample_rate), subtype="PCM_24",
             format="FLAC")
    buf.seek(0)
    data, _ = sf.read(buf, dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


def _store_dereverberated(vocal: str, path: str | Path, dereverb: bool, name: str,
                          gain: float = 1.0) -> int:
    """Dereverberate (WPE) or just take the mid of ``vocal`` into the 24-bit file ``path``
    (as :func:`as_stored`), a block at a time, times ``gain``; the sample rate."""
    with open_audio(vocal) as stream, \
            open_audio_writer(path, stream.sample_rate, 1, subtype="PCM_24",
                              clip="error") as out:
        n, read = stream.frames, _reader(stream)
        if dereverb:
            pieces = dereverberated_pieces(read, n, stream.sample_rate)
        else:
            step = corruption.CORRUPT_BLOCK
            pieces = (read(min(step, n - i)).mean(axis=0, keepdims=True).astype(np.float32)
                      for i in range(0, n, step))
        for piece in pieces:
            if gain != 1.0:
                piece = piece * np.float32(gain)
            out.write(as_stored(piece, stream.sample_rate, name=name))
        return stream.sample_rate


def store_dereverberated(vocal: str, path: str | Path, dereverb: bool, name: str
                         ) -> tuple[int, float]:
    """:func:`_store_dereverberated`, scaled down where the result overshoots full scale.

    WPE can raise a loud separated or mastered vocal's peaks above 0 dBFS (measured: 1.10 on
    a separated Jamendo song). The versions are loudness-normalised from it, so a constant
    gain on it changes nothing downstream; the attempt that overshot gives the gain that
    puts the peak at :data:`DEREVERB_PEAK_DBFS` (the peak found so far: up to
    :data:`DEREVERB_ATTEMPTS` passes). Returns the sample rate and the gain (dB; 0 where none
    was needed). Raises :class:`FullScaleError` when every attempt overshoots.
    """
    gain = 1.0
    for _ in range(DEREVERB_ATTEMPTS - 1):
        try:
            rate = _store_dereverberated(vocal, path, dereverb, name, gain)
        except FullScaleError as exc:
            gain *= 10 ** (DEREVERB_PEAK_DBFS / 20) / exc.peak
            log.warning("%s; scaled by %.2f dB and made again", exc, 20 * np.log10(gain))
            continue
        return rate, float(20 * np.log10(gain))
    return _store_dereverberated(vocal, path, dereverb, name, gain), float(20 * np.log10(gain))


def _dry_note_report(dry_vocal: str, truth: str) -> dict:
    """:func:`~vocalmix.dsp.corruption.note_loss_db` of the dry vocal, read twice in step."""
    notes = read_json(truth)["notes"]
    with open_audio(dry_vocal) as a, open_audio(dry_vocal) as b:
        return note_loss_db(_reader(a), _reader(b), a.frames, a.sample_rate, notes)


def _version(derev: str | Path, sample_rate: int, track: str, seed: int, k: int,
             audio_path: str | None) -> tuple[int, dict]:
    """(seed, parameters) of version ``k``, its audio written to ``audio_path`` if given."""
    s = seeding.derive_seed(seed, "corrupt", track, k)
    rng = np.random.default_rng(s)
    if audio_path is None:
        return s, corruption.corrupt_blocks(_source(derev), sample_rate, rng)
    # a kept version is 24-bit FLAC (issue 19, disk: a third of the float WAV; its gain
    # stops at a -1 dBFS peak, so it fits, and one that did not would be refused naming its
    # file); a .wav path keeps the float WAV of before
    subtype = "PCM_24" if Path(audio_path).suffix.lower() == ".flac" else "FLOAT"
    with open_audio_writer(audio_path, sample_rate, 1, subtype=subtype, clip="error") as out:
        return s, corruption.corrupt_blocks(_source(derev), sample_rate, rng, out.write)


def corrupt(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
            params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``corrupt``: the dereverberated vocal, the parameters of every version (one per
    ``outputs['params']``) and the audio of ``params['audio_versions']`` (default: every
    version), one per ``outputs['audio']``."""
    track = params["track"]
    settings = CorruptionSettings.from_mapping(params["corruption"])
    json_paths = list(outputs["params"])
    audio_versions = list(params.get("audio_versions", range(len(outputs["audio"]))))
    audio_paths = dict(zip(audio_versions, outputs["audio"]))
    with ExitStack() as stack:
        derev = outputs.get("dereverberated")
        if not derev:  # not kept: the versions are made from a temporary copy
            folder = Path(json_paths[0]).parent
            folder.mkdir(parents=True, exist_ok=True)
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix=".corrupt.",
                                                                  dir=folder))
            derev = Path(tmp) / "dereverberated.flac"
        sr, headroom_db = store_dereverberated(inputs["vocal"], derev, settings.dereverb,
                                               f"{track}: dereverberated vocal")
        report = {}
        if (settings.dereverb and settings.note_check and inputs.get("dry_vocal")
                and inputs.get("truth")):
            report = _dry_note_report(inputs["dry_vocal"], inputs["truth"])
        for k, path in enumerate(json_paths):
            seed, p = _version(derev, sr, track, params["seed"], k, audio_paths.get(k))
            write_json(path, {"track_id": track, "version": k, "seed": seed, **p,
                              **({"wpe_on_dry_notes": report} if report else {}),
                              **({"dereverberated_gain_db": headroom_db} if headroom_db else {})})
            log.info("%s v%d: %d EQ band(s), expander %.1f dB / %.1f:1%s", track, k,
                     len(p["eq"]), p["expander"]["threshold_db"], p["expander"]["ratio"],
                     "" if k in audio_paths else " (audio: rule corrupt_extra)")


def corrupt_extra(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                  params: Mapping[str, Any], threads: int = 1) -> None:
    """Rule ``corrupt_extra``: the audio of versions ``params['versions']`` (one per
    ``outputs['audio']``) from the stored ``inputs['dereverberated']``."""
    derev = inputs["dereverberated"]
    with open_audio(derev) as stream:
        sr = stream.sample_rate
        if stream.channels != 1:
            raise AudioError(derev, f"{stream.channels} channels; the dereverberated vocal "
                                    "is mono")
    track = params["track"]
    for k, path in zip(params["versions"], outputs["audio"]):
        _version(derev, sr, track, params["seed"], k, path)
        log.info("%s v%d: audio remade from the stored dereverberated vocal", track, k)
