"""DSP building blocks of the demo corpus generator: oscillators, envelopes, a formant
voice, drum and instrument voices, and synthetic room impulse responses.

Everything is vectorised numpy/scipy (no per-sample Python loops) so a 20-s song renders
in well under a second of CPU. All randomness comes from the ``numpy.random.Generator``
passed in. Signals are float64 internally and mono ``(samples,)`` unless stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from vocalmix.audio import db_to_gain

# ----------------------------------------------------------------------------------------
# basic helpers


def midi_to_hz(midi: float | NDArray) -> float | NDArray:
    return 440.0 * np.power(2.0, (np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)



@lru_cache(maxsize=256)
def butter_sos(kind: str, freq: float | tuple[float, float], sample_rate: int, order: int = 2):
    """Cached Butterworth second-order sections (``kind`` in low/high/band)."""
    nyq = sample_rate / 2.0
    if kind == "band":
        lo, hi = freq
        hi = min(hi, 0.95 * nyq)
        return signal.butter(order, [lo, hi], btype="bandpass", fs=sample_rate, output="sos")
    f = min(float(freq), 0.95 * nyq)
    return signal.butter(order, f, btype="lowpass" if kind == "low" else "highpass",
                         fs=sample_rate, output="sos")


def sos(x: NDArray, kind: str, freq, sample_rate: int, order: int = 2) -> NDArray:
    return signal.sosfilt(butter_sos(kind, freq, sample_rate, order), x, axis=-1)


def pan(mono: NDArray, position: float) -> NDArray:
    """Constant-power pan of a mono signal; ``position`` in [-1 (left), 1 (right)]."""
    angle = (position + 1.0) * np.pi / 4.0
    return np.stack([mono * np.cos(angle), mono * np.sin(angle)])


def control_to_audio(curve: NDArray, control_rate: float, n: int, sample_rate: int) -> NDArray:
    """Linear interpolation of a control-rate curve to ``n`` audio samples."""
    t_audio = np.arange(n) * (control_rate / sample_rate)
    return np.interp(t_audio, np.arange(len(curve)), curve)


def smooth(curve: NDArray, width: int) -> NDArray:
    """Hann-window smoothing (``width`` control samples) that preserves the curve's level."""
    if width < 2:
        return curve
    win = np.hanning(width + 2)[1:-1]
    win /= win.sum()
    pad = width // 2 + 1
    padded = np.pad(curve, pad, mode="edge")
    return np.convolve(padded, win, mode="same")[pad:-pad]


def lowpass_noise(rng: np.random.Generator, n: int, corr_samples: float) -> NDArray:
    """Zero-mean, unit-std noise smoothed over about ``corr_samples`` samples."""
    x = rng.standard_normal(n + 4 * int(corr_samples) + 8)
    a = np.exp(-1.0 / max(corr_samples, 1.0))
    y = signal.lfilter([1 - a], [1, -a], x)
    y = signal.lfilter([1 - a], [1, -a], y[::-1])[::-1]
    y = y[2 * int(corr_samples) + 4 : 2 * int(corr_samples) + 4 + n]
    return (y - y.mean()) / (y.std() + 1e-12)


# ----------------------------------------------------------------------------------------
# oscillators


def phase_cycles(freq_hz: NDArray, sample_rate: int, phase0: float = 0.0) -> NDArray:
    """Running phase in cycles for a per-sample frequency (starts at ``phase0``)."""
    inc = np.asarray(freq_hz, dtype=np.float64) / sample_rate
    ph = np.cumsum(inc)
    ph -= inc
    return ph + phase0


def polyblep_saw(freq_hz: NDArray, sample_rate: int, phase0: float = 0.0) -> NDArray:
    """Band-limited (polyBLEP) sawtooth in [-1, 1] for a per-sample frequency array."""
    freq_hz = np.broadcast_to(np.asarray(freq_hz, dtype=np.float64), np.shape(freq_hz))
    dt = np.clip(freq_hz / sample_rate, 1e-9, 0.5)
    t = np.mod(phase_cycles(freq_hz, sample_rate, phase0), 1.0)
    y = 2.0 * t - 1.0
    lo = t < dt
    x = t[lo] / dt[lo]
    y[lo] -= x + x - x * x - 1.0
    hi = t > 1.0 - dt
    x = (t[hi] - 1.0) / dt[hi]
    y[hi] -= x * x + x + x + 1.0
    return y


