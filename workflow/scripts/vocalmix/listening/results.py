"""Rule ``import_ratings`` / ``vocalmix listening import``: WAET result XMLs to tables.

A WAET save (``saves/save-<key>.xml``, FORMAT.md 4) is a ``<waetresult key state>`` root
holding a copy of the test, the global surveys and one ``<page ref presentedId state>`` per
page reached, with one ``<audioelement ref name type presentedId>`` per stimulus in the
presented order and its slider position ``<value>`` in 0..1. Only sessions with
``state="complete"`` are used (WAET rewrites the file at every page change, so abandoned
sessions leave files too: they are counted and listed); the open reference
(``type="outside-reference"``) has no rating.

Result files come from participants: they are untrusted data, validated before anything
is used (DESIGN.md, conventions). A file is rejected, with its reason in the log and in
``import_summary.json`` (``skipped``; the other files still import), when

* it is larger than :data:`MAX_RESULT_BYTES` (checked before parsing) or any text or
  attribute in it is longer than :data:`MAX_TEXT_CHARS` characters;
* it is not well-formed XML or not a ``<waetresult>``;
* it does not match the exported test (:class:`~vocalmix.listening.spec.TestLayout`, from
  the export's ``KEY.tsv``; without a key, from the result's own copy of the test): a page
  or element id the test does not have, an element on another page than the test's, a
  ``<page>`` twice, an ``<audioelement ref>`` twice on a page, more than one ``<value>``
  in an element, a value outside 0..1;
* a ``state="complete"`` session is not complete: a page missing or not complete, or an
  element of a page without its grade.

Each rating becomes a row of ``ratings.tsv``: listener (the session key), item (page id),
track, condition, rating (``100 * value``, computed in decimal so that ``0.61`` gives
exactly 61), the element, its type and slider label, the moved/listened flags, whether the
session is simulated, and the file. Survey answers never go into rating rows: they form
``survey.tsv``, one row per listener (:func:`write_survey`), joined by ``listener``. Every
text cell of both tables is neutralised for spreadsheets (:func:`spreadsheet_safe`). Neither
table starts with a comment line (pandas' and R's default readers read them as they are);
the ``simulated`` column marks simulated sessions, and the import summary says SIMULATED.
With the export's ``KEY.tsv`` every element id maps to its track and condition; without a
key the track is the page id and the condition the element's ``name``.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from vocalmix.listening import SIMULATED_PLATFORM
from vocalmix.listening.spec import TestLayout
from vocalmix.tables import general, write_table

__all__ = ["WaetResultError", "Session", "ImportedResults", "parse_result", "import_results",
           "import_sessions", "result_files", "write_ratings", "write_survey",
           "spreadsheet_safe", "BASE_COLUMNS", "MAX_RESULT_BYTES", "MAX_TEXT_CHARS"]

log = logging.getLogger(__name__)

#: A WAET result of the project's tests is 10-100 kB; anything above this is refused unread.
MAX_RESULT_BYTES = 5 * 1024 * 1024
#: Longest text (element text or attribute value, e.g. a survey answer) a result may hold.
MAX_TEXT_CHARS = 2000
#: Characters that make a spreadsheet read a cell as a formula (or hide it) when leading.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

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


def spreadsheet_safe(text: str) -> str:
    """``text`` that a spreadsheet shows as text: a leading ``= + - @`` (a formula, e.g.
    ``=cmd|' /C calc'!A0``), tab or carriage return gets an apostrophe in front (OWASP's
    advice for CSV injection). Numbers (``-3``, ``+1.5``) are left as they are."""
    if text and text.startswith(FORMULA_PREFIXES):
        try:
            float(text)
            return text
        except ValueError:
            return "'" + text
    return text


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
            answers[f"survey_{ref}"] = spreadsheet_safe(" ".join(value.split()))
    return answers


def _metric_flag(ae: ET.Element, name: str) -> str:
    for m in ae.findall("metric/metricresult"):
        if m.get("name") == name:
            return (m.text or "").strip()
    return ""


def _int_or(text: str | None, default: int) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        return default


def _read_root(path: Path) -> ET.Element:
    """Parse a result file after checking its size; refuse over-long texts."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise WaetResultError(path, f"cannot read ({exc})") from None
    if size > MAX_RESULT_BYTES:
        raise WaetResultError(
            path, f"{size} bytes: larger than the {MAX_RESULT_BYTES // (1024 * 1024)} MB a WAET "
                  "result may have (results of this project's tests are 10-100 kB); refused "
                  "unread")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise WaetResultError(path, f"not well-formed XML ({exc})") from None
    except OSError as exc:
        raise WaetResultError(path, f"cannot read ({exc})") from None
    for elem in root.iter():
        texts = [("text of", elem.text or ""), ("text after", elem.tail or "")]
        texts += [(f"attribute {k!r} of", v) for k, v in elem.attrib.items()]
        for what, text in texts:
            if len(text) > MAX_TEXT_CHARS:
                raise WaetResultError(
                    path, f"the {what} <{elem.tag}> has {len(text)} characters, more than the "
                          f"{MAX_TEXT_CHARS} a text field of a WAET result may have")
    return root


