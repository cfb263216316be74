"""Rule ``export_waet`` / ``vocalmix listening export``: the WAET test on disk.

``listening_test/waet/`` mirrors the root of a Web Audio Evaluation Tool checkout, so that
copying its contents into one is all an experimenter does::

    tests/vocalmix.xml              the test (open test.html?url=tests/vocalmix.xml)
    media/vocalmix/<track>/<condition>.wav   the stimuli, as rendered (loudness-normalised;
                                    hard links to the renders where the disk allows)
    KEY.tsv                         element id -> track, condition, file, render facts
    README-vocalmix.md              how to serve the test and bring the results back

Each page's ``hostURL`` is ``media/vocalmix/<track>/``: WAET resolves it against its root
(test.html), not against the XML file (FORMAT.md 2.3). Tracks without the reference
condition are left out (logged); a track whose stimulus cannot be read is left out too.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from vocalmix.conditions import CONDITIONS, LABELS, REFERENCE
from vocalmix.audio import AudioError, audio_info
from vocalmix.config import schema_settings
from vocalmix.files import atomic_path
from vocalmix.listening import LOCAL_URL, MEDIA_DIR, TEST_XML
from vocalmix.listening.spec import (
    Item,
    Stimulus,
    build_test,
    element_id,
    open_reference_id,
    page_id,
    to_bytes,
)
from vocalmix.seeding import rng
from vocalmix.tables import write_table

__all__ = ["ListeningSettings", "ExportError", "export_test", "read_renders", "read_key", "KEY_COLUMNS"]

log = logging.getLogger(__name__)

KEY_COLUMNS = ("element_id", "page_id", "track", "condition", "type", "file", "source",
               "split", "genre", "duration_s", "integrated_lufs", "true_peak_dbtp")
README_NAME = "README-vocalmix.md"
_LOUDNESS_TOLERANCE_LU = 0.5


@schema_settings("listening")
class ListeningSettings:
    """The exported listening test (config section ``listening`` without its ``simulation``,
    which only the simulated panel reads; defaults from the schema): the stimuli's level
    (checked, not changed: rendering normalised them), the WAET interface, the open
    reference button and the most pages."""

    loudness_lufs: float
    true_peak_dbtp: float
    interface: str
    open_reference: bool
    max_items: int | None


class ExportError(ValueError):
    """Unusable input for the export; the message names the file."""


def read_renders(path: str | os.PathLike, base: str | os.PathLike | None = None
                 ) -> list[dict]:
    """Rows of ``renders.tsv`` (track, condition, path, ...), checked.

    Relative ``path`` values are taken relative to ``base`` (default: the current
    directory, which is the workflow's working directory under Snakemake).
    """
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the renders table ({exc})") from None
    need = {"track", "condition", "path"}
    if not rows:
        raise ExportError(f"{path}: the renders table has no rows")
    missing = need - set(rows[0])
    if missing:
        raise ExportError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    seen = set()
    for i, r in enumerate(rows, start=2):
        if r["condition"] not in CONDITIONS:
            raise ExportError(f"{path}, line {i}: unknown condition {r['condition']!r} "
                              f"(expected one of {', '.join(CONDITIONS)})")
        key = (r["track"], r["condition"])
        if key in seen:
            raise ExportError(f"{path}, line {i}: {key} appears twice")
        seen.add(key)
        p = Path(r["path"])
        if not p.is_absolute() and base is not None:
            p = Path(base) / p
        r["path"] = str(p)
    return rows


def read_key(path: str | os.PathLike) -> dict[str, dict]:
    """``KEY.tsv`` as element id -> row."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the key ({exc})") from None
    if rows and not {"element_id", "track", "condition"} <= set(rows[0]):
        raise ExportError(f"{path}: not a KEY.tsv (needs element_id, track, condition)")
    return {r["element_id"]: r for r in rows}