def decaying_partials(
    freq_hz: float, duration_s: float, sample_rate: int, *, partials: int, decay_s: float,
    brightness: float, inharmonicity: float = 0.0, rng: np.random.Generator | None = None,
) -> NDArray:
    """Additive struck/plucked tone: partial k decays faster as k grows."""
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for k in range(1, partials + 1):
        fk = freq_hz * k * np.sqrt(1.0 + inharmonicity * k * k)
        if fk >= 0.45 * sample_rate:
            break
        amp = brightness ** (k - 1) / k
        phase = 0.0 if rng is None else rng.uniform(0, 2 * np.pi)
        out += amp * np.sin(2 * np.pi * fk * t + phase) * np.exp(-t * k**0.7 / decay_s)
    attack = min(n, int(0.004 * sample_rate))
    out[:attack] *= np.linspace(0.0, 1.0, attack)
    return out


# ----------------------------------------------------------------------------------------
# the voice

#: Formants (frequency Hz, bandwidth Hz, level dB) of sung vowels for a low (male) voice,
#: after classic vowel formant tables; a high voice scales the frequencies by 1.17. The
#: 3-kHz cluster is the "singer's formant". "m" is the nasal murmur used for m/n/l.
VOWEL_FORMANTS: dict[str, list[tuple[float, float, float]]] = {
    "a": [(730, 90, 0.0), (1090, 110, -4.0), (2440, 160, -12.0), (3000, 300, -9.0)],
    "e": [(530, 70, 0.0), (1840, 110, -7.0), (2480, 150, -10.0), (3050, 300, -9.0)],
    "i": [(290, 50, 0.0), (2250, 110, -10.0), (2950, 160, -10.0), (3300, 300, -11.0)],
    "o": [(570, 70, 0.0), (840, 80, -3.0), (2410, 160, -16.0), (3000, 300, -11.0)],
    "u": [(320, 50, 0.0), (870, 70, -8.0), (2240, 160, -20.0), (3000, 300, -14.0)],
    "m": [(260, 60, 0.0), (1000, 200, -24.0), (2200, 300, -32.0), (3200, 400, -36.0)],
}
VOWELS = ("a", "e", "i", "o", "u")


@lru_cache(maxsize=64)
def _formant_filters(vowel: str, scale: float, sample_rate: int):
    out = []
    for f, bw, level in VOWEL_FORMANTS[vowel]:
        f = min(f * scale, 0.45 * sample_rate)
        b, a = signal.iirpeak(f, Q=f / (bw * scale), fs=sample_rate)
        out.append((b, a, float(db_to_gain(level))))
    return out


def formant_filter(source: NDArray, vowel: str, scale: float, sample_rate: int) -> NDArray:
    """Parallel resonator bank: ``source`` shaped by the vowel's formants."""
    y = np.zeros_like(source)
    for b, a, g in _formant_filters(vowel, round(scale, 4), sample_rate):
        y += g * signal.lfilter(b, a, source)
    return y


def glottal_source(f0_hz: NDArray, sample_rate: int, tilt_hz: float,
                   rng: np.random.Generator) -> NDArray:
    """Band-limited sawtooth at ``f0_hz`` with an extra -6 dB/oct tilt above ``tilt_hz``
    (about -12 dB/oct in all, like a sung glottal source)."""
    saw = polyblep_saw(f0_hz, sample_rate, phase0=rng.uniform())
    a = np.exp(-2 * np.pi * tilt_hz / sample_rate)
    return signal.lfilter([1 - a], [1, -a], saw) * 4.0


