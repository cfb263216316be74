"""The project's reverb: one definition used by rendering, every mixing system and the fitter.

A send effect around pedalboard's ``Reverb`` (the Freeverb algorithm, as in JUCE):

    dry ────────────────────────────────────────────────┐
     └─► pre-delay ─► high-pass ─► low-pass ─► Reverb ─► × wet gain ─► + ─► out (stereo)

* ``room_size`` (0 - 0.98): Freeverb's comb feedback, i.e. the decay time (about 0.6 s at 0
  to 7 s at 0.98 at mid frequencies, at ``size`` 1); :func:`expected_t60` gives the relation.
* ``size`` (0.25 - 1): the time scale of the algorithm's delay lines relative to Freeverb's
  tuning (1 = the standard 25-37 ms combs). A smaller size is a smaller room: shorter,
  denser reflections and a proportionally shorter decay (down to about 0.15 s), which plain
  Freeverb cannot reach. Implemented by running the plugin at ``size`` times the true
  sample rate (its delays are set in seconds from the rate it is told).
* ``damping`` (0 - 1): high-frequency damping inside the combs (shorter T60 in the top
  octaves as it rises).
* ``width`` (0 - 1): stereo width of the return (1 = fully decorrelated channels).
* ``wet_db`` (-60 - +24 dB): level of the return relative to the dry signal (mixes use
  about -30 to -6 dB; far-field rooms and plates whose direct sound is weak need more).
* ``predelay_ms`` (0 - 150 ms): time from the direct sound to the onset of the
  reverberation. Freeverb's shortest comb adds 25.3 ms of latency by itself; the chain
  compensates it (offline, the return is advanced by exactly that latency), so the
  parameter is the audible pre-delay and short rooms (0 - 25 ms) are reachable.
* ``highpass_hz`` (20 - 1000 Hz) and ``lowpass_hz`` (1 - 20 kHz): 12 dB/octave filters on
  the send (two cascaded first-order sections each, -6 dB at the corner).

The return is always stereo; a mono input is sent to both channels (a centred source).

Rendering: the plugin runs over the send in blocks, writing its output over the send (no
second song-sized array). The reverberator is linear and time-invariant, so a long send
(at least :data:`SPLIT_MIN_SAMPLES` and four times the ring-out) is rendered as two halves
side by side on two threads: the first half followed by its ring-out (:func:`ring_samples`:
until the slowest comb has lost 100 dB) on one plugin, the second half from rest on
another, the ring-out added where the second half starts. That is the one-pass render up
to the plugin's own float32 rounding noise (its recursion settles 90-116 dB below an
impulse's peak instead of decaying further): in the overlap and after it the two renders
differ by that noise, ``tests/unit/test_reverb_split.py`` bounds it; the first half is the
same samples. On the 2-core machine, quiet: 0.30-0.34 s instead of 0.52-0.75 s for the
3-minute benchmark take's return.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, db_to_gain, to_channels

__all__ = ["ReverbSettings", "RANGES", "render_reverb", "reverb_return", "impulse_response",
           "return_response", "expected_t60", "room_size_for_t60", "latency_samples",
           "ring_samples", "SPLIT_MIN_SAMPLES"]

#: Allowed range and unit of every parameter (also the genetic fit's search box).
RANGES: dict[str, tuple[float, float, str]] = {
    "room_size": (0.0, 0.98, ""),
    "size": (0.25, 1.0, ""),
    "damping": (0.0, 1.0, ""),
    "width": (0.0, 1.0, ""),
    "wet_db": (-60.0, 24.0, "dB"),
    "predelay_ms": (0.0, 150.0, "ms"),
    "highpass_hz": (20.0, 1000.0, "Hz"),
    "lowpass_hz": (1000.0, 20000.0, "Hz"),
}


@dataclass(frozen=True)
class ReverbSettings:
    """Parameters of the project's reverb (see the module docstring for ranges and units)."""

    room_size: float = 0.5
    size: float = 1.0
    damping: float = 0.5
    width: float = 1.0
    wet_db: float = -12.0
    predelay_ms: float = 20.0
    highpass_hz: float = 150.0
    lowpass_hz: float = 12000.0

    def __post_init__(self):
        for name, (lo, hi, unit) in RANGES.items():
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"reverb {name} must be in [{lo}, {hi}] {unit}".rstrip()
                                 + f", got {v!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ReverbSettings":
        unknown = set(d) - set(RANGES)
        if unknown:
            raise ValueError(f"unknown reverb parameter(s): {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(RANGES)}")
        return cls(**{k: float(v) for k, v in d.items()})

    def clipped(self, **changes) -> "ReverbSettings":
        """A copy with ``changes`` applied and every value clipped into its range."""
        d = {**asdict(self), **changes}
        return ReverbSettings(**{k: float(min(max(v, RANGES[k][0]), RANGES[k][1]))
                                 for k, v in d.items()})


