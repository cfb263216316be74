"""Rule ``import_ratings`` / ``vocalmix listening import``: WAET result XMLs to a table.

A WAET save (``saves/save-<key>.xml``, FORMAT.md 4) is a ``<waetresult key state>`` root
holding a copy of the test, the global surveys and one ``<page ref presentedId state>`` per
page reached, with one ``<audioelement ref name type presentedId>`` per stimulus in the
presented order and its slider position ``<value>`` in 0..1. Only sessions with
``state="complete"`` are used (WAET rewrites the file at every page change, so abandoned
sessions leave files too: they are counted and listed), and within them only pages with
``state="complete"``; the open reference (``type="outside-reference"``) has no rating.

Each rating becomes a row: listener (the session key), item (page id), track, condition,
rating (``100 * value``, computed in decimal so that ``0.61`` gives exactly 61), the
element, its type and slider label, the moved/listened flags, whether the session is
simulated, the file, and the survey answers (``survey_<question id>``). With the export's
``KEY.tsv`` every element id maps to its track and condition, and an element the key does
not know marks a result of another test; without a key the track is the page id and the
condition the element's ``name``.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from vocalmix.stats.tables import write_table
from vocalmix.listening import SIMULATED_PLATFORM

__all__ = ["WaetResultError", "Session", "parse_result", "import_results", "result_files",
           "write_ratings", "BASE_COLUMNS"]

log = logging.getLogger(__name__)

BASE_COLUMNS = ("listener", "item", "track", "condition", "rating", "element", "type",
                "axis", "label", "page_position", "moved", "listened", "simulated", "file")


class WaetResultError(ValueError):
    """A file that is not a usable WAET result; the message names the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass
class Session:
    path: str
    key: str
    state: str
    simulated: bool = False
    rows: list[dict] = field(default_factory=list)
    survey: dict[str, str] = field(default_factory=dict)
    pages_complete: int = 0
    pages_incomplete: int = 0

    @property
    def complete(self) -> bool:
        return self.state == "complete"


def _score(text: str | None, where: str, path: Path) -> float:
    """WAET's slider value (0..1, step 0.01, as text) as a 0-100 grade, exactly."""
    if text is None or not text.strip():
        raise WaetResultError(path, f"{where}: empty <value>")
    try:
        v = Decimal(text.strip())
    except InvalidOperation:
        raise WaetResultError(path, f"{where}: <value> {text!r} is not a number") from None
    if not v.is_finite() or v < 0 or v > 1:
        raise WaetResultError(path, f"{where}: <value> {text!r} is outside 0..1")
    return float(v * 100)


def _survey_answers(root: ET.Element) -> dict[str, str]:
    answers: dict[str, str] = {}
    for survey in root.findall("survey"):
        for sr in survey.findall("surveyresult"):
            ref = sr.get("ref")
            if not ref:
                continue
            responses = sr.findall("response")
            kind = sr.get("type", "")
            if kind == "checkbox":
                value = ",".join(r.get("name", "") for r in responses
                                 if r.get("checked") == "true")
            elif kind == "radio":
                value = ",".join((r.get("name") or (r.text or "")).strip() for r in responses)
            else:
                value = " ".join((r.text or "").strip() for r in responses).strip()
            answers[f"survey_{ref}"] = " ".join(value.split())
    return answers


def _metric_flag(ae: ET.Element, name: str) -> str:
    for m in ae.findall("metric/metricresult"):
        if m.get("name") == name:
            return (m.text or "").strip()
    return ""


