"""The embedded demo corpus: procedurally generated songs with known mixing ground truth.

Each song (deterministic from ``config.seed`` and its id) has

* a dry sung vocal: notes from the song's key, legato glides, delayed vibrato, syllables
  with vowel formant changes and consonant noise, breaths, phrases separated by rests;
* a backing (drums, bass, harmony) whose tempo, instrumentation and density depend on
  the genre;
* a "professional" wet vocal made by a known chain: high-pass, EQ and compression through
  the project's pedalboard effects (:mod:`vocalmix.dsp.effects`), reverb by
  *convolution* with a synthetic room response of known T60/DRR/pre-delay (so the reverb
  fitter never sees its own algorithm), and a gain that sets the vocal-to-backing loudness
  ratio from genre priors plus the backing's density (denser backing pushes the vocal up);
* a raw "amateur take" of the same melody: per-note pitch errors (recorded in cents),
  level drift, background noise, a band-limited cheap microphone and a small room;
* ``truth.json`` with every parameter and the measured targets.

It exists so every stage runs and can be checked against known truth. The mixing
conventions are invented priors, not measurements of real practice: it is no substitute
for real data.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import db_to_gain
from vocalmix import seeding
from vocalmix.corpus import synth
from vocalmix.measure import loudness
from vocalmix.dsp.effects import (CompressorSettings, EQBand, apply_compressor, apply_eq,
                                  apply_highpass)

log = logging.getLogger(__name__)

__all__ = ["GENRES", "GenreStyle", "generate_song"]

CONTROL_RATE = 1000.0  # Hz, rate of the voice's control curves


@dataclass(frozen=True)
class GenreStyle:
    """Arrangement and mixing conventions of one demo genre (ranges are uniform priors)."""

    name: str
    tempo_bpm: tuple[float, float]
    p_major: float
    drums: str
    bass: str
    harmony_core: tuple[str, ...]
    harmony_optional: tuple[str, ...]
    note_beats: tuple[tuple[float, ...], tuple[float, ...]]  # values, weights
    phrase_beats: tuple[int, ...]
    # mixing conventions of the "professional" vocal
    lar_mean_db: float  # vocal-to-backing loudness ratio at density 0.5
    lar_density_slope_db: float  # change of the ratio per unit of backing density
    lar_sd_db: float  # per-song spread around the genre/density rule
    t60_mid_s: tuple[float, float]  # at 100 BPM; scaled by sqrt(100 / tempo)
    drr_db: tuple[float, float]
    predelay_ms: tuple[float, float]
    comp_ratio: tuple[float, float]
    comp_depth_db: tuple[float, float]  # threshold below the vocal's active RMS level
    presence_db: tuple[float, float]
    air_db: tuple[float, float]
    mud_cut_db: tuple[float, float]
    velocity_sd_db: float  # the singer's note-to-note dynamics


GENRES: dict[str, GenreStyle] = {
    "pop": GenreStyle(
        "pop", (96, 124), 0.7, "pop", "synth", ("pad",), ("pluck", "piano", "shaker"),
        ((0.5, 1.0, 1.5, 2.0), (0.35, 0.35, 0.15, 0.15)), (6, 8),
        lar_mean_db=1.5, lar_density_slope_db=2.5, lar_sd_db=0.4,
        t60_mid_s=(1.0, 1.5), drr_db=(2.0, 6.0), predelay_ms=(20, 45),
        comp_ratio=(3.0, 5.0), comp_depth_db=(6.0, 10.0),
        presence_db=(2.0, 4.0), air_db=(1.5, 3.5), mud_cut_db=(-4.0, -2.0), velocity_sd_db=2.5),
    "rock": GenreStyle(
        "rock", (118, 150), 0.5, "rock", "pick", ("guitar",), ("guitar2", "pad", "crash"),
        ((0.5, 1.0, 2.0), (0.4, 0.4, 0.2)), (6, 8),
        lar_mean_db=-1.0, lar_density_slope_db=2.5, lar_sd_db=0.4,
        t60_mid_s=(0.6, 1.0), drr_db=(4.0, 8.0), predelay_ms=(10, 30),
        comp_ratio=(4.0, 8.0), comp_depth_db=(8.0, 14.0),
        presence_db=(3.0, 5.0), air_db=(0.5, 2.0), mud_cut_db=(-5.0, -3.0), velocity_sd_db=2.5),
    "hiphop": GenreStyle(
        "hiphop", (80, 96), 0.3, "hiphop", "sub808", ("epiano",), ("pad", "clap", "pluck"),
        ((0.25, 0.5, 1.0), (0.3, 0.5, 0.2)), (8,),
        lar_mean_db=3.0, lar_density_slope_db=2.5, lar_sd_db=0.4,
        t60_mid_s=(0.4, 0.7), drr_db=(6.0, 10.0), predelay_ms=(5, 20),
        comp_ratio=(4.0, 6.0), comp_depth_db=(8.0, 12.0),
        presence_db=(2.0, 4.0), air_db=(1.0, 3.0), mud_cut_db=(-5.0, -3.0), velocity_sd_db=2.0),
    "ballad": GenreStyle(
        "ballad", (64, 80), 0.6, "ballad", "soft", ("piano",), ("pad", "pluck", "shaker"),
        ((0.5, 1.0, 1.5, 2.0), (0.25, 0.35, 0.2, 0.2)), (6, 8),
        lar_mean_db=2.0, lar_density_slope_db=2.5, lar_sd_db=0.4,
        t60_mid_s=(1.8, 2.5), drr_db=(0.0, 4.0), predelay_ms=(30, 60),
        comp_ratio=(2.0, 3.0), comp_depth_db=(4.0, 8.0),
        presence_db=(1.0, 3.0), air_db=(2.0, 4.0), mud_cut_db=(-3.0, -1.0), velocity_sd_db=3.5),
}

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 3, 4, 3), (5, 3, 0, 4), (0, 5, 3, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2)),
}
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: relative octave-band T60 of the synthetic rooms (absorption rises with frequency)
T60_BAND_SHAPE = {125: 1.25, 250: 1.12, 500: 1.03, 1000: 1.0, 2000: 0.92, 4000: 0.78, 8000: 0.6}
CONSONANTS = ("", "s", "t", "k", "m", "n", "l", "h")
CONSONANT_P = (0.25, 0.14, 0.14, 0.1, 0.12, 0.1, 0.08, 0.07)

BACKING_LUFS = -20.0  # backing loudness before the master headroom scaling
DRY_VOCAL_LUFS = -20.0
PEAK_CEILING = db_to_gain(-1.0)  # -1 dBFS sample peak for every written stem


# ----------------------------------------------------------------------------------------
# composition


@dataclass
class Note:
    onset_s: float
    duration_s: float
    midi: float
    consonant: str
    vowel: str
    velocity_db: float
    phrase: int


@dataclass
class Song:
    song_id: str
    genre: str
    tempo_bpm: float
    key: str
    mode: str
    tonic_pc: int
    progression: tuple[int, ...]
    bars: int
    duration_s: float
    voice: str
    notes: list[Note] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    density: float = 0.0

    @property
    def beat_s(self) -> float:
        return 60.0 / self.tempo_bpm

    def chord_degrees(self, bar: int) -> tuple[int, int, int]:
        d = self.progression[bar % len(self.progression)]
        return d, d + 2, d + 4

    def degree_to_midi(self, degree: int, base_midi: int) -> int:
        scale = SCALES[self.mode]
        octave, step = divmod(degree, 7)
        return base_midi + 12 * octave + scale[step]


def compose(song_id: str, genre: str, duration_s: float, rng: np.random.Generator) -> Song:
    """Choose tempo, key, chords, parts and a sung melody for one song."""
    style = GENRES[genre]
    tempo = float(rng.uniform(*style.tempo_bpm))
    mode = "major" if rng.uniform() < style.p_major else "minor"
    tonic_pc = int(rng.integers(12))
    progression = PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
    beat = 60.0 / tempo
    bars = int(math.ceil(duration_s / (4 * beat))) + 1
    voice = "female" if rng.uniform() < 0.5 else "male"
    optional = [p for p in style.harmony_optional if rng.uniform() < 0.5]
    parts = ["drums", "bass", *style.harmony_core, *optional]
    max_parts = 2 + len(style.harmony_core) + len(style.harmony_optional)
    density = (len(parts) - 2 - len(style.harmony_core)) / len(style.harmony_optional)
    song = Song(song_id, genre, tempo, NOTE_NAMES[tonic_pc], mode, tonic_pc, progression, bars,
                duration_s, voice, parts=parts, density=float(density))
    del max_parts

    # vocal range: tonic in the lower part of the voice's tessitura
    low = 48 if voice == "male" else 57
    tonic_midi = low + ((tonic_pc - low) % 12)
    values, weights = style.note_beats
    weights = np.asarray(weights) / np.sum(weights)
    t = 4 * beat  # one bar of intro without vocal
    degree = int(rng.choice([0, 2, 4]))
    phrase = 0
    while t < duration_s - 1.0:
        length = float(rng.choice(style.phrase_beats))
        pos = 0.0
        notes: list[Note] = []
        while pos < length - 0.01:
            dur = float(rng.choice(values, p=weights))
            dur = min(dur, length - pos)
            if pos + dur >= length - 0.01 and dur < 1.0:
                dur = max(dur, min(2.0, length - pos))
            onset = t + pos * beat
            if onset + dur * beat > duration_s - 0.3:
                break
            bar = int((onset + 1e-6) // (4 * beat))
            chord = set(d % 7 for d in song.chord_degrees(bar))
            on_beat = abs(pos - round(pos)) < 1e-6
            step = int(rng.choice([-2, -1, 0, 1, 2, -4, 4], p=[0.12, 0.3, 0.1, 0.3, 0.1, 0.04, 0.04]))
            degree = degree + step
            if degree < -2 or degree > 9:  # keep within about an octave and a half
                degree -= 2 * step
            if on_beat and degree % 7 not in chord and rng.uniform() < 0.7:
                degree += 1 if (degree + 1) % 7 in chord else -1
            notes.append(Note(
                onset_s=onset, duration_s=dur * beat,
                midi=float(song.degree_to_midi(degree, tonic_midi)),
                consonant=str(rng.choice(CONSONANTS, p=CONSONANT_P)),
                vowel=str(rng.choice(synth.VOWELS)),
                velocity_db=float(rng.normal(0.0, style.velocity_sd_db)),
                phrase=phrase,
            ))
            pos += dur
        if notes:
            # end the phrase on a chord tone
            last = notes[-1]
            bar = int((last.onset_s + 1e-6) // (4 * beat))
            chord_pcs = {(tonic_pc + SCALES[mode][d % 7]) % 12 for d in song.chord_degrees(bar)}
            while int(last.midi) % 12 not in chord_pcs:
                last.midi -= 1.0
            song.notes.extend(notes)
            phrase += 1
        rest = float(rng.choice([2.0, 3.0, 4.0]))
        t += (pos + rest) * beat
    return song


# ----------------------------------------------------------------------------------------
# the voice


@dataclass
class Singer:
    formant_scale: float
    tilt_hz: float
    vibrato_hz: float
    vibrato_cents: float
    glide_ms: float
    jitter_cents: float
    drift_cents: float
    breathiness: float


def make_singer(song: Song, rng: np.random.Generator) -> Singer:
    return Singer(
        formant_scale=(1.17 if song.voice == "female" else 1.0) * float(rng.uniform(0.97, 1.03)),
        tilt_hz=float(rng.uniform(1200.0, 2200.0)),
        vibrato_hz=float(rng.uniform(5.0, 6.5)),
        vibrato_cents=float(rng.uniform(25.0, 50.0)),
        glide_ms=float(rng.uniform(50.0, 90.0)),
        jitter_cents=4.0,
        drift_cents=0.0,
        breathiness=0.004,
    )


def voice_score(song: Song, singer: Singer, n_ctrl: int, rng: np.random.Generator,
                pitch_offsets_cents: NDArray | None = None) -> synth.VoiceScore:
    """Control curves (f0, amplitude, vowel weights) for singing ``song.notes``."""
    cr = CONTROL_RATE
    midi = np.full(n_ctrl, np.nan)
    gate = np.zeros(n_ctrl)
    vowel_idx = np.full(n_ctrl, -1)
    names = list(synth.VOWELS) + ["m"]
    scoop = np.zeros(n_ctrl)
    vib_depth = np.zeros(n_ctrl)
    offsets = np.zeros(len(song.notes)) if pitch_offsets_cents is None else pitch_offsets_cents
    prev_phrase = -1
    for k, note in enumerate(song.notes):
        a = int(note.onset_s * cr)
        b = min(n_ctrl, int((note.onset_s + note.duration_s) * cr))
        nxt = song.notes[k + 1] if k + 1 < len(song.notes) else None
        legato = nxt is not None and nxt.phrase == note.phrase
        gate_end = b if legato else max(a + 1, b - int(0.04 * cr))
        midi[a:b] = note.midi + offsets[k] / 100.0
        gate[a:gate_end] = db_to_gain(note.velocity_db)
        cons_len = 0
        if note.consonant in ("s", "t", "k", "h"):
            cons_len = int({"s": 0.06, "h": 0.05, "t": 0.02, "k": 0.025}[note.consonant] * cr)
            gate[a:a + cons_len] *= 0.15
        elif note.consonant in ("m", "n", "l"):
            cons_len = int(0.07 * cr)
            vowel_idx[a:a + cons_len] = names.index("m")
        vowel_idx[a + cons_len:b] = names.index(note.vowel)
        if note.phrase != prev_phrase:  # phrase-initial scoop from below
            tt = np.arange(b - a) / cr
            scoop[a:b] += -0.5 * np.exp(-tt / 0.06)
        if note.duration_s > 0.45:
            tt = np.arange(b - a) / cr
            vib_depth[a:b] = np.clip((tt - 0.2) / 0.3, 0.0, 1.0) * singer.vibrato_cents
        prev_phrase = note.phrase
    # hold pitch through rests so glides start from the previous note
    valid = ~np.isnan(midi)
    if not valid.any():
        midi[:] = 60.0
    else:
        idx = np.where(valid, np.arange(n_ctrl), 0)
        np.maximum.accumulate(idx, out=idx)
        midi = midi[idx]
        first = np.flatnonzero(valid)[0]
        midi[:first] = midi[first]
    midi = synth.smooth(midi, int(singer.glide_ms / 1000.0 * cr))
    t = np.arange(n_ctrl) / cr
    rate = singer.vibrato_hz * (1.0 + 0.04 * synth.lowpass_noise(rng, n_ctrl, 0.8 * cr))
    vib_phase = 2 * np.pi * np.cumsum(rate) / cr + rng.uniform(0, 2 * np.pi)
    vibrato = synth.smooth(vib_depth, int(0.1 * cr)) / 100.0 * np.sin(vib_phase)
    jitter = singer.jitter_cents / 100.0 * synth.lowpass_noise(rng, n_ctrl, 0.03 * cr)
    drift = singer.drift_cents / 100.0 * synth.lowpass_noise(rng, n_ctrl, 1.5 * cr)
    f0 = synth.midi_to_hz(midi + scoop + vibrato + jitter + drift)
    # amplitude: smoothed gate (about 30 ms attack/release) with a gentle arc per phrase
    amp = synth.smooth(gate, int(0.03 * cr))
    amp *= 1.0 + 0.08 * np.sin(2 * np.pi * t / 7.0 + rng.uniform(0, 2 * np.pi))
    weights = {}
    for i, name in enumerate(names):
        w = (vowel_idx == i).astype(np.float64)
        weights[name] = synth.smooth(w, int(0.05 * cr))
    total = sum(weights.values())
    for name in names:
        weights[name] = np.where(total > 1e-6, weights[name] / np.maximum(total, 1e-6), 0.0)
    weights = {k: v for k, v in weights.items() if np.any(v > 1e-3)}
    return synth.VoiceScore(f0_hz=f0, amp=amp, vowel_weights=weights,
                            aspiration=singer.breathiness * amp, control_rate=cr)


def sing(song: Song, singer: Singer, n: int, sample_rate: int, rng: np.random.Generator,
         pitch_offsets_cents: NDArray | None = None) -> NDArray:
    """Render the dry vocal (mono float64): voice, consonants and breaths."""
    n_ctrl = int(n / sample_rate * CONTROL_RATE) + 2
    score = voice_score(song, singer, n_ctrl, rng, pitch_offsets_cents)
    out = synth.render_voice(score, n, sample_rate, formant_scale=singer.formant_scale,
                             tilt_hz=singer.tilt_hz, rng=rng)
    level = np.sqrt(np.mean(out[out != 0] ** 2)) if np.any(out) else 1.0
    prev_phrase = -1
    for note in song.notes:
        if note.consonant in ("s", "t", "k", "h"):
            c = synth.consonant(note.consonant, sample_rate, rng) * level * 6.0
            start = int(max(0.0, note.onset_s - 0.01) * sample_rate)
            end = min(n, start + len(c))
            out[start:end] += c[: end - start]
        if note.phrase != prev_phrase:  # a breath before each phrase
            m = int(0.28 * sample_rate)
            start = int(note.onset_s * sample_rate) - m - int(0.08 * sample_rate)
            if start > 0:
                tt = np.arange(m) / m
                breath = synth.sos(rng.standard_normal(m), "band", (900.0, 5000.0), sample_rate)
                out[start:start + m] += breath * np.sin(np.pi * tt) ** 2 * level * 0.06
        prev_phrase = note.phrase
    return out


# ----------------------------------------------------------------------------------------
# the backing


DRUM_PATTERNS = {  # 16th-note steps per bar -> instrument: (steps, level dB)
    "pop": {"kick": ([0, 7, 8], 0.0), "snare": ([4, 12], -2.0), "hat": (list(range(0, 16, 2)), -9.0),
            "ohat": ([14], -12.0)},
    "rock": {"kick": ([0, 8, 10], 0.0), "snare": ([4, 12], -1.0), "hat": (list(range(0, 16, 2)), -7.0)},
    "hiphop": {"kick": ([0, 7, 10], 1.0), "snare": ([4, 12], -2.0), "hat": (list(range(16)), -12.0)},
    "ballad": {"kick": ([0, 8], -3.0), "snare": ([4, 12], -8.0), "hat": ([0, 4, 8, 12], -14.0)},
}
PART_LEVELS_DB = {"drums": -4.0, "bass": -7.0, "pad": -13.0, "piano": -9.0, "pluck": -14.0,
                  "guitar": -8.0, "guitar2": -11.0, "epiano": -10.0, "shaker": -20.0,
                  "clap": -12.0, "crash": -15.0}


def render_backing(song: Song, n: int, sample_rate: int,
                   rng: np.random.Generator) -> dict[str, NDArray]:
    """Render the backing stems (stereo float64) of ``song``."""
    style = GENRES[song.genre]
    beat = song.beat_s
    step = beat / 4.0
    swing = 0.12 * step if song.genre == "hiphop" else 0.0
    stems: dict[str, NDArray] = {}
    # chords and bass notes repeat bar after bar: render each distinct one once (a sampler)
    cache: dict[tuple, NDArray] = {}

    def cached(key: tuple, make) -> NDArray:
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def step_time(bar: int, s: int) -> float:
        return bar * 4 * beat + s * step + (swing if s % 2 else 0.0)

    # drums
    kit = {"kick": synth.kick(sample_rate, rng, boom=0.3 if song.genre == "hiphop" else 0.15),
           "snare": synth.snare(sample_rate, rng, snappy=0.4 if song.genre == "ballad" else 1.0),
           "hat": synth.hat(sample_rate, rng), "ohat": synth.hat(sample_rate, rng, open_=True)}
    if song.genre == "hiphop" and "clap" in song.parts:
        kit["clap"] = synth.clap(sample_rate, rng)
    drums = np.zeros((2, n))
    pans = {"kick": 0.0, "snare": 0.05, "hat": 0.3, "ohat": 0.3, "clap": -0.1}
    pattern = dict(DRUM_PATTERNS[style.drums])
    if "clap" in kit:
        pattern["clap"] = ([4, 12], -4.0)
    first_bar = 1 if song.genre == "ballad" else 0  # ballads start with piano alone
    for inst, (steps, level) in pattern.items():
        onsets, gains = [], []
        for bar in range(first_bar, song.bars):
            for s in steps:
                accent = 0.0 if s % 4 == 0 else -3.0 if inst == "hat" else 0.0
                onsets.append(step_time(bar, s) + rng.normal(0, 0.003))
                gains.append(float(db_to_gain(level + accent + rng.normal(0, 1.0))))
        drums += synth.pan(synth.place(kit[inst], onsets, gains, n, sample_rate), pans[inst])
    if "crash" in song.parts:
        crash = synth.place(synth.crash(sample_rate, rng), [step_time(b, 0) for b in
                            range(0, song.bars, 4)], [1.0] * len(range(0, song.bars, 4)), n,
                            sample_rate)
        stems["crash"] = np.stack([crash * 0.8, crash])
    if "shaker" in song.parts:
        shaker = synth.hat(sample_rate, rng) * 0.6
        onsets = [step_time(b, s) for b in range(song.bars) for s in range(1, 16, 2)]
        stems["shaker"] = synth.pan(synth.place(shaker, onsets, [1.0] * len(onsets), n,
                                                sample_rate), -0.4)
    stems["drums"] = drums

    # bass: chord roots
    bass = np.zeros(n)
    bass_steps = {"synth": [0, 3, 6, 8, 11, 14], "pick": list(range(0, 16, 2)),
                  "sub808": [0, 7, 10], "soft": [0, 8]}[style.bass]
    root_base = 36 + ((song.tonic_pc - 36) % 12)
    for bar in range(song.bars):
        root = song.degree_to_midi(song.chord_degrees(bar)[0] % 7, root_base)
        for i, s in enumerate(bass_steps):
            nxt = bass_steps[i + 1] if i + 1 < len(bass_steps) else 16
            midi = root + (7 if style.bass == "soft" and s == 8 else 0)
            dur = (nxt - s) * step * 0.95
            note = cached(("bass", midi, dur), lambda: synth.synth_bass_note(
                midi, dur, sample_rate, style.bass, rng))
            a = int(step_time(bar, s) * sample_rate)
            b = min(n, a + len(note))
            if a < n:
                bass[a:b] += note[: b - a]
    stems["bass"] = synth.pan(bass, 0.0)

    # harmony
    chord_base = 53 + ((song.tonic_pc - 53) % 12)
    for part in song.parts:
        if part not in ("pad", "piano", "pluck", "guitar", "guitar2", "epiano"):
            continue
        track = np.zeros(n)
        for bar in range(song.bars):
            degs = song.chord_degrees(bar)
            chord = [song.degree_to_midi(d, chord_base) for d in degs]
            if part == "pad":
                hits = [(0, 16, chord)]
            elif part == "piano":
                hits = [(0, 8, chord), (8, 8, chord)]
            elif part == "epiano":
                hits = [(0, 6, chord), (6, 4, chord), (10, 6, chord)]
            elif part in ("guitar", "guitar2"):
                power = [chord[0] - 12, chord[0] - 5, chord[0]]
                hits = [(s, 2, power) for s in range(0, 16, 2)]
            else:  # pluck arpeggio an octave up
                arp = [m + 12 for m in chord]
                hits = [(s, 2, [arp[(s // 2) % 3]]) for s in range(0, 16, 2)]
            for s, length, midis in hits:
                kind = "guitar" if part.startswith("guitar") else part
                dur = length * step * (0.9 if kind == "guitar" else 1.0)
                x = cached((part, tuple(midis), dur), lambda: synth.synth_chord(
                    midis, dur, sample_rate, kind, rng))
                a = int(step_time(bar, s) * sample_rate)
                b = min(n, a + len(x))
                if a < n:
                    track[a:b] += x[: b - a]
        position = {"pad": -0.3, "piano": 0.15, "pluck": 0.45, "guitar": -0.6, "guitar2": 0.6,
                    "epiano": -0.2}[part]
        stems[part] = synth.pan(track, position)
    return stems


def mix_backing(stems: dict[str, NDArray]) -> NDArray:
    out = None
    for name, stem in stems.items():
        rms = np.sqrt(np.mean(stem**2)) + 1e-12
        part = stem / rms * float(db_to_gain(PART_LEVELS_DB.get(name, -12.0))) * 0.1
        out = part if out is None else out + part
    return out


# ----------------------------------------------------------------------------------------
# the mixes


def _lufs(audio: NDArray, sample_rate: int) -> float:
    """Integrated loudness (LUFS, BS.1770-4) with the project's meter."""
    return loudness.integrated_loudness(np.atleast_2d(audio), sample_rate)