def expected_t60(room_size: float, size: float = 1.0) -> float:
    """Approximate mid-band T60 (s) of the Freeverb combs for ``room_size`` and ``size``.

    Comb feedback is ``0.7 + 0.28 * room_size``; over the mean comb delay (about 1361
    samples at 44.1 kHz, i.e. 30.9 ms, times ``size``) each loop loses
    ``-20 log10(feedback)`` dB.
    """
    feedback = 0.7 + 0.28 * room_size
    loop_s = 1361.0 / 44100.0 * size
    return 60.0 / (-20.0 * math.log10(feedback)) * loop_s


def room_size_for_t60(t60_s: float, size: float = 1.0) -> float:
    """The ``room_size`` whose :func:`expected_t60` at ``size`` is ``t60_s``, clipped into its
    range (the inverse of the comb model)."""
    loop_s = 1361.0 / 44100.0 * size
    feedback = 10.0 ** (-3.0 * loop_s / t60_s)
    lo, hi, _ = RANGES["room_size"]
    return float(min(max((feedback - 0.7) / 0.28, lo), hi))


@lru_cache(maxsize=16)
def latency_samples(sample_rate: float) -> int:
    """Samples before Freeverb's first output (its shortest comb), measured once per rate."""
    import pedalboard as pb

    x = np.zeros((2, int(0.1 * sample_rate)), dtype=np.float32)
    x[:, 0] = 1.0
    y = pb.Reverb(room_size=0.5, damping=0.5, wet_level=1.0, dry_level=0.0, width=1.0)(
        x, float(sample_rate))
    nz = np.flatnonzero(np.max(np.abs(y), axis=0) > 0)
    return int(nz[0]) if nz.size else 0


def _send_filters(settings: ReverbSettings, sample_rate: float):
    """Second-order sections of the send: two first-order high-passes and two first-order
    low-passes (12 dB/octave each, -6 dB at the corner), bilinear with pre-warping -- the
    same responses as pedalboard's ``HighpassFilter``/``LowpassFilter`` (within 0.001 dB)
    at a third of the cost."""
    from vocalmix.kernels import first_order_sos

    nyq = 0.5 * sample_rate
    hp = first_order_sos(min(settings.highpass_hz, 0.45 * sample_rate), "high", sample_rate)
    lp = first_order_sos(min(settings.lowpass_hz, 0.999 * nyq), "low", sample_rate)
    return np.vstack([hp, hp, lp, lp])