def parse_result(path: str | os.PathLike,
                 key: Mapping[str, Mapping[str, str]] | None = None) -> Session:
    """Read one WAET result file. Raises :class:`WaetResultError` for malformed or foreign
    XML; an incomplete (abandoned) session is returned with ``complete == False`` and no
    rows."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise WaetResultError(path, f"not well-formed XML ({exc})") from None
    except OSError as exc:
        raise WaetResultError(path, f"cannot read ({exc})") from None
    if root.tag != "waetresult":
        raise WaetResultError(path, f"not a WAET result: the root element is <{root.tag}>, "
                                    "expected <waetresult>")
    sess_key = root.get("key")
    if not sess_key:
        raise WaetResultError(path, "<waetresult> has no key attribute")
    platform = (root.findtext("navigator/platform") or "").strip()
    sess = Session(path=str(path), key=sess_key, state=root.get("state", "empty"),
                   simulated=platform == SIMULATED_PLATFORM)
    if not sess.complete:
        return sess
    if root.find("waet") is None:
        raise WaetResultError(path, "complete result without the test specification "
                                    "(<waet>)")
    sess.survey = _survey_answers(root)
    pages = root.findall("page")
    if not pages:
        raise WaetResultError(path, "complete result without any <page>")
    for page in pages:
        item = page.get("ref")
        if not item:
            raise WaetResultError(path, "a <page> without ref")
        if page.get("state") != "complete":
            sess.pages_incomplete += 1
            continue
        sess.pages_complete += 1
        position = 0
        for ae in page.findall("audioelement"):
            ref = ae.get("ref")
            where = f"page {item!r}, element {ref!r}"
            if not ref:
                raise WaetResultError(path, f"page {item!r}: an <audioelement> without ref")
            etype = ae.get("type", "normal")
            if etype == "outside-reference":
                continue
            name = ae.get("name")
            if key is not None:
                entry = key.get(ref)
                if entry is None:
                    raise WaetResultError(
                        path, f"{where} is not in the test's KEY.tsv: this result belongs to "
                              "another test (or to an earlier export)")
                track, condition = entry["track"], entry["condition"]
                if name is not None and name != condition:
                    raise WaetResultError(
                        path, f"{where}: name {name!r} but KEY.tsv says condition "
                              f"{condition!r}: this result belongs to another test")
            else:
                track, condition = item, (name if name is not None else ref)
            values = ae.findall("value")
            if not values:
                raise WaetResultError(path, f"{where}: no <value> (rating) in a complete page")
            for v in values:
                sess.rows.append({
                    "listener": sess_key, "item": item, "track": track,
                    "condition": condition, "rating": _score(v.text, where, path),
                    "element": ref, "type": etype, "axis": v.get("interface-name", ""),
                    "label": ae.get("presentedId", ""), "page_position":
                        int(page.get("presentedId", "-1") or -1),
                    "moved": _metric_flag(ae, "elementFlagMoved"),
                    "listened": _metric_flag(ae, "elementFlagListenedTo"),
                    "simulated": sess.simulated, "file": path.name,
                })
            position += 1
        if position == 0:
            raise WaetResultError(path, f"page {item!r}: no rated <audioelement>")
    for r in sess.rows:
        r.update(sess.survey)
    return sess


def session_state(path: str | os.PathLike) -> str | None:
    """The ``state`` of a WAET result file from its root tag alone (cheap: the file is
    not read further); None when it is not a readable ``<waetresult>``."""
    try:
        for _, elem in ET.iterparse(path, events=("start",)):
            return elem.get("state", "empty") if elem.tag == "waetresult" else None
    except (ET.ParseError, OSError):
        return None
    return None


def scan_results(folder: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(every ``*.xml`` in ``folder``, those whose session is complete), as sorted paths."""
    files = [str(p) for p in result_files(folder)] if Path(folder).is_dir() else []
    return files, [f for f in files if session_state(f) == "complete"]


def result_files(source: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """The ``*.xml`` files of a folder (sorted), or the given files."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            return sorted(q for q in p.iterdir() if q.suffix.lower() == ".xml" and q.is_file())
        return [p]
    return sorted(Path(s) for s in source)


def import_results(source: str | os.PathLike | Iterable[str | os.PathLike],
                   key: Mapping[str, Mapping[str, str]] | None = None
                   ) -> tuple[list[dict], dict[str, Any]]:
    """Ratings of every complete session in ``source``, and a summary of what was read.

    Malformed or foreign files are logged with the reason and skipped; abandoned
    (incomplete) sessions are counted and listed; a session key seen twice is used once.
    """
    files = result_files(source)
    rows: list[dict] = []
    summary: dict[str, Any] = {"files": len(files), "complete": 0, "abandoned": [],
                               "skipped": [], "duplicates": [], "simulated": False,
                               "incomplete_pages": 0}
    seen: dict[str, str] = {}
    for f in files:
        try:
            sess = parse_result(f, key)
        except WaetResultError as exc:
            log.error("skipped: %s", exc)
            summary["skipped"].append({"file": str(f), "error": exc.problem})
            continue
        if not sess.complete:
            log.info("%s: session %s is %r, not complete (abandoned): not used", f, sess.key,
                     sess.state)
            summary["abandoned"].append({"file": str(f), "key": sess.key,
                                         "state": sess.state})
            continue
        if sess.key in seen:
            log.warning("%s: session %s was already read from %s: not used twice", f,
                        sess.key, seen[sess.key])
            summary["duplicates"].append({"file": str(f), "key": sess.key})
            continue
        seen[sess.key] = str(f)
        summary["complete"] += 1
        summary["incomplete_pages"] += sess.pages_incomplete
        summary["simulated"] = summary["simulated"] or sess.simulated
        rows.extend(sess.rows)
    summary["listeners"] = len(seen)
    summary["items"] = len({r["item"] for r in rows})
    summary["ratings"] = len(rows)
    log.info("%d files: %d complete sessions, %d abandoned, %d skipped (malformed or "
             "foreign), %d ratings", len(files), summary["complete"],
             len(summary["abandoned"]), len(summary["skipped"]), len(rows))
    return rows, summary


def survey_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k.startswith("survey_") and k not in cols:
                cols.append(k)
    return cols


def write_ratings(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], *,
                  simulated: bool, n_files: int | None = None) -> None:
    cols = list(BASE_COLUMNS) + survey_columns(rows)
    src = f" from {n_files} WAET result files" if n_files is not None else ""
    write_table(path, rows, cols, simulated=simulated,
                title=f"Listening-test ratings (0-100){src}")