def _to_level(x: NDArray, target_lufs: float, sample_rate: int) -> NDArray:
    """Scale to ``target_lufs``, or lower if that would put the sample peak above -1 dBFS."""
    x = x * 10 ** ((target_lufs - _lufs(np.atleast_2d(x), sample_rate)) / 20.0)
    peak = float(np.max(np.abs(x)))
    return x * (PEAK_CEILING / peak) if peak > PEAK_CEILING else x


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def professional_vocal(dry: NDArray, song: Song, backing: NDArray, sample_rate: int,
                       rng: np.random.Generator) -> tuple[NDArray, NDArray, dict]:
    """The "professional" chain: HPF, EQ, compressor (pedalboard), convolution reverb,
    gain to the genre/density vocal-to-backing ratio. Returns (wet vocal, room IR, truth)."""
    style = GENRES[song.genre]
    female = song.voice == "female"
    highpass_hz = _u(rng, (90.0, 130.0) if female else (70.0, 100.0))
    eq = [
        EQBand("peak", _u(rng, (250.0, 400.0)), _u(rng, style.mud_cut_db), 1.2),
        EQBand("peak", _u(rng, (2500.0, 4000.0)), _u(rng, style.presence_db), 1.0),
        EQBand("high_shelf", _u(rng, (8000.0, 11000.0)), _u(rng, style.air_db), 0.707),
    ]
    x = apply_highpass(dry[None, :].astype(np.float32), sample_rate, highpass_hz)
    x = apply_eq(x, sample_rate, eq)
    active = x[0][np.abs(x[0]) > 1e-4]
    active_rms_db = 20 * np.log10(np.sqrt(np.mean(active**2)) + 1e-12)
    comp = CompressorSettings(
        threshold_db=float(np.clip(active_rms_db - _u(rng, style.comp_depth_db) + 6.0, -60.0, 0.0)),
        ratio=_u(rng, style.comp_ratio), attack_ms=_u(rng, (3.0, 15.0)),
        release_ms=_u(rng, (60.0, 200.0)))
    x = apply_compressor(x, sample_rate, comp)

    t60_mid = _u(rng, style.t60_mid_s) * math.sqrt(100.0 / song.tempo_bpm)
    t60 = {b: t60_mid * f * float(rng.uniform(0.96, 1.04)) for b, f in T60_BAND_SHAPE.items()}
    drr_db = _u(rng, style.drr_db)
    predelay_ms = _u(rng, style.predelay_ms)
    ir = synth.room_impulse_response(rng, sample_rate, t60_s=t60, drr_db=drr_db,
                                     predelay_ms=predelay_ms)
    from scipy.signal import oaconvolve

    wet = np.stack([oaconvolve(x[0].astype(np.float64), ir[c])[: x.shape[1]] for c in range(2)])

    lar_target = (style.lar_mean_db + style.lar_density_slope_db * (song.density - 0.5)
                  + float(rng.normal(0.0, style.lar_sd_db)))
    gain_db = lar_target - (_lufs(wet, sample_rate) - _lufs(backing, sample_rate))
    wet *= db_to_gain(gain_db)
    truth = {
        "highpass_hz": highpass_hz,
        "eq": [b.to_dict() for b in eq],
        "compressor": comp.to_dict(),
        "room": {"t60_s": {str(b): v for b, v in t60.items()}, "t60_mid_s": t60_mid,
                 "drr_db": drr_db, "predelay_ms": predelay_ms},
        "vocal_gain_db": gain_db,
        "target_vocal_to_backing_lu": lar_target,
    }
    return wet, ir, truth