@dataclass
class VoiceScore:
    """What a voice sings: control-rate curves at ``control_rate`` Hz."""

    f0_hz: NDArray  # fundamental frequency
    amp: NDArray  # voiced amplitude (linear)
    vowel_weights: dict[str, NDArray]  # sum to 1 where voiced
    aspiration: NDArray  # breath-noise amplitude (linear)
    control_rate: float


def _runs(mask: NDArray, gap: int) -> list[tuple[int, int]]:
    """Start/end indices of the True runs of ``mask``, merging runs closer than ``gap``."""
    idx = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    runs = list(zip(idx[::2].tolist(), idx[1::2].tolist()))
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def render_voice(score: VoiceScore, n: int, sample_rate: int, *, formant_scale: float,
                 tilt_hz: float, rng: np.random.Generator) -> NDArray:
    """Render a sung voice from control curves: glottal source -> vowel formant banks
    blended by time-varying weights, plus breath noise."""
    cr = score.control_rate
    f0 = control_to_audio(score.f0_hz, cr, n, sample_rate)
    amp = control_to_audio(score.amp, cr, n, sample_rate)
    active = amp > 1e-4
    # only synthesise where the voice sounds (phrases), with a margin for filter tails
    idx = np.flatnonzero(active)
    out = np.zeros(n)
    if idx.size == 0:
        return out
    src = glottal_source(f0, sample_rate, tilt_hz, rng) * amp
    tail = int(0.05 * sample_rate)  # resonator ring-out kept after a vowel's weight ends
    for vowel, weights in score.vowel_weights.items():
        w = control_to_audio(weights, cr, n, sample_rate)
        on = (w > 1e-4) & active
        if not on.any():
            continue
        # filter only the stretches where this vowel sounds (a fifth of the time or so)
        for a, b in _runs(on, gap=tail):
            b = min(n, b + tail)
            out[a:b] += formant_filter(src[a:b] * w[a:b], vowel, formant_scale, sample_rate)
    asp_amp = control_to_audio(score.aspiration, cr, n, sample_rate)
    noise = sos(rng.standard_normal(n), "band", (1800.0, 9000.0), sample_rate)
    out += noise * asp_amp
    return out


def consonant(kind: str, sample_rate: int, rng: np.random.Generator) -> NDArray:
    """A short unvoiced consonant: fricative ``s``/``h`` or plosive ``t``/``k``."""
    if kind == "s":
        dur, band, level, rise = rng.uniform(0.06, 0.11), (4500.0, 11000.0), -14.0, 0.02
    elif kind == "h":
        dur, band, level, rise = rng.uniform(0.05, 0.08), (600.0, 6000.0), -24.0, 0.02
    elif kind == "t":
        dur, band, level, rise = rng.uniform(0.012, 0.025), (2500.0, 8000.0), -10.0, 0.001
    else:  # "k"
        dur, band, level, rise = rng.uniform(0.015, 0.03), (1200.0, 4000.0), -10.0, 0.001
    m = int(dur * sample_rate)
    x = sos(rng.standard_normal(m), "band", band, sample_rate, order=2)
    t = np.arange(m) / sample_rate
    env = np.minimum(1.0, t / rise) * np.exp(-t / (dur * 0.45))
    return x * env * float(db_to_gain(level)) / (np.std(x) + 1e-12) * 0.25


# ----------------------------------------------------------------------------------------
# drums and instruments


def kick(sample_rate: int, rng: np.random.Generator, *, boom: float = 0.15) -> NDArray:
    n = int(0.5 * sample_rate)
    t = np.arange(n) / sample_rate
    f = 48.0 + 110.0 * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(f) / sample_rate) * np.exp(-t / boom)
    click = sos(rng.standard_normal(n), "band", (1500.0, 6000.0), sample_rate) * np.exp(-t / 0.004)
    return body + 0.3 * click


