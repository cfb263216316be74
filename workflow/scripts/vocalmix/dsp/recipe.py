"""``MixRecipe``: every decision a mixing system makes, and nothing else.

Rule-based, data-driven and preset systems differ only in how they choose a recipe;
:func:`vocalmix.mixing.chain.render` renders any recipe the same way. A recipe round-trips
through JSON, with the unit in every name::

    {
      "system": "rule_based",
      "vocal": {
        "pitch_correction": {"key": "A", "mode": "minor", "strength": 1.0, "retune_ms": 40.0},
        "highpass_hz": 100.0,
        "eq": [{"type": "peak", "frequency_hz": 3000.0, "gain_db": 2.5, "q": 1.0}],
        "compressor": {"threshold_db": -24.0, "ratio": 4.0, "attack_ms": 7.5,
                       "release_ms": 400.0},
        "gain_db": 3.2,
        "reverb": {"room_size": 0.5, "size": 1.0, "damping": 0.4, "width": 1.0,
                   "wet_db": -14.0, "predelay_ms": 30.0, "highpass_hz": 200.0,
                   "lowpass_hz": 8000.0}
      },
      "backing": {"eq": [...], "gain_db": 0.0},
      "bus": {"ceiling_dbtp": -1.0, "limiter_release_ms": 100.0},
      "analysis": {... what the system measured and aimed for: free-form, for people ...}
    }

``pitch_correction``, ``compressor`` and ``reverb`` may be ``null`` (off); so may the vocal's
``cleanup`` (phone-take noise reduction and de-essing, :mod:`vocalmix.dsp.cleanup`, first in
the branch: ``{"noise_reduction": {...} | null, "deesser": {...} | null}``), which a recipe
without the key also means.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from vocalmix.dsp.cleanup import Cleanup
from vocalmix.dsp.effects import CompressorSettings, EQBand
from vocalmix.dsp.reverb import ReverbSettings

__all__ = ["PitchCorrection", "VocalRecipe", "BackingRecipe", "BusRecipe", "MixRecipe",
           "SCALE_MODES", "NOTE_NAMES"]

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SCALE_MODES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10),
               "chromatic": tuple(range(12))}


@dataclass(frozen=True)
class PitchCorrection:
    """Snap sung notes to the scale of ``key`` ``mode``.

    strength : 0-1, share of each note's deviation that is corrected.
    retune_ms : 0-500 ms, time constant with which the correction follows a new note
        (small: the hard "auto-tune" effect; 30-80 ms: natural).
    """

    key: str
    mode: str = "major"
    strength: float = 1.0
    retune_ms: float = 40.0

    def __post_init__(self):
        if self.key not in NOTE_NAMES:
            raise ValueError(f"pitch correction key must be one of {', '.join(NOTE_NAMES)}, "
                             f"got {self.key!r}")
        if self.mode not in SCALE_MODES:
            raise ValueError(f"pitch correction mode must be one of {', '.join(SCALE_MODES)}, "
                             f"got {self.mode!r}")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"pitch correction strength must be in [0, 1], got {self.strength}")
        if not 0.0 <= self.retune_ms <= 500.0:
            raise ValueError(f"pitch correction retune_ms must be in [0, 500], got {self.retune_ms}")

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        tonic = NOTE_NAMES.index(self.key)
        return tuple(sorted((tonic + s) % 12 for s in SCALE_MODES[self.mode]))


def _eq_list(items: Any, where: str) -> list[EQBand]:
    if not isinstance(items, list):
        raise ValueError(f"{where}: expected a list of EQ bands")
    return [EQBand.from_dict(b) for b in items]


@dataclass(frozen=True)
class VocalRecipe:
    highpass_hz: float | None = 80.0
    eq: tuple[EQBand, ...] = ()
    compressor: CompressorSettings | None = None
    gain_db: float = 0.0
    reverb: ReverbSettings | None = None
    pitch_correction: PitchCorrection | None = None
    cleanup: Cleanup | None = None

    def __post_init__(self):
        if self.highpass_hz is not None and not 10.0 <= self.highpass_hz <= 2000.0:
            raise ValueError(f"vocal highpass_hz must be in [10, 2000] or null, got {self.highpass_hz}")
        if not -60.0 <= self.gain_db <= 40.0:
            raise ValueError(f"vocal gain_db must be in [-60, 40], got {self.gain_db}")

    def to_dict(self) -> dict:
        return {
            "cleanup": None if self.cleanup is None else self.cleanup.to_dict(),
            "pitch_correction": None if self.pitch_correction is None else {
                "key": self.pitch_correction.key, "mode": self.pitch_correction.mode,
                "strength": self.pitch_correction.strength,
                "retune_ms": self.pitch_correction.retune_ms},
            "highpass_hz": self.highpass_hz,
            "eq": [b.to_dict() for b in self.eq],
            "compressor": None if self.compressor is None else self.compressor.to_dict(),
            "gain_db": self.gain_db,
            "reverb": None if self.reverb is None else self.reverb.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "VocalRecipe":
        pc = d.get("pitch_correction")
        return cls(
            cleanup=None if d.get("cleanup") is None else Cleanup.from_dict(d["cleanup"]),
            highpass_hz=None if d.get("highpass_hz") is None else float(d["highpass_hz"]),
            eq=tuple(_eq_list(d.get("eq", []), "vocal.eq")),
            compressor=(None if d.get("compressor") is None
                        else CompressorSettings.from_dict(d["compressor"])),
            gain_db=float(d.get("gain_db", 0.0)),
            reverb=None if d.get("reverb") is None else ReverbSettings.from_dict(d["reverb"]),
            pitch_correction=None if pc is None else PitchCorrection(
                key=pc["key"], mode=pc.get("mode", "major"),
                strength=float(pc.get("strength", 1.0)),
                retune_ms=float(pc.get("retune_ms", 40.0))),
        )


@dataclass(frozen=True)
class BackingRecipe:
    eq: tuple[EQBand, ...] = ()
    gain_db: float = 0.0

    def __post_init__(self):
        if not -60.0 <= self.gain_db <= 40.0:
            raise ValueError(f"backing gain_db must be in [-60, 40], got {self.gain_db}")

    def to_dict(self) -> dict:
        return {"eq": [b.to_dict() for b in self.eq], "gain_db": self.gain_db}

    @classmethod
    def from_dict(cls, d: dict) -> "BackingRecipe":
        return cls(eq=tuple(_eq_list(d.get("eq", []), "backing.eq")),
                   gain_db=float(d.get("gain_db", 0.0)))


@dataclass(frozen=True)
class BusRecipe:
    ceiling_dbtp: float = -1.0
    limiter_release_ms: float = 100.0

    def __post_init__(self):
        if not -20.0 <= self.ceiling_dbtp <= 0.0:
            raise ValueError(f"bus ceiling_dbtp must be in [-20, 0], got {self.ceiling_dbtp}")
        if not 1.0 <= self.limiter_release_ms <= 2000.0:
            raise ValueError("bus limiter_release_ms must be in [1, 2000], got "
                             f"{self.limiter_release_ms}")

    def to_dict(self) -> dict:
        return {"ceiling_dbtp": self.ceiling_dbtp, "limiter_release_ms": self.limiter_release_ms}

    @classmethod
    def from_dict(cls, d: dict) -> "BusRecipe":
        return cls(ceiling_dbtp=float(d.get("ceiling_dbtp", -1.0)),
                   limiter_release_ms=float(d.get("limiter_release_ms", 100.0)))


@dataclass(frozen=True)
class MixRecipe:
    system: str
    vocal: VocalRecipe = field(default_factory=VocalRecipe)
    backing: BackingRecipe = field(default_factory=BackingRecipe)
    bus: BusRecipe = field(default_factory=BusRecipe)
    analysis: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {"system": self.system, "vocal": self.vocal.to_dict(),
                "backing": self.backing.to_dict(), "bus": self.bus.to_dict(),
                "analysis": self.analysis}

    @classmethod
    def from_dict(cls, d: dict) -> "MixRecipe":
        if not isinstance(d, dict) or "vocal" not in d:
            raise ValueError("not a mix recipe: expected an object with 'vocal', 'backing', 'bus'")
        unknown = set(d) - {"system", "vocal", "backing", "bus", "analysis"}
        if unknown:
            raise ValueError(f"unknown recipe key(s): {', '.join(sorted(unknown))}")
        return cls(system=str(d.get("system", "manual")),
                   vocal=VocalRecipe.from_dict(d["vocal"]),
                   backing=BackingRecipe.from_dict(d.get("backing", {})),
                   bus=BusRecipe.from_dict(d.get("bus", {})),
                   analysis=dict(d.get("analysis", {})))

    def save(self, path: str | os.PathLike) -> None:
        from vocalmix.files import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MixRecipe":
        with open(path) as fh:
            try:
                data = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: not valid JSON ({exc})") from None
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None