def _layout_of(root: ET.Element, key: Mapping[str, Mapping[str, str]] | None,
               layout: TestLayout | None) -> TestLayout | None:
    """The test a result must match: given, from the key, or from the result's own copy."""
    if layout is not None:
        return layout
    if key is not None:
        from_key = TestLayout.from_key(key)
        if from_key is not None:
            return from_key
    spec = root.find("waet")
    if spec is not None and spec.find("page") is not None:
        return TestLayout.from_test(spec)
    return None


def parse_result(path: str | os.PathLike,
                 key: Mapping[str, Mapping[str, str]] | None = None, *,
                 layout: TestLayout | None = None) -> Session:
    """Read and validate one WAET result file (untrusted data).

    Parameters
    ----------
    path : str or os.PathLike
        The result XML.
    key : mapping, optional
        The export's ``KEY.tsv`` (:func:`vocalmix.listening.export.read_key`): element id ->
        track and condition, and (with its ``page_id`` and ``type`` columns) the test's
        layout.
    layout : TestLayout, optional
        The test the result must match; by default from ``key``, else from the result's own
        copy of the test.

    Returns
    -------
    Session
        Rows without survey answers (those are in ``Session.survey``); an incomplete
        (abandoned) session is returned with ``complete == False`` and no rows.

    Raises
    ------
    WaetResultError
        Any reason in the module's list (size, malformed, foreign, not matching the test,
        a grade repeated or missing); the message names the file.
    """
    path = Path(path)
    root = _read_root(path)
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
    test = _layout_of(root, key, layout)
    sess.survey = _survey_answers(root)
    pages = root.findall("page")
    if not pages:
        raise WaetResultError(path, "complete result without any <page>")
    seen_pages: set[str] = set()
    for page in pages:
        item = page.get("ref")
        if not item:
            raise WaetResultError(path, "a <page> without ref")
        if item in seen_pages:
            raise WaetResultError(path, f"page {item!r} appears twice: one set of grades per "
                                        "page and session")
        seen_pages.add(item)
        if test is not None and item not in test.pages:
            raise WaetResultError(path, f"page {item!r} is not in the exported test")
        if page.get("state") != "complete":
            raise WaetResultError(path, f"the session says complete but page {item!r} is "
                                        f"{page.get('state', 'without state')!r}")
        sess.pages_complete += 1
        rated: set[str] = set()
        seen_elements: set[str] = set()
        for ae in page.findall("audioelement"):
            ref = ae.get("ref")
            where = f"page {item!r}, element {ref!r}"
            if not ref:
                raise WaetResultError(path, f"page {item!r}: an <audioelement> without ref")
            if ref in seen_elements:
                raise WaetResultError(path, f"{where} appears twice on the page: one grade "
                                            "per element")
            seen_elements.add(ref)
            if test is not None:
                home = test.page_of(ref)
                if home is None:
                    raise WaetResultError(path, f"{where} is not in the exported test")
                if home != item:
                    raise WaetResultError(path, f"{where} belongs to page {home!r} of the "
                                                "exported test")
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
            if len(values) > 1:
                raise WaetResultError(path, f"{where}: {len(values)} <value>s; one grade per "
                                            "element")
            v = values[0]
            rated.add(ref)
            sess.rows.append({
                "listener": sess_key, "item": item, "track": track,
                "condition": condition, "rating": _score(v.text, where, path),
                "element": ref, "type": etype, "axis": v.get("interface-name", ""),
                "label": ae.get("presentedId", ""),
                "page_position": _int_or(page.get("presentedId"), -1),
                "moved": _metric_flag(ae, "elementFlagMoved"),
                "listened": _metric_flag(ae, "elementFlagListenedTo"),
                "simulated": sess.simulated, "file": path.name,
            })
        if not rated:
            raise WaetResultError(path, f"page {item!r}: no rated <audioelement>")
        if test is not None and rated != test.pages[item]:
            missing = sorted(test.pages[item] - rated)
            raise WaetResultError(path, f"page {item!r}: {len(missing)} of "
                                        f"{len(test.pages[item])} elements not rated "
                                        f"({', '.join(missing[:5])})")
    if test is not None and seen_pages != set(test.pages):
        missing = sorted(set(test.pages) - seen_pages)
        raise WaetResultError(path, f"the session says complete but {len(missing)} of "
                                    f"{len(test.pages)} pages of the test are missing "
                                    f"({', '.join(missing[:5])})")
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


