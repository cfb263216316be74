"""The preset system (``preset``): the fixed template of a karaoke app. It is what the
listening test's ``commercial`` condition renders when no commercial tool's render is
supplied.

No analysis of genre, masking, dynamics or tempo: one vocal preset for every song --
high-pass 100 Hz; EQ -2 dB at 250 Hz (Q 1), +3 dB at 3 kHz (Q 1), +2 dB high shelf at
10 kHz; compressor -20 dBFS, 3:1, 10 ms / 150 ms; a "hall" send (room size 0.65, damping
0.5, pre-delay 20 ms, return -10 dB, send 150 Hz - 9 kHz); and a fixed balance of +1 LU
(the vocal's integrated loudness set 1 LU above the backing's, as the apps' microphone AGC
does). Pitch correction only when asked, with the app style of a fast retune (20 ms).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from vocalmix.measure import loudness
from vocalmix.dsp import chain
from vocalmix.dsp.effects import CompressorSettings, EQBand
from vocalmix.dsp.recipe import MixRecipe, VocalRecipe
from vocalmix.dsp.reverb import ReverbSettings
from vocalmix.mixing.base import MixChoice, MixContext
from vocalmix.mixing.common import gain_for, prepare_vocal

__all__ = ["PRESET_VOCAL", "PRESET_BALANCE_LU", "PresetMixer"]

PRESET_BALANCE_LU = 1.0
PRESET_VOCAL = VocalRecipe(
    highpass_hz=100.0,
    eq=(EQBand("peak", 250.0, -2.0, 1.0), EQBand("peak", 3000.0, 3.0, 1.0),
        EQBand("high_shelf", 10000.0, 2.0, 0.707)),
    compressor=CompressorSettings(threshold_db=-20.0, ratio=3.0, attack_ms=10.0,
                                  release_ms=150.0),
    reverb=ReverbSettings(room_size=0.65, size=1.0, damping=0.5, width=1.0, wet_db=-10.0,
                          predelay_ms=20.0, highpass_hz=150.0, lowpass_hz=9000.0),
)


class PresetMixer:
    """The preset system (see the module docstring): reads only ``context.pitch_correct`` and
    ``context.cleanup``."""

    name = "preset"
    needs_genre = False

    def choose(self, vocal: NDArray, backing: NDArray, sample_rate: int,
               context: MixContext) -> MixChoice:
        """The preset recipe, with the vocal gain set for the fixed +1 LU balance."""
        vocal = np.atleast_2d(np.asarray(vocal, dtype=np.float32))
        analysis: dict = {"preset": "karaoke-app", "balance_lu": PRESET_BALANCE_LU}
        source, pc, corrected, prep = prepare_vocal(vocal, backing, sample_rate, context,
                                                    retune_ms=20.0)
        prep.pop("key", None)
        analysis.update(prep)
        v = replace(PRESET_VOCAL, pitch_correction=pc, cleanup=context.cleanup)
        stem = chain.process_vocal(source, sample_rate, replace(v, pitch_correction=None,
                                                                cleanup=None))
        lv = loudness.integrated_loudness(stem[:, : np.atleast_2d(backing).shape[1]],
                                          sample_rate)
        lb = loudness.integrated_loudness(np.atleast_2d(backing), sample_rate)
        gain = gain_for(lv, lb, PRESET_BALANCE_LU)
        recipe = MixRecipe(system=self.name, vocal=replace(v, gain_db=gain), analysis=analysis)
        return MixChoice(recipe, corrected)
