"""Insert effects on pedalboard: vocal high-pass, parametric EQ and compressor.

These are the building blocks of the shared effect chain (:mod:`vocalmix.dsp.chain`)
and of the demo corpus's "professional" vocal chain, so both process audio identically.

Filter conventions (pedalboard 0.9): ``PeakFilter``/``LowShelfFilter``/``HighShelfFilter``
are RBJ-style biquads; ``HighpassFilter`` is first order, so the vocal high-pass here
cascades two of them: 12 dB/octave, -6 dB at ``cutoff_hz``.

The filters, the compressor and pedalboard's limiter treat each channel on its own (one
state per channel, no linked detection), so a long stereo signal is processed one channel
per thread, each through its own plugins (:func:`process_by_channel`): the same samples as
the stereo call, bit for bit (``tests/unit/test_effects.py``); pedalboard releases the GIL
while it processes (three EQ bands on the 3-minute stereo benchmark backing, 2-core machine,
quiet: 0.11-0.14 s instead of 0.20-0.23 s).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EQBand",
    "CompressorSettings",
    "eq_plugins",
    "apply_eq",
    "apply_highpass",
    "apply_compressor",
    "eq_response_db",
    "process_by_channel",
]

EQType = Literal["peak", "low_shelf", "high_shelf"]


@dataclass(frozen=True)
class EQBand:
    """One parametric EQ band.

    Attributes
    ----------
    type : {"peak", "low_shelf", "high_shelf"}
    frequency_hz : float
        Centre (peak) or corner (shelves) frequency, 20 Hz to 20 kHz.
    gain_db : float
        Boost (+) or cut (-), -24 to +24 dB.
    q : float
        Quality factor, 0.1 to 18 (0.707 for a Butterworth-like shelf).
    """

    type: EQType
    frequency_hz: float
    gain_db: float
    q: float = 0.707

    def __post_init__(self):
        if self.type not in ("peak", "low_shelf", "high_shelf"):
            raise ValueError(f"EQ band type must be peak, low_shelf or high_shelf, got {self.type!r}")
        if not 10.0 <= self.frequency_hz <= 24000.0:
            raise ValueError(f"EQ band frequency_hz must be in [10, 24000], got {self.frequency_hz}")
        if not -36.0 <= self.gain_db <= 36.0:
            raise ValueError(f"EQ band gain_db must be in [-36, 36], got {self.gain_db}")
        if not 0.05 <= self.q <= 30.0:
            raise ValueError(f"EQ band q must be in [0.05, 30], got {self.q}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EQBand":
        return cls(type=d["type"], frequency_hz=float(d["frequency_hz"]),
                   gain_db=float(d["gain_db"]), q=float(d.get("q", 0.707)))


@dataclass(frozen=True)
class CompressorSettings:
    """Feed-forward compressor (pedalboard ``Compressor``).

    threshold_db : -80 to 0 dBFS; ratio : 1 to 50; attack_ms : 0.1 to 500;
    release_ms : 1 to 5000.
    """

    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float

    def __post_init__(self):
        if not -100.0 <= self.threshold_db <= 0.0:
            raise ValueError(f"compressor threshold_db must be in [-100, 0], got {self.threshold_db}")
        if not 1.0 <= self.ratio <= 50.0:
            raise ValueError(f"compressor ratio must be in [1, 50], got {self.ratio}")
        if not 0.01 <= self.attack_ms <= 1000.0:
            raise ValueError(f"compressor attack_ms must be in [0.01, 1000], got {self.attack_ms}")
        if not 1.0 <= self.release_ms <= 5000.0:
            raise ValueError(f"compressor release_ms must be in [1, 5000], got {self.release_ms}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CompressorSettings":
        return cls(**{k: float(d[k]) for k in ("threshold_db", "ratio", "attack_ms", "release_ms")})


def eq_plugins(bands: Iterable[EQBand]) -> list:
    """pedalboard filter plugins for ``bands`` (in order)."""
    import pedalboard as pb

    plugins = []
    for b in bands:
        if b.type == "peak":
            plugins.append(pb.PeakFilter(cutoff_frequency_hz=b.frequency_hz, gain_db=b.gain_db, q=b.q))
        elif b.type == "low_shelf":
            plugins.append(
                pb.LowShelfFilter(cutoff_frequency_hz=b.frequency_hz, gain_db=b.gain_db, q=b.q))
        else:
            plugins.append(
                pb.HighShelfFilter(cutoff_frequency_hz=b.frequency_hz, gain_db=b.gain_db, q=b.q))
    return plugins


def _process(plugins: list, audio: NDArray, sample_rate: int) -> NDArray[np.float32]:
    import pedalboard as pb

    if not plugins:
        return np.asarray(audio, dtype=np.float32)
    board = pb.Pedalboard(plugins)
    return board(np.ascontiguousarray(audio, dtype=np.float32), float(sample_rate), reset=True)


#: Samples from which :func:`process_by_channel` processes the channels of a multichannel
#: signal in threads (about 3 s at 44.1 kHz; below it a thread's start costs more than it
#: saves).
PARALLEL_FILTER_SAMPLES = 1 << 17


def process_by_channel(make_plugins, audio: NDArray, sample_rate: int) -> NDArray[np.float32]:
    """``audio`` through the pedalboard plugins ``make_plugins()`` returns, for plugins that
    process each channel on its own (filters, ``Compressor``, ``Limiter``: no cross-channel
    state): a long multichannel signal is processed one channel per thread, each through
    plugins of its own (a plugin's state is per object). The samples of one call on the
    whole signal."""
    plugins = make_plugins()
    x = np.atleast_2d(audio) if np.ndim(audio) == 1 else audio
    if not plugins or np.ndim(x) != 2 or x.shape[0] < 2 or x.shape[1] < PARALLEL_FILTER_SAMPLES:
        return _process(plugins, audio, sample_rate)
    from concurrent.futures import ThreadPoolExecutor

    out = np.empty(x.shape, dtype=np.float32)

    def one(c: int) -> None:
        out[c] = _process(plugins if c == 0 else make_plugins(), x[c: c + 1], sample_rate)[0]

    with ThreadPoolExecutor(min(x.shape[0], 2)) as pool:
        list(pool.map(one, range(x.shape[0])))
    return out


def apply_eq(audio: NDArray, sample_rate: int, bands: Iterable[EQBand]) -> NDArray[np.float32]:
    """Apply parametric EQ bands to ``(channels, samples)`` audio."""
    bands = list(bands)
    return process_by_channel(lambda: eq_plugins(bands), audio, sample_rate)


def apply_highpass(audio: NDArray, sample_rate: int, cutoff_hz: float | None) -> NDArray[np.float32]:
    """12 dB/octave high-pass (two cascaded first-order sections), -6 dB at ``cutoff_hz``."""
    import pedalboard as pb

    if cutoff_hz is None or cutoff_hz <= 0:
        return np.asarray(audio, dtype=np.float32)
    return process_by_channel(lambda: [pb.HighpassFilter(cutoff_hz), pb.HighpassFilter(cutoff_hz)],
                            audio, sample_rate)


def apply_compressor(audio: NDArray, sample_rate: int,
                     settings: CompressorSettings | None) -> NDArray[np.float32]:
    """Compress ``(channels, samples)`` audio; ``None`` passes the signal through."""
    import pedalboard as pb

    if settings is None:
        return np.asarray(audio, dtype=np.float32)
    return process_by_channel(
        lambda: [pb.Compressor(threshold_db=settings.threshold_db, ratio=settings.ratio,
                               attack_ms=settings.attack_ms, release_ms=settings.release_ms)],
        audio, sample_rate)


def eq_response_db(bands: Iterable[EQBand], frequencies_hz: NDArray, sample_rate: int,
                   highpass_hz: float | None = None, n_fft: int = 1 << 16) -> NDArray:
    """Magnitude response (dB) of the EQ (and optional high-pass) at ``frequencies_hz``,
    measured by passing an impulse through the same pedalboard plugins."""
    impulse = np.zeros((1, n_fft), dtype=np.float32)
    impulse[0, 0] = 1.0
    y = apply_highpass(impulse, sample_rate, highpass_hz)
    y = apply_eq(y, sample_rate, list(bands))
    spec = np.abs(np.fft.rfft(y[0].astype(np.float64)))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    return 20.0 * np.log10(np.maximum(np.interp(frequencies_hz, freqs, spec), 1e-12))
