"""Dataset adapters: find the tracks of each configured dataset and load their stems.

Discovery (:func:`discover`) only lists directories and reads metadata files; it is cheap
enough to run when Snakemake builds its DAG, so the ingestion rule can name every source
file as an input. Loading (:func:`load_track`) reads and checks the audio and returns
standardised stems; anything wrong raises :class:`TrackRejected` naming the file and the
problem, so one bad track is reported and skipped.

Layouts
-------
``demo``        the generator's songs (``results/demo/<id>/``).
``musdb18hq``   ``{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav``;
                backing = drums + bass + other; genre from the bundled MUSDB18 track list.
``medleydb``    ``Audio/<track>/<track>_METADATA.yaml`` (or ``Metadata/``), ``<track>_MIX.wav``,
                ``<track>_STEMS/<track>_STEM_NN.wav`` and optional ``<track>_RAW/``; vocal =
                the stems whose instrument is a singer, rapper or vocalists, backing = the rest,
                raw vocal = the raw tracks of the vocal stems when present.
``ccmixter``    ``<song>/{mix,source-01,source-02}.wav``; source-02 is the voice and source-01
                the accompaniment (configurable with ``vocal_file`` / ``backing_file``).
``ikala``       ``Wavfile/<song>_<section>.wav`` stereo: left = accompaniment, right = raw
                vocal; every clip in ``test`` unless ``split`` says otherwise.
``mir1k``       ``Wavfile/<singer>_<song>_<n>.wav`` stereo, 16 kHz: left = accompaniment,
                right = raw vocal; ``split: auto`` splits by singer (seeded, ``ingest``
                fractions of the clips), so no singer is in two splits.
``damp_vsep``   a metadata CSV (``metadata``, default ``vsep_metadata.csv``) with columns
                ``perf_key, vocal_path, background_path[, mix_path]`` relative to the root;
                the vocal is the raw phone recording. DAMP-VSEP ships AAC (.m4a) backings,
                which libsndfile cannot read: convert them to FLAC first (see README).
``folder``      ``<track>/vocals.<ext> + accompaniment.<ext>`` [+ ``mixture.<ext>``]; set
                ``source: raw`` when the vocals are unprocessed takes.
"""

from __future__ import annotations

import csv
import logging
import math
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from vocalmix.audio import AudioError, AudioStream, db_to_gain, open_audio, resample, to_channels
from vocalmix.corpus.demo_layout import genre_of, song_ids
from vocalmix.corpus.tracks import (
    AUDIO_EXTS,
    Candidate,
    CorpusError,
    Rejection,
    TrackRejected,
    assign_splits,
    genre_slug,
    slug,
    split_candidates,
)

log = logging.getLogger(__name__)

__all__ = ["Candidate", "Rejection", "TrackRejected", "CorpusError", "ADAPTERS", "discover",
           "open_track", "TrackSource", "load_track", "slug", "assign_splits",
           "synthetic_datasets"]

VOCAL_INSTRUMENTS = ("singer", "rapper", "vocalists", "vocalist", "choir")
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def _find(folder: Path, stem: str) -> Path | None:
    for ext in AUDIO_EXTS:
        p = folder / f"{stem}{ext}"
        if p.exists():
            return p
    return None


def _entry_name(entry: dict) -> str:
    return slug(entry.get("name") or entry["adapter"]).replace("-", "")


def synthetic_datasets(config: dict) -> list[str]:
    """Names of the configured datasets whose songs are synthetic (the demo generator's):
    every other dataset, and the separated finished songs, are real recordings."""
    return sorted({_entry_name(e) for e in config.get("datasets") or []
                   if e.get("adapter") == "demo"})


def _root(entry: dict) -> Path:
    root = Path(str(entry["root"])).expanduser()
    if not root.is_dir():
        raise CorpusError(f"dataset '{_entry_name(entry)}' (adapter {entry['adapter']}): root "
                          f"'{root}' does not exist or is not a directory")
    return root


