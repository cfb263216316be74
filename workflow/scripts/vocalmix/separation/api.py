"""One call for every backend: ``separate(mixture, sample_rate, settings)``, and
``separate_file(mix, vocal, backing, sample_rate, settings)`` from a file to files (streamed
in bounded memory where the backend allows it)."""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import (AudioError, AudioStream, audio_info, open_audio, open_audio_writer,
                            read_audio, resample, validate_audio, write_audio)
from vocalmix.layout import SEPARATOR_MODEL
from vocalmix.separation import external
from vocalmix.separation.classical import repet_sim
from vocalmix.separation.external import SeparationError
from vocalmix.separation.settings import BACKENDS, METHODS, SeparationSettings
from vocalmix.separation.stage import Description, describe

log = logging.getLogger(__name__)

__all__ = ["BACKENDS", "METHODS", "SeparationError", "UnreadableMixture", "separate",
           "separate_file", "check_backend", "DEFAULT_MODEL"]

#: where rule ``train_separator`` writes the builtin network
DEFAULT_MODEL = SEPARATOR_MODEL
EXTERNAL_RATE = 44100
#: frames per block a streamed separation reads from the mixture file
READ_BLOCK = 1 << 16


class UnreadableMixture(AudioError):
    """The mixture file of :func:`separate_file` cannot be read as a mono or stereo song
    (missing, damaged, truncated, empty, NaN/inf samples, more than two channels); no
    output was written. The message names the file."""


def _known(backend: str) -> None:
    if backend not in BACKENDS:
        raise SeparationError(f"unknown separation backend {backend!r}; use one of "
                              f"{', '.join(BACKENDS)}")


def check_backend(settings: SeparationSettings) -> None:
    """Refuse early (before any audio is read) when the backend's weights are missing."""

    backend = settings.backend
    _known(backend)
    if backend == "pretrained":
        from vocalmix.separation.spleeter_weights import WeightsError, check_weights, find_weights

        try:
            check_weights(find_weights(settings.pretrained.weights))
        except WeightsError as exc:
            raise SeparationError(str(exc)) from None
    elif backend == "spleeter":
        model_dir = external.spleeter_model_dir(settings.spleeter.model_path,
                                                settings.spleeter.model)
        external.check_spleeter_checkpoint(model_dir)
    elif backend == "demucs":
        external.check_demucs_repo(settings.demucs.repo, settings.demucs.name)