def amateur_take(song: Song, singer: Singer, n: int, sample_rate: int,
                 rng: np.random.Generator) -> tuple[NDArray, dict]:
    """The same melody sung with pitch errors, recorded badly."""
    errors = np.clip(rng.normal(0.0, 30.0, len(song.notes)), -70.0, 70.0)
    am_singer = Singer(**{**asdict(singer), "jitter_cents": 7.0, "drift_cents": 10.0,
                          "vibrato_cents": singer.vibrato_cents * 0.5, "breathiness": 0.012})
    x = sing(song, am_singer, n, sample_rate, rng, pitch_offsets_cents=errors)
    x /= np.sqrt(np.mean(x**2)) + 1e-12
    # level drift: slow random gain, +/- a few dB
    drift_db = 2.5 * synth.lowpass_noise(rng, n // 441 + 2, 150.0)
    x *= db_to_gain(synth.control_to_audio(drift_db, 100.0, n, sample_rate))
    # a small, untreated room
    room_t60 = _u(rng, (0.25, 0.45))
    room = synth.room_impulse_response(
        rng, sample_rate, t60_s={b: room_t60 for b in T60_BAND_SHAPE},
        drr_db=_u(rng, (4.0, 9.0)), predelay_ms=_u(rng, (1.0, 4.0)), channels=1)
    from scipy.signal import oaconvolve

    x = oaconvolve(x, room[0])[:n]
    # room noise (air conditioning, traffic: pinkish with rumble) reaches the microphone with
    # the voice, at a recorded signal-to-noise ratio
    snr_db = _u(rng, (28.0, 40.0))
    noise = (synth.sos(rng.standard_normal(n), "low", 1500.0, sample_rate, order=1)
             + 2.0 * synth.sos(rng.standard_normal(n), "low", 150.0, sample_rate))
    sig_rms = np.sqrt(np.mean(x[np.abs(x) > 1e-3 * np.max(np.abs(x))] ** 2))
    noise *= sig_rms / (np.sqrt(np.mean(noise**2)) * db_to_gain(snr_db))
    x = x + noise
    # cheap microphone: band limits and a presence bump
    mic_hp, mic_lp = _u(rng, (120.0, 220.0)), _u(rng, (5000.0, 7500.0))
    x = synth.sos(x, "high", mic_hp, sample_rate, order=2)
    x = synth.sos(x, "low", mic_lp, sample_rate, order=4)
    bump = EQBand("peak", _u(rng, (2000.0, 4000.0)), _u(rng, (3.0, 6.0)), 1.5)
    x = apply_eq(x[None, :].astype(np.float32), sample_rate, [bump])[0].astype(np.float64)
    # and the phone's preamp adds a little white hiss, 25 dB under the room noise
    x = x + rng.standard_normal(n) * sig_rms * db_to_gain(-(snr_db + 25.0))
    level_lufs = _u(rng, (-28.0, -22.0))
    x = _to_level(x, level_lufs, sample_rate)
    truth = {
        "pitch_error_cents": [float(e) for e in errors],
        "level_drift_db_sd": 2.5,
        "room_t60_s": room_t60,
        "mic_highpass_hz": mic_hp,
        "mic_lowpass_hz": mic_lp,
        "mic_presence": bump.to_dict(),
        "noise_snr_db": snr_db,
        "level_lufs": _lufs(x[None, :], sample_rate),
    }
    return x, truth


def generate_song(song_id: str, genre: str, *, duration_s: float, sample_rate: int,
                  seed: int) -> tuple[dict[str, NDArray], dict]:
    """Generate one demo song.

    Returns
    -------
    audio : dict
        ``dry_vocal`` (1, n), ``vocal`` (2, n, the professional wet vocal), ``backing`` (2, n),
        ``mixture`` (2, n) = vocal + backing, ``raw_vocal`` (1, n, the amateur take),
        ``room_ir`` (2, m) -- all float32.
    truth : dict
        Composition, chain parameters and measured targets (JSON-serialisable).
    """
    if genre not in GENRES:
        raise ValueError(f"unknown demo genre {genre!r}; known: {', '.join(GENRES)}")
    rng = seeding.rng(seed, "demo", song_id)
    n = int(round(duration_s * sample_rate))
    song = compose(song_id, genre, duration_s, rng)
    singer = make_singer(song, rng)

    dry = sing(song, singer, n, sample_rate, rng)
    dry = _to_level(dry, DRY_VOCAL_LUFS, sample_rate)

    stems = render_backing(song, n, sample_rate, rng)
    backing = mix_backing(stems)
    backing *= db_to_gain(BACKING_LUFS - _lufs(backing, sample_rate))

    vocal, ir, chain_truth = professional_vocal(dry, song, backing, sample_rate, rng)
    raw, amateur_truth = amateur_take(song, singer, n, sample_rate, rng)

    mixture = vocal + backing
    # one master gain keeps every stem's sample peak under -1 dBFS (ratios unchanged)
    peak = max(np.max(np.abs(mixture)), np.max(np.abs(vocal)), np.max(np.abs(backing)))
    master_db = min(0.0, 20 * np.log10(PEAK_CEILING / peak))
    g = db_to_gain(master_db)
    vocal, backing, mixture = vocal * g, backing * g, mixture * g

    vocal_meas = loudness.analyse(vocal, sample_rate)
    vocal_lufs = vocal_meas.integrated_lufs
    backing_lufs = _lufs(backing, sample_rate)
    truth = {
        "song_id": song_id,
        "genre": genre,
        "tempo_bpm": song.tempo_bpm,
        "key": song.key,
        "mode": song.mode,
        "voice": song.voice,
        "duration_s": duration_s,
        "sample_rate": sample_rate,
        "parts": song.parts,
        "backing_density": song.density,
        "singer": asdict(singer),
        "notes": [asdict(nt) for nt in song.notes],
        "professional": {**chain_truth, "master_gain_db": float(master_db)},
        "amateur": amateur_truth,
        "targets": {
            "vocal_lufs": vocal_lufs,
            "backing_lufs": backing_lufs,
            "vocal_to_backing_lu": vocal_lufs - backing_lufs,
            "vocal_lra_lu": vocal_meas.loudness_range_lu,
            "measured_with": "vocalmix.measure.loudness (BS.1770-4 / EBU Tech 3342)",
        },
    }
    audio = {
        "dry_vocal": dry[None, :],
        "vocal": vocal,
        "backing": backing,
        "mixture": mixture,
        "raw_vocal": raw[None, :],
        "room_ir": ir,
    }
    return {k: v.astype(np.float32) for k, v in audio.items()}, truth