# --------------------------------------------------------------------------------- adapters
def _discover_demo(entry: dict, config: dict) -> tuple[list[Candidate], list[Rejection]]:
    demo = config["demo"]
    ids = song_ids(int(demo["songs"]))
    genres = [genre_of(i, demo["genres"]) for i in range(len(ids))]
    splits = assign_splits(ids, genres, seed=int(config["seed"]),
                           test_fraction=float(demo["test_fraction"]),
                           valid_fraction=float(demo["valid_fraction"]))
    out = []
    for song, genre in zip(ids, genres):
        d = f"results/demo/{song}"
        out.append(Candidate(
            track_id=song, dataset=_entry_name(entry), adapter="demo",
            split=entry.get("split", "auto") if entry.get("split", "auto") != "auto"
            else splits[song],
            source="stems", genre=genre,
            files={"vocal": [f"{d}/vocal.flac"], "backing": [f"{d}/backing.flac"],
                   "mixture": [f"{d}/mixture.flac"], "raw_vocal": [f"{d}/raw_vocal.flac"]},
            room_ir=f"{d}/room_ir.flac", truth=f"{d}/truth.json", origin=d,
            weight=float(entry.get("weight", 1.0))))
    return out, []


def _musdb_genres(entry: dict) -> dict[str, str]:
    path = Path(entry["tracklist"]) if entry.get("tracklist") else DATA_DIR / "musdb18_genres.tsv"
    genres: dict[str, str] = {}
    with open(path, newline="") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    delim = "\t" if "\t" in lines[0] else ","
    for row in csv.DictReader(lines, delimiter=delim):
        name = row.get("track") or row.get("Track Name")
        genre = row.get("genre") or row.get("Genre")
        if name and genre:
            genres[name.strip()] = genre.strip()
    return genres


def _discover_musdb18hq(entry: dict, config: dict) -> tuple[list[Candidate], list[Rejection]]:
    root = _root(entry)
    name = _entry_name(entry)
    genres = _musdb_genres(entry)
    cands, rejs = [], []
    stems = ("vocals", "drums", "bass", "other")
    for subset in ("train", "test"):
        folder = root / subset
        if not folder.is_dir():
            continue
        for track_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            tid = f"{name}_{slug(track_dir.name)}"
            found = {s: _find(track_dir, s) for s in (*stems, "mixture")}
            missing = [s for s in stems if found[s] is None]
            if missing:
                rejs.append(Rejection(tid, name, str(track_dir / f"{missing[0]}.wav"),
                                      f"missing stem(s): {', '.join(m + '.wav' for m in missing)}"))
                continue
            files = {"vocal": [str(found["vocals"])],
                     "backing": [str(found[s]) for s in ("drums", "bass", "other")]}
            if found["mixture"] is not None:
                files["mixture"] = [str(found["mixture"])]
            cands.append(Candidate(
                track_id=tid, dataset=name, adapter="musdb18hq", split=subset, source="stems",
                genre=genre_slug(genres.get(track_dir.name)), files=files, origin=str(track_dir),
                weight=float(entry.get("weight", 1.0))))
    _carve_valid(cands, config, entry)
    return cands, rejs


def _carve_valid(cands: list[Candidate], config: dict, entry: dict) -> None:
    """Move a seeded, genre-stratified share of the training tracks to ``valid``."""
    train = [c for c in cands if c.split == "train"]
    frac = float(config["ingest"]["valid_fraction"])
    if not train or frac <= 0:
        return
    splits = assign_splits([c.track_id for c in train], [c.genre for c in train],
                           seed=int(config["seed"]), test_fraction=0.0, valid_fraction=frac)
    for c in train:
        c.split = splits[c.track_id]


