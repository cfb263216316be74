"""Pitch correction: sung notes snapped to a scale, vibrato and expression kept.

1. f0 track of the vocal (:func:`vocalmix.measure.pitch.track_pitch`, 10 ms frames).
2. Note pitch: a running median of the voiced frames' pitch over 150 ms, which follows the
   notes but not the vibrato around them.
3. Target: the nearest pitch whose class is in the scale; the correction is ``strength``
   times the note's distance to it, zero on unvoiced frames, and follows changes with the
   ``retune_ms`` time constant (a one-pole smoother: fast is the hard-tuned effect,
   30-80 ms sounds natural).
4. Resynthesis: pedalboard's ``time_stretch`` (Rubber Band, formant preserving) with the
   per-sample pitch shift, length and timing unchanged.

Only the offset of each note moves, so the vibrato and scoops the singer made stay.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from vocalmix.measure.pitch import PitchTrack, hz_to_midi, track_pitch
from vocalmix.dsp.recipe import PitchCorrection

__all__ = ["note_pitch", "snap", "correction_semitones", "correct_pitch", "scale_deviation_cents"]

NOTE_WINDOW_S = 0.15


def note_pitch(track: PitchTrack, window_s: float = NOTE_WINDOW_S) -> NDArray:
    """Running median (MIDI) of the voiced frames' pitch; NaN where no voiced frame is near."""
    midi = np.where(track.voiced, hz_to_midi(track.f0_hz), np.nan)
    w = max(1, int(round(window_s / track.hop_s)) | 1)
    pad = np.pad(midi, w // 2, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(pad, w)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(windows, axis=1)


def snap(midi: NDArray, pitch_classes: tuple[int, ...]) -> NDArray:
    """Nearest MIDI pitch (fractional input) whose pitch class is in ``pitch_classes``."""
    midi = np.asarray(midi, dtype=np.float64)
    base = np.floor(midi)
    cands = base[..., None] + np.arange(-6, 8)[None, :] if midi.ndim == 1 else \
        base[..., None] + np.arange(-6, 8)
    ok = np.isin(np.mod(cands, 12).astype(int), pitch_classes)
    dist = np.where(ok, np.abs(cands - midi[..., None]), np.inf)
    return np.take_along_axis(cands, np.argmin(dist, axis=-1)[..., None], axis=-1)[..., 0]


def correction_semitones(track: PitchTrack, pc: PitchCorrection) -> NDArray:
    """Pitch shift (semitones) per frame that moves each note onto the scale."""
    note = note_pitch(track)
    target = snap(np.nan_to_num(note, nan=60.0), pc.pitch_classes)
    raw = np.where(np.isfinite(note) & track.voiced, pc.strength * (target - note), 0.0)
    if pc.retune_ms <= 0:
        return raw
    from scipy import signal

    a = float(np.exp(-track.hop_s / (pc.retune_ms / 1000.0)))
    return signal.lfilter([1.0 - a], [1.0, -a], raw)


def scale_deviation_cents(track: PitchTrack, pitch_classes: tuple[int, ...]) -> float:
    """Mean absolute distance (cents) of the note pitch from the nearest scale note."""
    note = note_pitch(track)
    ok = np.isfinite(note) & track.voiced
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(note[ok] - snap(note[ok], pitch_classes))) * 100.0)


def correct_pitch(audio: NDArray, sample_rate: int, pc: PitchCorrection,
                  *, high_quality: bool = True) -> tuple[NDArray[np.float32], dict]:
    """Pitch-correct ``(channels, samples)`` audio; returns (audio, report)."""
    import pedalboard as pb

    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    n = audio.shape[1]
    track = track_pitch(audio, sample_rate)
    shift = correction_semitones(track, pc)
    per_sample = np.interp(np.arange(n) / sample_rate, track.times_s, shift)
    out = pb.time_stretch(audio, float(sample_rate), stretch_factor=1.0,
                          pitch_shift_in_semitones=per_sample.astype(np.float64),
                          high_quality=high_quality)
    out = np.ascontiguousarray(out[:, :n])
    if out.shape[1] < n:
        out = np.pad(out, ((0, 0), (0, n - out.shape[1])))
    voiced = track.voiced
    report = {
        "key": pc.key, "mode": pc.mode, "strength": pc.strength, "retune_ms": pc.retune_ms,
        "voiced_fraction": float(voiced.mean()),
        "scale_deviation_before_cents": scale_deviation_cents(track, pc.pitch_classes),
        "mean_abs_shift_cents": float(np.mean(np.abs(shift[voiced])) * 100) if voiced.any()
        else 0.0,
    }
    return out.astype(np.float32), report