def reverb_return(audio: NDArray, sample_rate: float, settings: ReverbSettings,
                  tail_s: float = 0.0, *, input_s: float | None = None) -> NDArray[np.float32]:
    """The wet return only (stereo, already at ``wet_db``), ``tail_s`` longer than the input.

    ``input_s`` (optional) says the input is silent after that many seconds; the send
    filters then only run over the input plus their own ring-out (an impulse response
    renders several times faster; the result is the same).
    """
    import pedalboard as pb

    from vocalmix.kernels import sosfilt_inplace

    x = np.atleast_2d(audio)
    if x.shape[0] not in (1, 2):
        raise AudioError(None, f"cannot convert {x.shape[0]} channels to 2")
    n = x.shape[1]
    lat = latency_samples(float(sample_rate) * settings.size)
    delay = int(round(settings.predelay_ms / 1000.0 * sample_rate))
    tail = int(round(tail_s * sample_rate))
    total = n + tail + lat
    # 12 dB/oct filters at >= 20 Hz have rung out (< -200 dB) within 0.3 s of their input
    m = total if input_s is None else min(total, int((input_s + 0.3) * sample_rate))
    # the send filtered in place in float32 (a mono input is a centred source: both rows)
    send = np.zeros((2, total), dtype=np.float32)
    k = min(n, m)
    send[:, :k] = x[:, :k]
    if m == total:
        sosfilt_inplace(_send_filters(settings, sample_rate), send)
    else:
        head = np.ascontiguousarray(send[:, :m])
        sosfilt_inplace(_send_filters(settings, sample_rate), head)
        send[:, :m] = head
    # told a rate of size * the true rate, the plugin's delay lines are size times as long
    wet = _render_in_place(
        lambda: pb.Reverb(room_size=settings.room_size, damping=settings.damping,
                          wet_level=1.0, dry_level=0.0, width=settings.width, freeze_mode=0.0),
        send, float(sample_rate) * settings.size, ring_samples(settings, sample_rate))
    del send
    # latency compensated and pre-delayed: out[:, delay:] = wet[:, lat:], moved within
    # ``wet`` a block at a time (no second copy of the song, issue 19), then the gain
    length = n + tail
    out = wet[:, :length]
    src, dst, count = lat, delay, max(length - delay, 0)
    block = 1 << 16
    starts = range(0, count, block) if src >= dst else reversed(range(0, count, block))
    for i in starts:  # the order that never overwrites samples still to be moved
        j = min(i + block, count)
        wet[:, dst + i: dst + j] = wet[:, src + i: src + j]
    out[:, :min(delay, length)] = 0.0
    out *= np.float32(db_to_gain(settings.wet_db))
    return out


#: Sends of at least this many samples (about 12 s at 44.1 kHz) may be rendered in halves.
SPLIT_MIN_SAMPLES = 1 << 19
#: Samples per call of the plugin when it runs over a send in blocks.
_RENDER_BLOCK = 1 << 16
#: Freeverb's longest comb (the right channel's last: 1617 + 23 samples at 44.1 kHz).
_LONGEST_COMB_S = 1640.0 / 44100.0


def ring_samples(settings: ReverbSettings, sample_rate: float) -> int:
    """Samples after the send's last input within which the return has fallen 100 dB: the
    slowest comb (the longest, at the feedback ``0.7 + 0.28 * room_size``; its damping
    low-pass has unit gain at DC) loses ``-20 log10(feedback)`` dB per loop, and the
    allpasses (feedback 0.5) ring out within 0.5 s. The plugin's float32 recursion never
    falls much further: an impulse's return settles into rounding noise (limit cycles)
    90-116 dB below its peak (room_size 0.98 to 0.3) and stays there."""
    feedback = 0.7 + 0.28 * min(max(settings.room_size, 0.0), 0.99)
    loop = _LONGEST_COMB_S * settings.size * sample_rate
    return int(math.ceil(loop * 100.0 / (-20.0 * math.log10(feedback)))
               + 0.5 * sample_rate)