def _discover_medleydb(entry: dict, config: dict) -> tuple[list[Candidate], list[Rejection]]:
    import yaml

    root = _root(entry)
    name = _entry_name(entry)
    audio = root / "Audio" if (root / "Audio").is_dir() else root
    cands, rejs = [], []
    for track_dir in sorted(p for p in audio.iterdir() if p.is_dir()):
        t = track_dir.name
        tid = f"{name}_{slug(t)}"
        meta_path = next((p for p in (track_dir / f"{t}_METADATA.yaml",
                                      root / "Metadata" / f"{t}_METADATA.yaml") if p.exists()), None)
        if meta_path is None:
            rejs.append(Rejection(tid, name, str(track_dir / f"{t}_METADATA.yaml"),
                                  "missing metadata YAML"))
            continue
        try:
            meta = yaml.safe_load(meta_path.read_text()) or {}
            stems = meta["stems"]
        except Exception as exc:  # malformed YAML or no stems
            rejs.append(Rejection(tid, name, str(meta_path), f"unreadable metadata ({exc})"))
            continue
        stem_dir = track_dir / meta.get("stem_dir", f"{t}_STEMS")
        raw_dir = track_dir / meta.get("raw_dir", f"{t}_RAW")
        vocal, backing, raw = [], [], []
        for key in sorted(stems):
            stem = stems[key] or {}
            instrument = str(stem.get("instrument", "")).lower()
            path = stem_dir / str(stem.get("filename", ""))
            is_vocal = any(v in instrument for v in VOCAL_INSTRUMENTS)
            (vocal if is_vocal else backing).append(str(path))
            if is_vocal:
                for r in sorted((stem.get("raw") or {}).values(), key=lambda r: r.get("filename", "")):
                    if (raw_dir / r.get("filename", "")).exists():
                        raw.append(str(raw_dir / r["filename"]))
        if not vocal:
            rejs.append(Rejection(tid, name, str(meta_path), "instrumental: no singer/rapper stem"))
            continue
        if not backing:
            rejs.append(Rejection(tid, name, str(meta_path), "no backing stems"))
            continue
        files = {"vocal": vocal, "backing": backing}
        mix = track_dir / meta.get("mix_filename", f"{t}_MIX.wav")
        if mix.exists():
            files["mixture"] = [str(mix)]
        if raw:
            files["raw_vocal"] = raw
        cands.append(Candidate(
            track_id=tid, dataset=name, adapter="medleydb", split="train", source="stems",
            genre=genre_slug(meta.get("genre")), files=files, origin=str(track_dir),
            weight=float(entry.get("weight", 1.0))))
    split_candidates(cands, config)
    return cands, rejs


def _discover_ccmixter(entry: dict, config: dict) -> tuple[list[Candidate], list[Rejection]]:
    root = _root(entry)
    name = _entry_name(entry)
    vfile = entry.get("vocal_file", "source-02")
    bfile = entry.get("backing_file", "source-01")
    cands, rejs = [], []
    for song in sorted(p for p in root.iterdir() if p.is_dir()):
        tid = f"{name}_{slug(song.name)}"
        v, b, m = _find(song, vfile), _find(song, bfile), _find(song, "mix")
        if v is None or b is None:
            miss = vfile if v is None else bfile
            rejs.append(Rejection(tid, name, str(song / f"{miss}.wav"), f"missing {miss}.wav"))
            continue
        files = {"vocal": [str(v)], "backing": [str(b)]}
        if m is not None:
            files["mixture"] = [str(m)]
        cands.append(Candidate(tid, name, "ccmixter", "train", "stems", None, files,
                               origin=str(song), weight=float(entry.get("weight", 1.0))))
    split_candidates(cands, config)
    return cands, rejs


def _discover_stereo_lr(adapter: str, *, split_by_group: bool) -> Callable:
    """Discovery of one-stereo-file-per-clip datasets (left = accompaniment, right = vocal).

    A clip's group is the part of its name before the first ``_``: MIR-1K's
    ``<singer>_<song>_<n>`` gives the singer, iKala's ``<song>_<section>`` the song. With
    ``split_by_group`` (MIR-1K) and ``split: auto`` the clips get a seeded split with the
    ``ingest`` fractions that keeps each singer's clips together
    (:func:`~vocalmix.corpus.tracks.assign_group_splits`); otherwise every clip is ``test``.
    """

    def discover_lr(entry: dict, config: dict) -> tuple[list[Candidate], list[Rejection]]:
        root = _root(entry)
        name = _entry_name(entry)
        folder = root / "Wavfile" if (root / "Wavfile").is_dir() else root
        weight = float(entry.get("weight", 1.0))
        cands = []
        for f in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTS):
            cands.append(Candidate(f"{name}_{slug(f.stem)}", name, adapter, "test", "raw", None,
                                   {"stereo": [str(f)]}, layout="stereo_lr", origin=str(f),
                                   weight=weight, group=slug(f.stem.split("_", 1)[0])))
        if split_by_group and cands and entry.get("split", "auto") == "auto":
            split_candidates(cands, config, by_group=True)
        return cands, []

    return discover_lr