@dataclass
class ImportedResults:
    """What :func:`import_sessions` read: rating rows, one survey row per listener, summary."""

    rows: list[dict]
    surveys: list[dict]
    summary: dict[str, Any]


def import_sessions(source: str | os.PathLike | Iterable[str | os.PathLike],
                    key: Mapping[str, Mapping[str, str]] | None = None, *,
                    layout: TestLayout | None = None) -> ImportedResults:
    """Ratings and surveys of every complete, valid session in ``source``, and a summary.

    A file that fails validation (:func:`parse_result`) is logged with the reason and
    listed in ``summary["skipped"]`` (``summary["rejected"]`` counts them); the others
    import. Abandoned (incomplete) sessions are counted and listed; a session key seen
    twice is used once.
    """
    files = result_files(source)
    rows: list[dict] = []
    surveys: list[dict] = []
    summary: dict[str, Any] = {"files": len(files), "complete": 0, "abandoned": [],
                               "skipped": [], "duplicates": [], "simulated": False,
                               "incomplete_pages": 0,
                               "limits": {"max_file_bytes": MAX_RESULT_BYTES,
                                          "max_text_chars": MAX_TEXT_CHARS}}
    seen: dict[str, str] = {}
    for f in files:
        try:
            sess = parse_result(f, key, layout=layout)
        except WaetResultError as exc:
            log.error("rejected: %s", exc)
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
        surveys.append({"listener": sess.key, "simulated": sess.simulated,
                        "file": Path(f).name, **sess.survey})
    summary["rejected"] = len(summary["skipped"])
    summary["listeners"] = len(seen)
    summary["items"] = len({r["item"] for r in rows})
    summary["ratings"] = len(rows)
    if summary["simulated"]:
        summary["note"] = "SIMULATED listeners: not real ratings"
    log.info("%d files: %d complete sessions, %d abandoned, %d rejected (see the reasons "
             "above), %d ratings%s", len(files), summary["complete"],
             len(summary["abandoned"]), summary["rejected"], len(rows),
             " (SIMULATED)" if summary["simulated"] else "")
    return ImportedResults(rows, surveys, summary)


def import_results(source: str | os.PathLike | Iterable[str | os.PathLike],
                   key: Mapping[str, Mapping[str, str]] | None = None, *,
                   layout: TestLayout | None = None
                   ) -> tuple[list[dict], dict[str, Any]]:
    """(rating rows, summary) of :func:`import_sessions` (surveys left out)."""
    res = import_sessions(source, key, layout=layout)
    return res.rows, res.summary


def survey_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k.startswith("survey_") and k not in cols:
                cols.append(k)
    return cols


def _write_tsv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]],
               columns: Sequence[str]) -> None:
    """A plain TSV (header line first, no comment line), every text cell spreadsheet-safe."""
    number = general(10)
    write_table(path, rows, columns,
                cell=lambda v: spreadsheet_safe(number(v)) if isinstance(v, str) else number(v))


def write_ratings(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], *,
                  simulated: bool = False, n_files: int | None = None) -> None:
    """Write ``ratings.tsv``: the :data:`BASE_COLUMNS`, one row per grade, no comment line.

    Survey answers are not written here (see :func:`write_survey`); simulated grades are
    marked by the ``simulated`` column (``simulated`` and ``n_files`` are kept for callers
    and logged).
    """
    _write_tsv(path, rows, BASE_COLUMNS)
    log.info("%s: %d ratings%s%s", path, len(rows),
             f" from {n_files} WAET result files" if n_files is not None else "",
             " (SIMULATED)" if simulated else "")


def write_survey(path: str | os.PathLike, surveys: Sequence[Mapping[str, Any]]) -> None:
    """Write ``survey.tsv``: one row per listener (``listener`` = the ``listener`` of
    ``ratings.tsv``), then ``simulated``, ``file`` and the answers (``survey_<id>``)."""
    _write_tsv(path, surveys, ["listener", "simulated", "file"] + survey_columns(surveys))
