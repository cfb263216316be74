"""One call for every backend: ``separate(mixture, sample_rate, settings)``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import resample, validate_audio
from vocalmix.layout import SEPARATOR_MODEL
from vocalmix.separation import external
from vocalmix.separation.classical import repet_sim
from vocalmix.separation.external import SeparationError
from vocalmix.separation.settings import BACKENDS, METHODS, SeparationSettings

log = logging.getLogger(__name__)

__all__ = ["BACKENDS", "METHODS", "SeparationError", "separate", "check_backend",
           "DEFAULT_MODEL"]

#: where rule ``train_separator`` writes the builtin network
DEFAULT_MODEL = SEPARATOR_MODEL
EXTERNAL_RATE = 44100


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