def _discover_damp_vsep(entry: dict, config: dict) -> tuple[list[Candidate], list[Rejection]]:
    root = _root(entry)
    name = _entry_name(entry)
    meta = root / entry.get("metadata", "vsep_metadata.csv")
    if not meta.exists():
        raise CorpusError(f"dataset '{name}' (adapter damp_vsep): metadata CSV '{meta}' not found; "
                          "set 'metadata' to the CSV with perf_key, vocal_path, background_path")
    cands, rejs = [], []
    with open(meta, newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"perf_key", "vocal_path", "background_path"}
        if not need <= set(reader.fieldnames or []):
            raise CorpusError(f"{meta}: needs columns {', '.join(sorted(need))}; "
                              f"found {', '.join(reader.fieldnames or [])}")
        for row in reader:
            tid = f"{name}_{slug(row['perf_key'])}"
            v, b = root / row["vocal_path"], root / row["background_path"]
            missing = [str(p) for p in (v, b) if not p.exists()]
            if missing:
                rejs.append(Rejection(tid, name, missing[0], "file listed in metadata is missing"))
                continue
            files = {"raw_vocal": [str(v)], "backing": [str(b)]}
            if row.get("mix_path") and (root / row["mix_path"]).exists():
                files["mixture"] = [str(root / row["mix_path"])]
            cands.append(Candidate(tid, name, "damp_vsep", "test", "raw", None, files,
                                   origin=str(v.parent), weight=float(entry.get("weight", 1.0))))
    return cands, rejs


