"""Rule ``make_demo_corpus``: one procedurally generated demo song."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from vocalmix.audio import write_audio
from vocalmix.corpus.demo import generate_song
from vocalmix.files import write_json

log = logging.getLogger(__name__)

__all__ = ["make_demo_corpus"]


def make_demo_corpus(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                     params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry (rule ``make_demo_corpus``): write one song's audio and ``truth.json``."""
    song_id = params["song_id"]
    audio, truth = generate_song(
        song_id, params["genre"], duration_s=float(params["duration_s"]),
        sample_rate=int(params["sample_rate"]), seed=int(params["seed"]))
    for name, x in audio.items():
        # FLAC, 24-bit (issue 19, disk): a third to a half of the float WAV's bytes; the
        # song is the corpus that every stage reads in place, and 24-bit PCM (-144 dBFS
        # steps, every stem peaking under -1 dBFS) is far finer than any of them measures
        write_audio(outputs[name], x, int(params["sample_rate"]), subtype="PCM_24")
    write_json(outputs["truth"], truth)
    log.info("%s (%s, %.0f BPM, %s %s): vocal-to-backing %.2f LU, %d notes", song_id,
             truth["genre"], truth["tempo_bpm"], truth["key"], truth["mode"],
             truth["targets"]["vocal_to_backing_lu"], len(truth["notes"]))