def separate(mixture: NDArray, sample_rate: int, settings: SeparationSettings, *, model=None,
             threads: int = 1) -> tuple[NDArray, NDArray, dict]:
    """Split a ``(channels, samples)`` mixture into (vocal, backing) at ``sample_rate``.

    Parameters
    ----------
    settings : SeparationSettings
        ``backend`` (pretrained, builtin, spleeter or demucs) and its settings (pretrained:
        ``weights``, the converted ``.npz``, empty for the installed one; builtin:
        ``method``; spleeter: ``model_path``, ``model``, ``python``; demucs: ``repo``,
        ``name``, ``python``, ``shifts``, ``overlap``).
    model : BuiltinSeparator or path, optional
        The trained network for ``builtin`` with ``method: network``.

    Returns
    -------
    vocal, backing : float32 arrays shaped like ``mixture``
    info : dict
        What ran (backend, method or model, the rate it ran at).

    Raises
    ------
    SeparationError
        Missing weights or environment, unsupported layout.
    """
    backend = settings.backend
    _known(backend)
    mixture = validate_audio(mixture, name="mixture")
    if mixture.shape[0] > 2:
        raise SeparationError(f"{mixture.shape[0]}-channel mixture; only mono or stereo")
    if backend == "pretrained":
        from vocalmix.separation.spleeter_net import SAMPLE_RATE, load_separator
        from vocalmix.separation.spleeter_weights import WeightsError

        try:
            sep = load_separator(settings.pretrained.weights)
        except WeightsError as exc:
            raise SeparationError(str(exc)) from None
        rate = SAMPLE_RATE
        x = _resample(mixture, sample_rate, rate)
        vocal, backing = sep.separate(x, rate, threads=threads)
        info = {"backend": backend, "model": "spleeter:2stems", "weights": sep.source,
                "sample_rate": rate}
    elif backend == "builtin":
        method = settings.builtin.method
        if method == "repet_sim":
            vocal, backing = repet_sim(mixture, sample_rate)
            return vocal, backing, {"backend": backend, "method": method,
                                    "sample_rate": sample_rate}
        if method != "network":
            raise SeparationError(f"unknown builtin method {method!r}; use one of "
                                  f"{', '.join(METHODS)}")
        from vocalmix.separation.builtin import BuiltinSeparator, load_model

        sep = model if isinstance(model, BuiltinSeparator) else load_model(model or DEFAULT_MODEL)
        rate = sep.sample_rate
        x = _resample(mixture, sample_rate, rate)
        vocal, backing = sep.separate(x, rate, threads=threads)
        info = {"backend": backend, "method": method, "sample_rate": rate,
                "model": str(model) if isinstance(model, (str, Path)) else None,
                "trained_on": len(sep.ckpt.get("train_tracks", [])),
                "best_step": sep.ckpt.get("best_step")}
    else:
        x = _resample(mixture, sample_rate, EXTERNAL_RATE)
        rate = EXTERNAL_RATE
        if backend == "spleeter":
            vocal, backing = external.run_spleeter(x, EXTERNAL_RATE, settings.spleeter)
            info = {"backend": backend, "sample_rate": rate, "model": settings.spleeter.model}
        else:
            vocal, backing = external.run_demucs(x, EXTERNAL_RATE, settings.demucs)
            info = {"backend": backend, "sample_rate": rate, "model": settings.demucs.name}
    if rate != sample_rate:
        vocal = _resample(vocal, rate, sample_rate)
        backing = _resample(backing, rate, sample_rate)
    n = mixture.shape[1]
    return _fit(vocal, n), _fit(backing, n), info


def _resample(x: NDArray, rate: int, target: int) -> NDArray:
    return x if rate == target else resample(x, orig_sample_rate=rate, target_sample_rate=target)


def _fit(x: NDArray, n: int) -> NDArray:
    x = np.asarray(x, dtype=np.float32)
    if x.shape[1] < n:
        x = np.pad(x, ((0, 0), (0, n - x.shape[1])))
    return np.ascontiguousarray(x[:, :n])


def separate_file(mix_path: str | os.PathLike, vocal_path: str | os.PathLike,
                  backing_path: str | os.PathLike, sample_rate: int,
                  settings: SeparationSettings, *, model=None, threads: int = 1,
                  progress: Callable[[int, int | None], None] | None = None) -> dict:
    """Separate the song in ``mix_path`` into float WAVs at ``sample_rate`` (written atomically,
    as :func:`~vocalmix.audio.write_audio` writes them) and describe the result.

    The ``pretrained`` backend, with the file at ``sample_rate`` and that at the network's
    44.1 kHz, is streamed: the file is read in blocks, separated segment by segment
    (:meth:`~vocalmix.separation.spleeter_net.PretrainedSeparator.separate_stream`), the
    stems written and measured (:class:`~vocalmix.separation.stage.Description`) block by
    block, in memory that does not grow with the song. Its files are the same, byte for
    byte, as those of the whole-array path, which every other case takes: the file read
    whole (resampled to ``sample_rate``), :func:`separate`, written whole,
    :func:`~vocalmix.separation.stage.describe`. ``run["streamed"]`` says which ran.

    Parameters
    ----------
    settings, model, threads
        As for :func:`separate`.
    progress : callable, optional
        The streamed path's (segments done, segments in all).

    Returns
    -------
    dict
        ``run``: what ran (:func:`separate`'s info, and ``streamed``); ``facts``: the
        reference-free figures of :func:`~vocalmix.separation.stage.describe`;
        ``channels``, ``frames`` (at ``sample_rate``) and ``source_sample_rate`` of the song.

    Raises
    ------
    UnreadableMixture
        The song cannot be read or has more than two channels (nothing is written).
    SeparationError
        As :func:`separate` (missing weights or environment).
    """
    backend = settings.backend
    _known(backend)
    try:
        head = audio_info(mix_path)
    except AudioError as exc:
        raise UnreadableMixture(exc.path, exc.problem) from None
    sr = head["sample_rate"]
    if backend == "pretrained" and head["channels"] <= 2:
        from vocalmix.separation.spleeter_net import SAMPLE_RATE

        if sr == sample_rate == SAMPLE_RATE:
            return _separate_streamed(mix_path, vocal_path, backing_path, settings,
                                      threads=threads, progress=progress)
    try:
        mixture, _ = read_audio(mix_path, sample_rate=sample_rate)
    except AudioError as exc:
        raise UnreadableMixture(exc.path, exc.problem) from None
    if mixture.shape[0] > 2:
        raise UnreadableMixture(mix_path, f"{mixture.shape[0]} channels; only mono or stereo "
                                          "songs can be separated")
    vocal, backing, info = separate(mixture, sample_rate, settings, model=model,
                                    threads=threads)
    write_audio(vocal_path, vocal, sample_rate)
    write_audio(backing_path, backing, sample_rate)
    return {"run": {**info, "streamed": False},
            "facts": describe(mixture, vocal, backing, sample_rate),
            "channels": int(mixture.shape[0]), "frames": int(mixture.shape[1]),
            "source_sample_rate": sr}