def _discover_folder(entry: dict, config: dict) -> tuple[list[Candidate], list[Rejection]]:
    root = _root(entry)
    name = _entry_name(entry)
    source = entry.get("source", "stems")
    role = "raw_vocal" if source == "raw" else "vocal"
    cands, rejs = [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        tid = f"{name}_{slug(d.name)}"
        v, b, m = _find(d, "vocals"), _find(d, "accompaniment"), _find(d, "mixture")
        if v is None or b is None:
            miss = "vocals" if v is None else "accompaniment"
            rejs.append(Rejection(tid, name, str(d / f"{miss}.wav"), f"missing {miss}.wav"))
            continue
        files = {role: [str(v)], "backing": [str(b)]}
        if m is not None:
            files["mixture"] = [str(m)]
        cands.append(Candidate(tid, name, "folder", "train" if source == "stems" else "test",
                               source, genre_slug(entry.get("genre")), files, origin=str(d),
                               weight=float(entry.get("weight", 1.0))))
    if source == "stems":
        split_candidates(cands, config)
    return cands, rejs


ADAPTERS: dict[str, Callable[[dict, dict], tuple[list[Candidate], list[Rejection]]]] = {
    "demo": _discover_demo,
    "musdb18hq": _discover_musdb18hq,
    "medleydb": _discover_medleydb,
    "ccmixter": _discover_ccmixter,
    "ikala": _discover_stereo_lr("ikala", split_by_group=False),
    "mir1k": _discover_stereo_lr("mir1k", split_by_group=True),
    "damp_vsep": _discover_damp_vsep,
    "folder": _discover_folder,
}


def discover(config: dict) -> tuple[list[Candidate], list[Rejection]]:
    """All candidate tracks of every configured dataset, plus discovery-time rejections.

    Raises
    ------
    CorpusError
        A dataset root that does not exist, duplicate dataset names, or no track at all.
        (Two tracks with the same id are no error: the later one is rejected, its row
        naming both.)
    """
    cands: list[Candidate] = []
    rejs: list[Rejection] = []
    names = set()
    for entry in config["datasets"]:
        name = _entry_name(entry)
        if name in names:
            raise CorpusError(f"two datasets are named '{name}'; give each a distinct 'name'")
        names.add(name)
        found, rejected = ADAPTERS[entry["adapter"]](entry, config)
        if entry.get("split", "auto") != "auto":
            for c in found:
                c.split = entry["split"]
        if entry.get("genre"):
            for c in found:
                c.genre = genre_slug(entry["genre"])
        if entry.get("max_tracks"):
            found = found[: int(entry["max_tracks"])]
        if not found:
            where = entry.get("root", "(generated)")
            msg = f"no tracks found in the {entry['adapter']} layout"
            log.warning("dataset '%s' at %s: %s", name, where, msg)
            rejs.append(Rejection("", name, str(where), msg))
        cands.extend(found)
        rejs.extend(rejected)
    from vocalmix.corpus.separated import discover_mixes  # finished songs -> rule separate

    found, rejected = discover_mixes(config)
    cands.extend(found)
    rejs.extend(rejected)
    if not cands:
        details = "; ".join(f"{r.dataset}: {r.reason} ({r.file})" for r in rejs) or "none configured"
        raise CorpusError(f"the corpus is empty: no usable track in any configured dataset ({details})")
    # Folder names map to ids (slug: "My Song" and "my_song" both give "my_song"): the
    # first track keeps the id, a later one with the same id is rejected naming both, and
    # the run goes on with the rest.
    seen: dict[str, Candidate] = {}
    kept: list[Candidate] = []
    for c in cands:
        first = seen.get(c.track_id)
        if first is not None:
            reason = (f"track id '{c.track_id}' collides with {first.origin} (dataset "
                      f"'{first.dataset}'), which keeps it; rename this folder to import it")
            log.warning("%s: %s", c.origin, reason)
            rejs.append(Rejection(c.track_id, c.dataset, str(c.origin), reason))
            continue
        seen[c.track_id] = c
        kept.append(c)
    return kept, rejs


# --------------------------------------------------------------------------------- loading
#: Frames read from each file per step when a track is streamed (about 6 s at 44.1 kHz: a
#: stereo float32 block is 2 MiB; one block holds a whole MIR-1K clip).
BLOCK_FRAMES = 1 << 18


class TrackSource:
    """A candidate's audio files, opened and checked from their headers, read in blocks.

    Made by :func:`open_track`. Each role (``vocal``, ``backing``, ``mixture``,
    ``raw_vocal``) is the sum of its files (mono and stereo stems summed as stereo), or in
    the ``stereo_lr`` layout a channel of the one file (``backing`` the left, ``raw_vocal``
    the right, ``mixture`` their sum), trimmed to the shortest role. Whatever the track's
    length, :meth:`blocks` holds one block of each file at a time.

    Attributes
    ----------
    sample_rate : int
        The files' rate.
    frames : int
        Frames of every role (the shortest role's length).
    channels : dict
        role -> channels of the role's signal.
    notes : list of str
        Repairs made (channel conversions, trimmed lengths), for the manifest and the log.
    peaks : dict
        role -> largest absolute sample of the role's frames read so far.
    """

    def __init__(self, streams: list[tuple[str, AudioStream]], roles: dict[str, list[int]],
                 channels: dict[str, int], frames: int, sample_rate: int, notes: list[str],
                 stereo_lr: bool):
        self._streams = streams
        self._roles = roles
        self._stereo_lr = stereo_lr
        self.channels = channels
        self.frames = frames
        self.sample_rate = sample_rate
        self.notes = notes
        self.peaks = {role: 0.0 for role in roles}
        self._read = False

    def file_of(self, role: str) -> str:
        """The file a problem of ``role`` is reported against (its first file)."""
        return self._streams[self._roles[role][0]][0]

    def _role_block(self, role: str, data: list[NDArray], take: int) -> NDArray:
        idx = self._roles[role]
        if self._stereo_lr:
            x = data[idx[0]]
            return {"backing": x[:1, :take], "raw_vocal": x[1:, :take],
                    "mixture": x[:1, :take] + x[1:, :take]}[role]
        ch = self.channels[role]
        first = to_channels(data[idx[0]][:, :take], ch)
        if len(idx) == 1:
            return first
        acc = first.copy()  # never add into a read block
        for i in idx[1:]:  # in file order: numpy's sum of a stack of the stems, bit for bit
            acc += to_channels(data[i][:, :take], ch)
        return acc

    def blocks(self, block_frames: int | None = None) -> Iterator[dict[str, NDArray]]:
        """Successive ``{role: (channels, <= block_frames) float32}`` blocks (default
        :data:`BLOCK_FRAMES`) covering the
        roles' ``frames``. Every file is read to its end (a NaN in a part trimmed off still
        rejects the track, as a whole-file read does); :attr:`peaks` is updated. Once only.

        Raises
        ------
        TrackRejected
            A read error, NaN/inf samples, or a file that ends before its header says.
        """
        if self._read:
            raise RuntimeError("TrackSource.blocks: the files were read already")
        self._read = True
        block_frames = int(block_frames or BLOCK_FRAMES)
        longest = max(stream.frames for _, stream in self._streams)
        pos = 0
        while pos < longest:
            step = min(block_frames, longest - pos)
            data = []
            for path, stream in self._streams:
                want = min(step, stream.frames - pos)
                if want <= 0:
                    data.append(None)
                    continue
                try:
                    x = stream.read(want)
                except AudioError as exc:
                    raise TrackRejected(path, exc.problem) from None
                if x.shape[1] < want:
                    raise TrackRejected(path, f"ends after {pos + x.shape[1]} frames, though "
                                              f"its header declares {stream.frames}")
                data.append(x)
            take = min(step, self.frames - pos)
            if take > 0:
                out = {role: self._role_block(role, data, take) for role in self._roles}
                for role, x in out.items():
                    self.peaks[role] = max(self.peaks[role], float(np.max(np.abs(x))))
                yield out
            pos += step

    def check_silence(self, silence_dbfs: float) -> None:
        """Reject the track if a role (all of it read) peaks at or below ``silence_dbfs``."""
        threshold = db_to_gain(silence_dbfs)
        for role, peak in self.peaks.items():
            if peak <= threshold:
                level = "digital silence" if peak == 0 else f"peak {20 * math.log10(peak):.1f} dBFS"
                raise TrackRejected(self.file_of(role), f"{role} is silent ({level}, threshold "
                                                        f"{silence_dbfs} dBFS)")


def _open(path: str, stack: ExitStack, rate: list[int]) -> AudioStream:
    try:
        stream = stack.enter_context(open_audio(path))
    except AudioError as exc:
        raise TrackRejected(path, exc.problem) from None
    if stream.channels > 2:
        raise TrackRejected(path, f"{stream.channels} channels; only mono or stereo stems are "
                                  "supported")
    if rate and stream.sample_rate != rate[0]:
        raise TrackRejected(path, f"sample rate {stream.sample_rate} Hz differs from the track's "
                                  f"other stems ({rate[0]} Hz)")
    rate[:1] = [stream.sample_rate]
    return stream


@contextmanager
def open_track(c: Candidate, *, min_duration_s: float,
               length_tolerance_s: float) -> Iterator[TrackSource]:
    """Open and check one candidate's files from their headers, for reading in blocks.

    Raises
    ------
    TrackRejected
        Missing, unreadable or truncated files, more than two channels, mismatched rates,
        lengths beyond the tolerance, a ``stereo_lr`` file that is not stereo, or a track
        shorter than ``min_duration_s``. (NaN/inf samples, read errors and silent roles
        are found while reading: :meth:`TrackSource.blocks`, :meth:`TrackSource.check_silence`.)
    """
    with ExitStack() as stack:
        notes: list[str] = []
        rate: list[int] = []
        streams: list[tuple[str, AudioStream]] = []
        roles: dict[str, list[int]] = {}
        channels: dict[str, int] = {}
        lengths: dict[str, int] = {}
        if c.layout == "stereo_lr":
            path = c.files["stereo"][0]
            stream = _open(path, stack, rate)
            if stream.channels != 2:
                raise TrackRejected(path, f"expected stereo (left = accompaniment, right = "
                                          f"vocal), got {stream.channels} channel(s)")
            streams.append((path, stream))
            for role in ("backing", "raw_vocal", "mixture"):
                roles[role], channels[role], lengths[role] = [0], 1, stream.frames
        else:
            for role, files in c.files.items():
                first = len(streams)
                for f in files:
                    streams.append((f, _open(f, stack, rate)))
                parts = streams[first:]
                sizes = [s.frames for _, s in parts]
                if max(sizes) - min(sizes) > length_tolerance_s * rate[0]:
                    i, j = int(np.argmin(sizes)), int(np.argmax(sizes))
                    raise TrackRejected(parts[i][0], f"{sizes[i] / rate[0]:.2f} s long but "
                                        f"{Path(parts[j][0]).name} is {sizes[j] / rate[0]:.2f} s")
                if len({s.channels for _, s in parts}) > 1:
                    notes.append(f"{role}: mono and stereo stems summed as stereo")
                roles[role] = list(range(first, len(streams)))
                channels[role] = max(s.channels for _, s in parts)
                lengths[role] = min(sizes)
        sr = rate[0]
        n = min(lengths.values())
        first_file = {role: streams[idx[0]][0] for role, idx in roles.items()}
        if max(lengths.values()) - n > length_tolerance_s * sr:
            short = min(lengths, key=lengths.get)
            long_ = max(lengths, key=lengths.get)
            raise TrackRejected(first_file[short], f"{short} is {lengths[short] / sr:.2f} s but "
                                                   f"{long_} is {lengths[long_] / sr:.2f} s "
                                                   f"(tolerance {length_tolerance_s} s)")
        if max(lengths.values()) != n:
            notes.append(f"lengths differed by {(max(lengths.values()) - n) / sr * 1000:.0f} ms; "
                         "trimmed to the shortest")
        if n / sr < min_duration_s:
            raise TrackRejected(next(iter(first_file.values())),
                                f"{n / sr:.2f} s long, shorter than the {min_duration_s} s "
                                "analysis window")
        yield TrackSource(streams, roles, channels, n, sr, notes, c.layout == "stereo_lr")


def load_track(c: Candidate, *, sample_rate: int, min_duration_s: float,
               silence_dbfs: float, length_tolerance_s: float) -> tuple[dict[str, NDArray], list[str]]:
    """Read, check and standardise one candidate's audio, whole (ingestion streams it
    instead: :func:`open_track`, with the same checks).

    Returns
    -------
    audio : dict
        role -> float32 ``(channels, samples)`` at ``sample_rate``; roles among ``vocal``,
        ``backing``, ``mixture``, ``raw_vocal``.
    notes : list of str
        Repairs made (trimmed lengths, channel conversions), for the manifest and the log.

    Raises
    ------
    TrackRejected
        Unreadable/truncated files, NaN/inf, mismatched rates, lengths beyond the tolerance,
        wrong channel layout, silent stems, or a track shorter than ``min_duration_s``.
    """
    with open_track(c, min_duration_s=min_duration_s,
                    length_tolerance_s=length_tolerance_s) as src:
        audio = {role: np.empty((ch, src.frames), dtype=np.float32)
                 for role, ch in src.channels.items()}
        pos = 0
        for block in src.blocks():
            size = next(iter(block.values())).shape[1]
            for role, x in block.items():
                audio[role][:, pos:pos + size] = x
            pos += size
        src.check_silence(silence_dbfs)
        notes, sr = list(src.notes), src.sample_rate
    if sr != sample_rate:
        audio = {role: resample(x, orig_sample_rate=sr, target_sample_rate=sample_rate)
                 for role, x in audio.items()}
        notes.append(f"resampled {sr} -> {sample_rate} Hz")
    return audio, notes