def snare(sample_rate: int, rng: np.random.Generator, *, tone_hz: float = 185.0,
          snappy: float = 1.0) -> NDArray:
    n = int(0.4 * sample_rate)
    t = np.arange(n) / sample_rate
    tone = np.sin(2 * np.pi * tone_hz * t) * np.exp(-t / 0.05)
    noise = sos(rng.standard_normal(n), "band", (1200.0, 9000.0), sample_rate)
    return 0.6 * tone + 0.5 * snappy * noise * np.exp(-t / 0.11)


def hat(sample_rate: int, rng: np.random.Generator, *, open_: bool = False) -> NDArray:
    n = int((0.45 if open_ else 0.12) * sample_rate)
    t = np.arange(n) / sample_rate
    noise = sos(rng.standard_normal(n), "high", 7000.0, sample_rate, order=4)
    return 0.35 * noise * np.exp(-t / (0.18 if open_ else 0.025))


def clap(sample_rate: int, rng: np.random.Generator) -> NDArray:
    n = int(0.3 * sample_rate)
    t = np.arange(n) / sample_rate
    env = sum(np.exp(-np.clip(t - d, 0, None) / 0.008) * (t >= d) for d in (0.0, 0.011, 0.022))
    env = env + (t >= 0.03) * np.exp(-np.clip(t - 0.03, 0, None) / 0.09)
    return 0.5 * sos(rng.standard_normal(n), "band", (900.0, 4000.0), sample_rate) * env


def crash(sample_rate: int, rng: np.random.Generator) -> NDArray:
    n = int(1.6 * sample_rate)
    t = np.arange(n) / sample_rate
    return 0.25 * sos(rng.standard_normal(n), "high", 4000.0, sample_rate) * np.exp(-t / 0.7)


def place(sample: NDArray, onsets_s: list[float], gains: list[float], n: int,
          sample_rate: int) -> NDArray:
    """Sum copies of ``sample`` starting at ``onsets_s`` with ``gains``."""
    out = np.zeros(n)
    m = len(sample)
    for onset, g in zip(onsets_s, gains):
        i = int(round(onset * sample_rate))
        if 0 <= i < n:
            j = min(n, i + m)
            out[i:j] += g * sample[: j - i]
    return out