def _separate_streamed(mix_path: str | os.PathLike, vocal_path: str | os.PathLike,
                       backing_path: str | os.PathLike, settings: SeparationSettings, *,
                       threads: int, progress: Callable[[int, int | None], None] | None
                       ) -> dict:
    """:func:`separate_file` of the pretrained backend for a 44.1 kHz mono or stereo file."""
    from vocalmix.separation.spleeter_net import load_separator
    from vocalmix.separation.spleeter_weights import WeightsError

    with ExitStack() as stack:
        try:
            stream = stack.enter_context(open_audio(mix_path))
        except AudioError as exc:  # only the song's own problems are "unreadable"
            raise UnreadableMixture(exc.path, exc.problem) from None
        try:
            sep = load_separator(settings.pretrained.weights)
        except WeightsError as exc:
            raise SeparationError(str(exc)) from None
        rate, channels, read = stream.sample_rate, stream.channels, [0]
        description = stack.enter_context(Description(rate, channels))
        with open_audio_writer(vocal_path, rate, channels) as vocal_out, \
                open_audio_writer(backing_path, rate, channels) as backing_out:
            for vocal, backing in sep.separate_stream(
                    _mixture_blocks(stream, mix_path, description, read), rate,
                    frames=stream.frames, threads=threads, progress=progress):
                vocal_out.write(vocal)
                backing_out.write(backing)
                description.add_stems(vocal, backing)
        facts = description.facts()
    info = {"backend": "pretrained", "model": "spleeter:2stems", "weights": sep.source,
            "sample_rate": rate, "streamed": True}
    return {"run": info, "facts": facts, "channels": channels, "frames": read[0],
            "source_sample_rate": rate}


def _mixture_blocks(stream: AudioStream, path: str | os.PathLike, description: Description,
                    read: list[int]) -> Iterator[NDArray[np.float32]]:
    """The song's blocks, each measured as the mixture on the way (``read[0]``: frames so
    far). A read error, NaN/inf samples or no samples at all raise
    :class:`UnreadableMixture` with the message :func:`~vocalmix.audio.read_audio` gives
    (the non-finite samples of the whole file counted, as it counts them)."""
    bad = 0
    while True:
        try:
            block = stream.read(READ_BLOCK, check_finite=False)
        except AudioError as exc:
            raise UnreadableMixture(exc.path, exc.problem) from None
        if block.shape[1] == 0:
            break
        read[0] += block.shape[1]
        # min and max reach any NaN or infinity; after the first, only counted
        if bad or not (np.isfinite(block.min()) and np.isfinite(block.max())):
            bad += int(np.count_nonzero(~np.isfinite(block)))
            continue
        description.add_mixture(block)
        yield block
    if bad:
        raise UnreadableMixture(stream.path, f"contains {bad} NaN or infinite samples")
    if read[0] == 0:
        raise UnreadableMixture(path, "contains no samples")
