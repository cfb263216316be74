"""Rule ``make_demo_corpus``: the procedurally generated demo songs, all in one job.

One job for the whole corpus (issue 20): a song takes about half a CPU-second to make,
less than a job's own start-up (interpreter, Snakemake's script preamble, imports), so one
job per song spent most of its time starting. The songs are made side by side by
``threads`` worker processes; each song depends only on its id, genre and the seed, so the
bytes are the same whatever the order or the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any, Mapping, Sequence

from vocalmix.audio import write_audio
from vocalmix.corpus.demo import generate_song
from vocalmix.files import write_json

log = logging.getLogger(__name__)

__all__ = ["make_demo_corpus", "make_demo_song", "ROLES"]

# the audio files of a song, as the rule names its outputs (plus "truth": truth.json)
ROLES = ("dry_vocal", "vocal", "backing", "mixture", "raw_vocal", "room_ir")


def make_demo_song(song_id: str, genre: str, outputs: Mapping[str, str], *,
                   duration_s: float, sample_rate: int, seed: int) -> str:
    """Write one song's audio (``outputs[role]``) and ``outputs["truth"]``; returns the
    log line that describes it."""
    audio, truth = generate_song(song_id, genre, duration_s=duration_s,
                                 sample_rate=sample_rate, seed=seed)
    for name, x in audio.items():
        # FLAC, 24-bit (issue 19, disk): a third to a half of the float WAV's bytes; the
        # song is the corpus that every stage reads in place, and 24-bit PCM (-144 dBFS
        # steps, every stem peaking under -1 dBFS) is far finer than any of them measures
        write_audio(outputs[name], x, sample_rate, subtype="PCM_24")
    write_json(outputs["truth"], truth)
    return (f"{song_id} ({truth['genre']}, {truth['tempo_bpm']:.0f} BPM, {truth['key']} "
            f"{truth['mode']}): vocal-to-backing "
            f"{truth['targets']['vocal_to_backing_lu']:.2f} LU, {len(truth['notes'])} notes")


def _song_task(args: tuple) -> str:
    song_id, genre, outputs, kwargs = args
    return make_demo_song(song_id, genre, outputs, **kwargs)


def make_demo_corpus(inputs: Mapping[str, Any], outputs: Mapping[str, Any],
                     params: Mapping[str, Any], threads: int = 1) -> None:
    """Stage entry (rule ``make_demo_corpus``): every demo song.

    ``params["songs"]`` lists ``{"song_id", "genre"}`` in the order of the output lists
    (``outputs[role][i]`` belongs to song ``i``)."""
    songs: Sequence[Mapping[str, str]] = params["songs"]
    kwargs = {"duration_s": float(params["duration_s"]),
              "sample_rate": int(params["sample_rate"]), "seed": int(params["seed"])}
    tasks = [(s["song_id"], s["genre"],
              {name: outputs[name][i] for name in (*ROLES, "truth")}, kwargs)
             for i, s in enumerate(songs)]
    workers = max(1, min(int(threads), len(tasks)))
    log.info("%d demo songs, %d worker process(es)", len(tasks), workers)
    if workers == 1:
        lines = map(_song_task, tasks)
        for line in lines:
            log.info("%s", line)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for line in pool.imap(_song_task, tasks):
            log.info("%s", line)