def synth_bass_note(midi: float, duration_s: float, sample_rate: int, kind: str,
                    rng: np.random.Generator) -> NDArray:
    """One bass note: ``kind`` in {"synth", "pick", "sub808", "soft"}."""
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    f = float(midi_to_hz(midi))
    if kind == "sub808":
        fcurve = f * (1.0 + 0.6 * np.exp(-t / 0.03))
        ph = 2 * np.pi * np.cumsum(fcurve) / sample_rate
        x = np.sin(ph) + 0.25 * np.sin(2 * ph)
        env = np.exp(-t / max(0.5, duration_s * 0.8))
    elif kind == "soft":
        ph = 2 * np.pi * f * t
        x = np.sin(ph) + 0.3 * np.sin(2 * ph) + 0.1 * np.sin(3 * ph)
        env = np.exp(-t / 0.9)
    else:
        x = polyblep_saw(np.full(n, f), sample_rate, phase0=rng.uniform())
        x = sos(x, "low", 700.0 if kind == "synth" else 1100.0, sample_rate, order=2)
        if kind == "pick":
            x = np.tanh(2.0 * x)
        env = np.exp(-t / (0.35 if kind == "pick" else 0.6))
    attack = max(1, int(0.005 * sample_rate))
    release = max(1, min(n // 3, int(0.03 * sample_rate)))
    env[:attack] *= np.linspace(0, 1, attack)
    env[-release:] *= np.linspace(1, 0, release)
    return x * env


def synth_chord(midis: list[float], duration_s: float, sample_rate: int, kind: str,
                rng: np.random.Generator) -> NDArray:
    """One chord hit/hold: ``kind`` in {"pad", "piano", "pluck", "guitar", "epiano"}."""
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for m in midis:
        f = float(midi_to_hz(m))
        if kind == "pad":
            for detune in (-0.08, 0.08):
                out += polyblep_saw(np.full(n, f * 2 ** (detune / 12)), sample_rate,
                                    phase0=rng.uniform())
        elif kind == "guitar":
            out += polyblep_saw(np.full(n, f * 2 ** (rng.normal(0, 0.03) / 12)), sample_rate,
                                phase0=rng.uniform())
        elif kind == "epiano":
            out += decaying_partials(f, duration_s, sample_rate, partials=4, decay_s=1.2,
                                     brightness=0.35, rng=rng)
            out += 0.15 * np.sin(2 * np.pi * 7.0 * f * t) * np.exp(-t / 0.08)
        else:  # piano / pluck
            out += decaying_partials(
                f, duration_s, sample_rate, partials=10 if kind == "piano" else 6,
                decay_s=1.5 if kind == "piano" else 0.35, brightness=0.6,
                inharmonicity=0.0004 if kind == "piano" else 0.0, rng=rng)
    if kind == "pad":
        out = sos(out, "low", 2200.0, sample_rate) * 0.25
        env = np.minimum(1.0, t / 0.25)
    elif kind == "guitar":
        out = sos(np.tanh(3.5 * sos(out, "high", 90.0, sample_rate)), "low", 3800.0, sample_rate)
        env = np.exp(-t / 0.5)
    else:
        env = np.ones(n)
    release = max(1, min(n // 3, int(0.05 * sample_rate)))
    env[-release:] *= np.linspace(1, 0, release)
    return out * env / max(1, len(midis)) ** 0.5


# ----------------------------------------------------------------------------------------
# room impulse responses

#: Octave bands (Hz) in which synthetic rooms have their own decay times.
OCTAVE_BANDS_HZ = (125, 250, 500, 1000, 2000, 4000, 8000)


def room_impulse_response(
    rng: np.random.Generator, sample_rate: int, *, t60_s: dict[int, float], drr_db: float,
    predelay_ms: float, channels: int = 2, reflections: int = 8,
) -> NDArray:
    """Synthetic room impulse response ``(channels, samples)`` with a known decay.

    The response is a unit direct impulse at t=0, a gap of ``predelay_ms``, a handful of
    discrete early reflections, then a diffuse tail of octave-band noise whose energy decays
    at 60 dB per ``t60_s[band]`` seconds. The tail is scaled so the direct-to-reverberant
    energy ratio is ``drr_db``. Channels have independent tails (a decorrelated stereo room).
    """
    t60_max = max(t60_s.values())
    n = int((predelay_ms / 1000.0 + 1.2 * t60_max + 0.05) * sample_rate)
    onset = int(round(predelay_ms / 1000.0 * sample_rate))
    m = n - onset
    t = np.arange(m) / sample_rate
    build_up = 1.0 - np.exp(-t / 0.004)
    ir = np.zeros((channels, n))
    for c in range(channels):
        tail = np.zeros(m)
        white = rng.standard_normal(m)
        edges = [f / np.sqrt(2) for f in OCTAVE_BANDS_HZ] + [OCTAVE_BANDS_HZ[-1] * np.sqrt(2)]
        for i, band in enumerate(OCTAVE_BANDS_HZ):
            if i == 0:
                part = sos(white, "low", edges[1], sample_rate, order=4)
            elif i == len(OCTAVE_BANDS_HZ) - 1:
                part = sos(white, "high", edges[i], sample_rate, order=4)
            else:
                part = sos(white, "band", (edges[i], edges[i + 1]), sample_rate, order=4)
            tail += part * np.exp(-6.907755 * t / t60_s[band])
        tail *= build_up
        # early reflections: sparse impulses in the first 30 ms after the pre-delay
        for _ in range(reflections):
            k = int(rng.uniform(0.0, 0.03) * sample_rate)
            tail[k] += rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0) * np.max(np.abs(tail[:200]))
        energy = float(np.sum(tail**2))
        gain = np.sqrt(1.0 / (energy * 10 ** (drr_db / 10.0)))
        ir[c, onset:] = tail * gain
        ir[c, 0] = 1.0
    return ir