def _check_level(r: dict, target_lufs: float, ceiling_dbtp: float) -> None:
    try:
        lufs = float(r.get("integrated_lufs") or "nan")
        tp = float(r.get("true_peak_dbtp") or "nan")
    except ValueError:
        return
    if abs(lufs - target_lufs) > _LOUDNESS_TOLERANCE_LU:
        log.warning("%s: integrated loudness %.2f LUFS differs from the test's %.1f LUFS "
                    "by more than %.1f LU", r["path"], lufs, target_lufs,
                    _LOUDNESS_TOLERANCE_LU)
    if tp > ceiling_dbtp + 0.1:
        log.warning("%s: true peak %.2f dBTP exceeds the %.1f dBTP ceiling", r["path"], tp,
                    ceiling_dbtp)


def _select(tracks: list[str], max_items: int | None, seed: int) -> list[str]:
    if max_items is None or len(tracks) <= max_items:
        return tracks
    pick = rng(seed, "listening", "items").choice(len(tracks), size=max_items, replace=False)
    chosen = sorted(tracks[int(i)] for i in pick)
    log.info("max_items=%d: %d of %d tracks chosen (seeded): %s", max_items, len(chosen),
             len(tracks), ", ".join(chosen))
    return chosen


def _readme(n_items: int, conditions: list[str], interface: str, open_reference: bool,
            target_lufs: float) -> str:
    url = f"{LOCAL_URL}test.html?url={TEST_XML}"
    level = f"{target_lufs:g} LUFS"
    conds = "\n".join(f"- `{c}`: {LABELS.get(c, c)}" + (" (hidden reference)"
                                                           if c == REFERENCE else "")
                      for c in conditions)
    return f"""# vocalmix listening test (generated by `export_waet`)

This folder mirrors the root of a Web Audio Evaluation Tool (WAET,
https://github.com/BrechtDeMan/WebAudioEvaluationTool) checkout. {n_items} pages (one per test item), interface `{interface}`, conditions:

{conds}

Every stimulus is already loudness-normalised to {level}; the test sets no WAET loudness.
WAET shuffles the pages and the mixes on each page for every listener. The hidden reference
carries no `marker`, so listeners may grade it low (BS.1534 post-screening needs that).
{"Every page has an open *Reference* button too." if open_reference else ""}

## Run it
1. Get WAET: `git clone https://github.com/BrechtDeMan/WebAudioEvaluationTool.git`
2. Copy this folder's contents into the checkout (it adds `tests/vocalmix.xml` and
   `media/vocalmix/`; `KEY.tsv` and this file may come along, WAET ignores them):
   `cp -r listening_test/waet/* WebAudioEvaluationTool/`
3. Serve it. WAET saves results by POSTing to `php/requestKey.php` and `php/save.php`, so a
   plain static server (`python3 -m http.server`) is **not** enough: it answers 501 and the
   results are lost. Locally, WAET's own server does both:
   `cd WebAudioEvaluationTool && python3 python/pythonServer.py`
   (port 8000; it answers only requests from 127.0.0.1). For remote listeners put the
   checkout on a web server with PHP (WAET's `php/` scripts).
4. Each listener opens {url}
   (Chromium, Chrome or Firefox; headphones).

## Bring the results back
Results land in the checkout's `saves/` folder, one `save-<key>.xml` per session, rewritten at
every page change. Copy them all into the project's `listening_test/results/` and rerun the
pipeline (`snakemake -j8 all`), or import by hand:
`vocalmix listening import listening_test/results --key listening_test/waet/KEY.tsv`.
Only sessions with `state="complete"` are used; abandoned ones are counted and reported in
`results/analysis/import_summary.json`. Once a complete result is there, it replaces the
simulated listener panel everywhere.

`KEY.tsv` maps every WAET element id (`item-<track>-<condition>`) to its track and condition.
"""


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Put ``src``'s bytes at ``dst`` (replaced): a hard link where the file system allows
    one, so the stimuli take no second copy of the renders on disk (issue 19), else a copy.

    The renders are never changed in place (each write renames a new file onto its name),
    so a linked stimulus keeps the bytes it was exported with until the next export.
    """
    dst = Path(dst)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or one without hard links
        shutil.copyfile(src, dst)


def export_test(
    renders_tsv: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    seed: int,
    settings: ListeningSettings = ListeningSettings(),
    base: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write the WAET test under ``out_root``; return a summary (items, skipped tracks).

    ``seed`` orders the pages and mixes (and chooses the items when ``settings.max_items``
    is below the number of tracks); relative paths in the renders table are taken relative
    to ``base`` (default: the current directory).
    """
    interface, open_reference = settings.interface, settings.open_reference
    out_root = Path(out_root)
    rows = read_renders(renders_tsv, base=base)
    by_track: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_track.setdefault(r["track"], {})[r["condition"]] = r

    skipped: list[dict] = []
    usable: dict[str, dict[str, dict]] = {}
    for track in sorted(by_track):
        conds = by_track[track]
        if REFERENCE not in conds:
            log.info("%s: no %r render, left out of the listening test (a page needs the "
                     "reference)", track, REFERENCE)
            skipped.append({"track": track, "reason": f"no {REFERENCE} render"})
            continue
        bad = None
        for c, r in conds.items():
            try:
                info = audio_info(r["path"])
                if info["frames"] == 0:
                    raise AudioError(r["path"], "contains no samples")
            except AudioError as exc:
                bad = str(exc)
                break
            r["_duration_s"] = info["duration_s"]
        if bad:
            log.error("%s: left out of the listening test: %s", track, bad)
            skipped.append({"track": track, "reason": bad})
            continue
        missing = [c for c in CONDITIONS if c not in conds]
        if missing:
            log.warning("%s: no render of %s; its page has %d mixes", track,
                        ", ".join(missing), len(conds))
        usable[track] = conds

    tracks = _select(sorted(usable), settings.max_items, seed)
    if not tracks:
        raise ExportError(f"{renders_tsv}: no track has a readable {REFERENCE!r} render; "
                          "nothing to export")

    media_root = out_root / MEDIA_DIR
    if media_root.exists():
        shutil.rmtree(media_root)  # stale stimuli of an earlier export
    items: list[Item] = []
    key_rows: list[dict] = []
    for track in tracks:
        conds = usable[track]
        stimuli = []
        for c in CONDITIONS:
            if c not in conds:
                continue
            r = conds[c]
            _check_level(r, settings.loudness_lufs, settings.true_peak_dbtp)
            rel = f"{MEDIA_DIR}/{track}/{c}.wav"
            with atomic_path(out_root / rel) as tmp:
                link_or_copy(r["path"], tmp)
            stimuli.append(Stimulus(condition=c, url=f"{c}.wav", duration_s=r["_duration_s"]))
            key_rows.append({
                "element_id": element_id(track, c), "page_id": page_id(track), "track": track,
                "condition": c, "type": "reference" if c == REFERENCE else "normal",
                "file": rel, **{k: r.get(k, "") for k in ("source", "split", "genre")},
                "duration_s": f"{r['_duration_s']:.6f}",
                "integrated_lufs": r.get("integrated_lufs", ""),
                "true_peak_dbtp": r.get("true_peak_dbtp", "")})
            if c == REFERENCE and open_reference:
                key_rows.append({**key_rows[-1], "element_id": open_reference_id(track),
                                 "type": "outside-reference"})
        items.append(Item(track=track, host_url=f"{MEDIA_DIR}/{track}/",
                          stimuli=tuple(stimuli)))

    root = build_test(items, interface=interface, open_reference=open_reference, seed=seed)
    with atomic_path(out_root / TEST_XML) as tmp:
        tmp.write_bytes(to_bytes(root))
    write_table(out_root / "KEY.tsv", key_rows, KEY_COLUMNS)
    conditions = [c for c in CONDITIONS if any(c in usable[t] for t in tracks)]
    with atomic_path(out_root / README_NAME) as tmp:
        tmp.write_text(_readme(len(items), conditions, interface, open_reference,
                               settings.loudness_lufs))
    log.info("WAET test: %d pages, %d stimuli, interface %s -> %s", len(items),
             sum(len(i.stimuli) for i in items), interface, out_root / TEST_XML)
    return {"items": len(items), "tracks": tracks, "skipped": skipped,
            "stimuli": sum(len(i.stimuli) for i in items), "test": str(out_root / TEST_XML)}
