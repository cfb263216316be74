"""WAET results are untrusted: crafted or careless files are rejected with their reason.

Issue 17, items 3 and 4: the same ``<audioelement ref>`` twice, two ``<value>``s in one
element, a duplicated ``<page>``, a page or element the test does not have, an element from
another page, a "complete" session with pages or elements missing all imported with exit 0
and skewed the statistics; a survey answer ``=cmd|' /C calc'!A0`` went into every ratings
row as is; a 210 MB result took 7.2 GB of memory. Every hostile file is made here, each in a
folder beside a good one that must still import.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vocalmix.listening import results as R
from vocalmix.listening.results import (MAX_RESULT_BYTES, MAX_TEXT_CHARS, import_sessions,
                                        parse_result, spreadsheet_safe)
from vocalmix.listening.spec import TestLayout, element_id, open_reference_id, page_id

TRACKS = ("t1", "t2", "t3")
CONDS = ("professional", "rule_based", "unprocessed")
INJECTION = "=cmd|' /C calc'!A0"


def _key() -> dict[str, dict[str, str]]:
    key = {}
    for t in TRACKS:
        for c in CONDS:
            key[element_id(t, c)] = {"element_id": element_id(t, c), "page_id": page_id(t),
                                     "track": t, "condition": c,
                                     "type": "reference" if c == "professional" else "normal"}
        key[open_reference_id(t)] = {"element_id": open_reference_id(t), "page_id": page_id(t),
                                     "track": t, "condition": "professional",
                                     "type": "outside-reference"}
    return key


def _element(t: str, c: str, value: str = "0.5", values: int = 1) -> str:
    kind = "reference" if c == "professional" else "normal"
    vals = "".join(f"<value>{value}</value>" for _ in range(values))
    return (f'<audioelement ref="{element_id(t, c)}" name="{c}" type="{kind}" '
            f'presentedId="A">{vals}</audioelement>')


def _page(t: str, body: str | None = None, ref: str | None = None, state="complete") -> str:
    body = body if body is not None else "".join(_element(t, c) for c in CONDS)
    return (f'<page ref="{ref or page_id(t)}" presentedId="0" state="{state}">{body}'
            f'<audioelement ref="{open_reference_id(t)}" name="professional" '
            'type="outside-reference"/></page>')


def _result(session: str, pages: list[str] | None = None, comment: str = "fine",
            state: str = "complete") -> str:
    pages = pages if pages is not None else [_page(t) for t in TRACKS]
    return (f'<waetresult key="{session}" state="{state}"><waet><setup interface="MUSHRA"/>'
            '</waet><navigator><platform>Linux</platform></navigator>'
            '<survey location="pre" state="complete">'
            '<surveyresult ref="listener_id" type="question">'
            f'<response>L-{session}</response></surveyresult></survey>'
            '<survey location="post" state="complete">'
            f'<surveyresult ref="comments" type="question"><response>{comment}</response>'
            '</surveyresult></survey>' + "".join(pages) + "</waetresult>")


def _hostile_cases() -> dict[str, tuple[str, str]]:
    """name -> (file content, the words the reason must contain)."""
    t1_doubled = "".join(_element("t1", c) for c in CONDS) + _element("t1", "rule_based", "0")
    return {
        "element twice": (_result("h1", [_page("t1", t1_doubled), _page("t2"), _page("t3")]),
                          "appears twice on the page"),
        "element repeated 20 times": (
            _result("h2", [_page("t1", "".join(_element("t1", c) for c in CONDS)
                                 + _element("t1", "rule_based", "0") * 20),
                           _page("t2"), _page("t3")]), "appears twice on the page"),
        "two values": (_result("h3", [_page("t1", _element("t1", "professional", "1")
                                              + _element("t1", "rule_based", "0", values=2)
                                              + _element("t1", "unprocessed")),
                                      _page("t2"), _page("t3")]), "one grade per element"),
        "page twice": (_result("h4", [_page("t1"), _page("t1"), _page("t2"), _page("t3")]),
                       "appears twice"),
        "unknown page": (_result("h5", [_page("t1"), _page("t2"), _page("t3"),
                                        _page("t1", ref="item-new")]),
                         "'item-new' is not in the exported test"),
        "element of another page": (
            _result("h6", [_page("t1", "".join(_element("t1", c) for c in CONDS)
                                 + _element("t2", "unprocessed")), _page("t2"), _page("t3")]),
            "belongs to page 'item-t2'"),
        "unknown element": (
            _result("h7", [_page("t1", "".join(_element("t1", c) for c in CONDS)
                                 + _element("t1", "made_up")), _page("t2"), _page("t3")]),
            "not in the exported test"),
        "complete with 1 of 3 pages": (_result("h8", [_page("t1")]), "2 of 3 pages"),
        "page not complete": (_result("h9", [_page("t1"), _page("t2", state="partial"),
                                             _page("t3")]), "says complete but page"),
        "1 of 3 elements rated": (
            _result("h10", [_page("t1", _element("t1", "rule_based")), _page("t2"),
                            _page("t3")]), "2 of 3 elements not rated"),
        "value outside 0..1": (
            _result("h11", [_page("t1", _element("t1", "professional", "1.5")
                                  + _element("t1", "rule_based") + _element("t1", "unprocessed")),
                            _page("t2"), _page("t3")]), "outside 0..1"),
        "long text field": (_result("h12", comment="x" * (MAX_TEXT_CHARS + 1)),
                            f"more than the {MAX_TEXT_CHARS}"),
    }


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "results"
    d.mkdir()
    (d / "good.xml").write_text(_result("good", comment=INJECTION))
    return d


@pytest.mark.parametrize("case", list(_hostile_cases()))
def test_each_hostile_file_is_rejected_with_its_reason_and_the_good_one_imports(folder, case):
    content, words = _hostile_cases()[case]
    (folder / "hostile.xml").write_text(content)
    res = import_sessions(folder, _key())
    s = res.summary
    assert s["complete"] == 1 and s["rejected"] == 1
    assert [Path(x["file"]).name for x in s["skipped"]] == ["hostile.xml"]
    assert words in s["skipped"][0]["error"], s["skipped"][0]["error"]
    # the good session alone: 3 pages x 3 rated elements, one grade each
    assert len(res.rows) == 9 and {r["listener"] for r in res.rows} == {"good"}
    assert len({(r["item"], r["element"]) for r in res.rows}) == 9


def test_all_hostile_files_together_leave_the_statistics_alone(folder):
    for i, (content, _) in enumerate(_hostile_cases().values()):
        (folder / f"hostile-{i:02d}.xml").write_text(content)
    res = import_sessions(folder, _key())
    assert res.summary["rejected"] == len(_hostile_cases())
    assert res.summary["listeners"] == 1 and res.summary["ratings"] == 9
    assert {r["rating"] for r in res.rows} == {50.0}


def test_layout_from_the_exported_test_equals_the_key(tmp_path):
    """The result must match the exported test: the layout read from a <waet> test is the
    one KEY.tsv records (the export writes both)."""
    import xml.etree.ElementTree as ET

    pages = "".join(
        f'<page id="{page_id(t)}">' + "".join(
            f'<audioelement id="{element_id(t, c)}" url="x.wav" name="{c}"/>' for c in CONDS)
        + f'<audioelement id="{open_reference_id(t)}" url="x.wav" type="outside-reference"/>'
        + "</page>" for t in TRACKS)
    test = ET.fromstring(f"<waet><setup interface='MUSHRA'/>{pages}</waet>")
    assert TestLayout.from_test(test) == TestLayout.from_key(_key())
    f = tmp_path / "r.xml"
    f.write_text(_result("s", [_page("t1")]))
    with pytest.raises(R.WaetResultError, match="2 of 3 pages"):
        parse_result(f, layout=TestLayout.from_test(test))


def test_survey_is_neutralised_and_kept_out_of_ratings(folder, tmp_path):
    res = import_sessions(folder, _key())
    assert not any(k.startswith("survey_") for r in res.rows for k in r)
    ratings, survey = tmp_path / "ratings.tsv", tmp_path / "survey.tsv"
    R.write_ratings(ratings, res.rows)
    R.write_survey(survey, res.surveys)
    text = ratings.read_text()
    assert not text.startswith("#") and "calc" not in text and "fine" not in text
    with open(survey, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == 1 and rows[0]["listener"] == "good"
    assert rows[0]["survey_comments"] == "'" + INJECTION
    assert rows[0]["survey_listener_id"] == "L-good"
    with open(ratings, newline="") as fh:
        table = list(csv.DictReader(fh, delimiter="\t"))
    assert {r["listener"] for r in table} == {rows[0]["listener"]}  # the join key


@pytest.mark.parametrize("text,safe", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-3", "-3"), ("+1.5", "+1.5"), ("ok = fine", "ok = fine"),
    ("", ""),
])
def test_spreadsheet_safe(text, safe):
    assert spreadsheet_safe(text) == safe


def test_a_crafted_session_key_is_neutralised_in_ratings(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "a.xml").write_text(_result("=HYPERLINK(1)"))
    res = import_sessions(d, _key())
    R.write_ratings(tmp_path / "ratings.tsv", res.rows)
    with open(tmp_path / "ratings.tsv", newline="") as fh:
        table = list(csv.DictReader(fh, delimiter="\t"))
    assert {r["listener"] for r in table} == {"'=HYPERLINK(1)"}


def test_a_big_file_is_refused_before_parsing(folder, monkeypatch):
    big = folder / "big.xml"
    with open(big, "w") as fh:
        fh.write('<waetresult key="big" state="complete"><survey><surveyresult ref="c">'
                 "<response>")
        fh.write("x" * (MAX_RESULT_BYTES + 1))
        fh.write("</response></surveyresult></survey></waetresult>")
    parsed = []
    real_parse = R.ET.parse
    monkeypatch.setattr(R.ET, "parse", lambda p, *a, **k: (parsed.append(Path(p).name),
                                                          real_parse(p, *a, **k))[1])
    res = import_sessions(folder, _key())
    assert "big.xml" not in parsed and "good.xml" in parsed
    (reason,) = [x["error"] for x in res.summary["skipped"] if x["file"].endswith("big.xml")]
    assert "5 MB" in reason and "refused unread" in reason
    assert res.summary["complete"] == 1 and res.summary["limits"] == {
        "max_file_bytes": MAX_RESULT_BYTES, "max_text_chars": MAX_TEXT_CHARS}


def test_importing_a_210_mb_result_stays_small(folder, tmp_path):
    big = folder / "huge.xml"
    with open(big, "wb") as fh:  # sparse: 210 MB long, almost no disk
        fh.write(b'<waetresult key="huge" state="complete">')
        fh.truncate(210 * 1024 * 1024)
    # the child's own peak (VmHWM starts anew at exec; getrusage's ru_maxrss does not, so it
    # would report the pytest process it was forked from)
    code = ("import json, re; from vocalmix.listening.results import import_sessions;"
            f"r = import_sessions({str(folder)!r});"
            "hwm = int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())[1]);"
            "print(json.dumps([r.summary['complete'], r.summary['rejected'], hwm]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    complete, rejected, maxrss_kb = json.loads(out.stdout.strip().splitlines()[-1])
    assert (complete, rejected) == (1, 1)
    assert maxrss_kb < 500 * 1024, f"peak RSS {maxrss_kb / 1024:.0f} MB"


def test_stage_writes_survey_table_and_counts_rejections(folder, tmp_path):
    from vocalmix.stages.ratings import import_ratings

    content, _ = _hostile_cases()["page twice"]
    (folder / "hostile.xml").write_text(content)
    key = tmp_path / "KEY.tsv"
    rows = list(_key().values())
    with open(key, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    out = {"ratings": str(tmp_path / "ratings.tsv"), "survey": str(tmp_path / "survey.tsv"),
           "summary": str(tmp_path / "import_summary.json")}
    import_ratings({"results": sorted(str(p) for p in folder.iterdir()), "key": str(key)}, out,
                   {"source": "real"})
    summary = json.loads(Path(out["summary"]).read_text())
    assert summary["rejected"] == 1 and "appears twice" in summary["skipped"][0]["error"]
    assert Path(out["survey"]).read_text().startswith("listener\t")
    assert Path(out["ratings"]).read_text().startswith("listener\t")