def _render_in_place(make_plugin, send: NDArray[np.float32], plugin_rate: float,
                     ring: int) -> NDArray[np.float32]:
    """The plugin's output over ``send`` ``(2, n)``, written into ``send`` block by block (a
    block is read before its output is written): in two halves on two threads when
    ``n`` is at least :data:`SPLIT_MIN_SAMPLES` and ``4 * ring`` (see the module docstring),
    else in one pass (the samples of one call)."""
    n = send.shape[1]

    def run(plugin, lo: int, hi: int) -> None:
        for a in range(lo, hi, _RENDER_BLOCK):
            b = min(a + _RENDER_BLOCK, hi)
            send[:, a:b] = plugin(send[:, a:b], plugin_rate, reset=a == lo)

    if n < max(SPLIT_MIN_SAMPLES, 4 * ring):
        run(make_plugin(), 0, n)
        return send
    from concurrent.futures import ThreadPoolExecutor

    half = n // 2
    ring_out = np.zeros((send.shape[0], ring), dtype=np.float32)

    def first() -> None:
        plugin = make_plugin()
        run(plugin, 0, half)
        for a in range(0, ring, _RENDER_BLOCK):  # its ring-out, from silence
            b = min(a + _RENDER_BLOCK, ring)
            ring_out[:, a:b] = plugin(np.zeros((send.shape[0], b - a), dtype=np.float32),
                                      plugin_rate, reset=False)

    with ThreadPoolExecutor(1) as pool:
        done = pool.submit(first)
        run(make_plugin(), half, n)
        done.result()
    m = min(ring, n - half)
    send[:, half:half + m] += ring_out[:, :m]
    return send


def render_reverb(audio: NDArray, sample_rate: float, settings: ReverbSettings,
                  tail_s: float = 0.0) -> NDArray[np.float32]:
    """Dry plus return: ``(2, samples + tail)``; a mono input becomes a centred stereo source."""
    x = np.atleast_2d(audio)
    if x.shape[0] not in (1, 2):
        x = to_channels(x, 2)  # the error naming the channel count
    out = reverb_return(x, sample_rate, settings, tail_s)
    out[:, : x.shape[1]] += x  # a mono row is added to both channels: no stereo copy
    return out


def impulse_response(settings: ReverbSettings, sample_rate: float,
                     length_s: float | None = None) -> NDArray[np.float32]:
    """Stereo impulse response of the whole send effect (dry impulse + return).

    The default length covers the pre-delay plus 40 dB of expected decay, which is all
    T30 needs (the analysis extrapolates the tail beyond the truncation).
    """
    if length_s is None:
        t60 = expected_t60(settings.room_size, settings.size)
        length_s = settings.predelay_ms / 1000.0 + 0.75 * t60 + 0.1
    n = max(int(length_s * sample_rate), 16)
    x = np.zeros((2, n), dtype=np.float32)
    x[:, 0] = 1.0
    out = reverb_return(x, sample_rate, settings, input_s=0.0)
    out[:, 0] += 1.0
    return out


def return_response(settings: ReverbSettings, sample_rate: float,
                    samples: int) -> NDArray[np.float32]:
    """First ``samples`` of the return's left channel for a unit impulse on both channels of
    the send: ``impulse_response(settings, ...)[0]`` without its direct sound (to float32
    rounding, 90 dB down or more), at half the cost (the reverb fitter renders dozens per
    room).

    At ``width`` 1 the left output of the plugin is its left comb bank alone, which is what
    its mono path computes, from the input instead of the sum of both channels; a mono
    send of twice the impulse therefore gives the left channel in one comb bank instead of
    two. ``ValueError`` for another width.
    """
    import pedalboard as pb

    from vocalmix.kernels import sosfilt

    if settings.width != 1.0:
        raise ValueError(f"return_response renders width 1 only, got {settings.width}")
    lat = latency_samples(float(sample_rate) * settings.size)
    delay = int(round(settings.predelay_ms / 1000.0 * sample_rate))
    total = samples + lat
    send = np.zeros(total, dtype=np.float32)
    m = min(total, int(0.3 * sample_rate))  # the send filters ring out within 0.3 s
    impulse = np.zeros(m, dtype=np.float32)
    impulse[0] = 2.0  # the plugin sums the two channels of a stereo send
    send[:m] = sosfilt(_send_filters(settings, sample_rate), impulse)
    reverb = pb.Reverb(room_size=settings.room_size, damping=settings.damping, wet_level=1.0,
                       dry_level=0.0, width=1.0, freeze_mode=0.0)
    wet = reverb(send[None, :], float(sample_rate) * settings.size, reset=True)[0]
    out = np.zeros(samples, dtype=np.float32)
    if delay < samples:
        out[delay:] = wet[lat: lat + samples - delay]
    out *= np.float32(db_to_gain(settings.wet_db))
    return out
