"""The WAET export (structure of the test XML), result import, and the simulated panel."""

from __future__ import annotations

import copy
import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.listening_fixtures import make_renders
from vocalmix.conditions import CONDITIONS, REFERENCE
from vocalmix.listening import MEDIA_DIR, SIMULATED_PLATFORM, TEST_XML
from vocalmix.listening.export import ExportError, ListeningSettings, export_test, read_key
from vocalmix.listening.results import (WaetResultError, import_results, import_sessions,
                                        parse_result, scan_results, write_ratings,
                                        write_survey)
from vocalmix.listening.simulate import (KAPPA, SimulationSettings, deficits, expected_grades,
                                         js_number, simulate_panel)
from vocalmix.listening.spec import StructureError, check_structure

WAET_REF = REPO.parent / "shared" / "reference" / "waet"
SURVEY_IDS = ["instructions", "listener_id", "age", "gender", "experience", "headphones"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Renders of 3 tracks (demo_009 without the reference, demo_005 without commercial),
    exported to a WAET root."""
    root = tmp_path_factory.mktemp("export")
    make_renders(root, missing={"demo_009": ["professional"], "demo_005": ["commercial"]})
    out = root / "listening_test" / "waet"
    summary = export_test(root / "results/renders/renders.tsv", out, seed=5, base=root)
    return root, out, summary


def _ids(root: ET.Element) -> list[str]:
    return [e.get("id") for e in root.iter() if e.get("id") is not None]


# ----------------------------------------------------------------------------- export
def test_export_lays_out_a_waet_root(exported):
    root, out, summary = exported
    assert summary["items"] == 2 and summary["tracks"] == ["demo_001", "demo_005"]
    assert summary["skipped"] == [{"track": "demo_009", "reason": "no professional render"}]
    spec = ET.parse(out / TEST_XML).getroot()
    check_structure(spec)
    pages = spec.findall("page")
    assert sorted(p.get("id") for p in pages) == ["item-demo_001", "item-demo_005"]
    for page in pages:
        track = page.get("id").removeprefix("item-")
        assert page.get("hostURL") == f"{MEDIA_DIR}/{track}/"
        for ae in page.findall("audioelement"):
            # hostURL + url is relative to the WAET root, and the file is the render itself
            f = out / (page.get("hostURL") + ae.get("url"))
            src = root / f"results/renders/{track}/{ae.get('name')}.wav"
            assert f.read_bytes() == src.read_bytes()
            assert f.samefile(src)  # a hard link: no second copy on disk (issue 19)
    n_elements = {p.get("id"): len(p.findall("audioelement")) for p in pages}
    assert n_elements == {"item-demo_001": 6, "item-demo_005": 5}  # + open reference


def test_export_pages_have_a_hidden_reference_without_marker(exported):
    _, out, _ = exported
    spec = ET.parse(out / TEST_XML).getroot()
    setup = spec.find("setup")
    assert setup.get("interface") == "MUSHRA" and setup.get("randomiseOrder") == "true"
    assert setup.get("loudness") is None  # stimuli are loudness-equalised already
    for page in spec.findall("page"):
        assert page.get("randomiseOrder") == "true" and page.get("restrictMovement") == "true"
        els = page.findall("audioelement")
        refs = [e for e in els if e.get("type") == "reference"]
        assert len(refs) == 1 and refs[0].get("name") == REFERENCE
        openref = [e for e in els if e.get("type") == "outside-reference"]
        assert len(openref) == 1 and openref[0].get("url") == refs[0].get("url")
        assert all(e.get("marker") is None for e in els)
        assert all(e.get("name") in CONDITIONS for e in els)
        rated = [e.get("name") for e in els if e.get("type") != "outside-reference"]
        assert len(set(rated)) == len(rated)


def test_export_has_instructions_and_pre_test_survey(exported):
    _, out, _ = exported
    spec = ET.parse(out / TEST_XML).getroot()
    before = [s for s in spec.find("setup").findall("survey") if s.get("location") == "before"]
    assert len(before) == 1
    assert [e.get("id") for e in before[0]] == SURVEY_IDS
    statement = before[0].find("surveystatement/statement").text
    assert "hidden" in statement and "headphones" in statement
    for radio in before[0].findall("surveyradio"):  # WAET throws on an optional radio
        assert radio.get("mandatory") == "true" and len(radio.findall("option")) >= 2


def test_ids_unique_across_document(exported):
    _, out, _ = exported
    spec = ET.parse(out / TEST_XML).getroot()
    ids = _ids(spec)
    assert len(ids) == len(set(ids)) > 10
    assert all(re.match(r"^[A-Za-z_][A-Za-z0-9._-]*$", i) for i in ids)


def test_key_maps_every_element(exported):
    _, out, _ = exported
    key = read_key(out / "KEY.tsv")
    spec = ET.parse(out / TEST_XML).getroot()
    for page in spec.findall("page"):
        for ae in page.findall("audioelement"):
            k = key[ae.get("id")]
            assert k["condition"] == ae.get("name")
            assert k["track"] == page.get("id").removeprefix("item-")
            assert k["type"] == ae.get("type", "normal")
            assert k["file"] == page.get("hostURL") + ae.get("url")
    assert len(key) == 11
    assert (out / "README-vocalmix.md").read_text().count("pythonServer.py") == 1


def test_export_order_is_seeded(exported, tmp_path):
    root, out, _ = exported
    renders = root / "results/renders/renders.tsv"
    again = tmp_path / "a"
    export_test(renders, again, seed=5, base=root)
    assert (again / TEST_XML).read_bytes() == (out / TEST_XML).read_bytes()
    other = tmp_path / "b"
    export_test(renders, other, seed=6, base=root)
    orders = [[e.get("id") for e in ET.parse(d / TEST_XML).getroot().iter("audioelement")]
              for d in (out, other)]
    assert sorted(orders[0]) == sorted(orders[1]) and orders[0] != orders[1]


def test_export_ape_and_max_items(exported, tmp_path):
    root, _, _ = exported
    s = export_test(root / "results/renders/renders.tsv", tmp_path, seed=1, base=root,
                    settings=ListeningSettings(interface="APE", open_reference=False,
                                               max_items=1))
    spec = ET.parse(tmp_path / TEST_XML).getroot()
    check_structure(spec)
    assert s["items"] == 1 and spec.find("setup").get("interface") == "APE"
    page = spec.find("page")
    assert page.get("restrictMovement") is None
    assert page.find("interface").get("name") == "quality"
    assert all(e.get("type") != "outside-reference" for e in page.iter("audioelement"))


def test_export_errors_name_the_file(tmp_path):
    bad = tmp_path / "renders.tsv"
    bad.write_text("track\tcondition\tpath\nx\tpro\tx.wav\n")
    with pytest.raises(ExportError, match=r"renders\.tsv, line 2: unknown condition 'pro'"):
        export_test(bad, tmp_path / "out", seed=0)
    none = tmp_path / "none.tsv"
    none.write_text("track\tcondition\tpath\nx\tunprocessed\tx.wav\n")
    with pytest.raises(ExportError, match="no track has a readable 'professional'"):
        export_test(none, tmp_path / "out", seed=0)


def test_unreadable_stimulus_skips_its_track(tmp_path):
    make_renders(tmp_path, tracks=("demo_001", "demo_002"))
    (tmp_path / "results/renders/demo_002/rule_based.wav").write_bytes(b"RIFF....WAVEjunk")
    s = export_test(tmp_path / "results/renders/renders.tsv", tmp_path / "w", seed=0,
                    base=tmp_path)
    assert s["tracks"] == ["demo_001"]
    assert "demo_002/rule_based.wav" in s["skipped"][0]["reason"]


# ----------------------------------------------------------------------------- structure
def _minimal() -> ET.Element:
    return ET.fromstring(
        '<waet><setup interface="MUSHRA"><metric/><interface/></setup>'
        '<page id="p1"><interface/><audioelement id="p1-a" url="a.wav" name="a"/>'
        '<audioelement id="p1-b" url="b.wav" type="reference"/></page></waet>')


def test_structure_accepts_a_minimal_test():
    check_structure(_minimal())


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.find("page/audioelement").set("id", "p1"), "'p1' is not unique"),
    (lambda r: r.find("page/audioelement").set("id", "1a"), "bad value '1a' of @id"),
    (lambda r: r.find("page/audioelement").attrib.pop("url"), "missing required attribute @url"),
    (lambda r: r.find("page").attrib.pop("id"), "missing required attribute @id"),
    (lambda r: r.find("setup").attrib.pop("interface"), "@interface"),
    (lambda r: r.find("page/audioelement").set("type", "hidden"), "bad value 'hidden' of @type"),
    (lambda r: r.find("page").set("label", "greek"), "bad value 'greek' of @label"),
    (lambda r: r.find("page").set("loop", "yes"), "bad value 'yes' of @loop"),
    (lambda r: r.find("page/audioelement").set("marker", "120"), "@marker"),
    (lambda r: r.find("page").set("foo", "1"), "unknown attribute 'foo'"),
    (lambda r: r.find("page").remove(r.find("page/interface")), "at least 1 <interface>"),
    (lambda r: r.remove(r.find("setup")), "at least 1 <setup>"),
])
def test_structure_rejects(mutate, message):
    root = _minimal()
    mutate(root)
    with pytest.raises(StructureError, match=re.escape(message)):
        check_structure(root)


def test_structure_rejects_wrong_element_order():
    root = _minimal()
    page = root.find("page")
    iface = page.find("interface")
    page.remove(iface)
    page.append(iface)  # <interface> after the audio elements
    with pytest.raises(StructureError, match=r"<interface> is not allowed here"):
        check_structure(root)
    root = _minimal()
    setup = root.find("setup")
    setup.insert(0, ET.Element("metricenable"))
    with pytest.raises(StructureError, match=r"<metricenable> is not allowed here"):
        check_structure(root)
    root = _minimal()
    setup = root.find("setup")
    survey = ET.SubElement(ET.Element("x"), "survey")
    setup.append(survey)  # survey after interface
    with pytest.raises(StructureError, match="not allowed here"):
        check_structure(root)


def test_structure_ids_shared_with_survey_entries(exported):
    _, out, _ = exported
    spec = ET.parse(out / TEST_XML).getroot()
    bad = copy.deepcopy(spec)
    bad.find("setup/survey/surveyquestion").set("id", bad.find("page").get("id"))
    with pytest.raises(StructureError, match="not unique"):
        check_structure(bad)


def test_structure_accepts_waets_own_tests_from_the_reference():
    if not WAET_REF.is_dir():
        pytest.skip("../shared/reference/waet is absent")
    for f in sorted(WAET_REF.glob("*.xml")):
        spec = ET.parse(f).getroot().find("waet")
        for added in ("file-name", "url"):  # WAET adds these to its copy in a result
            spec.attrib.pop(added)
        check_structure(spec)


# ----------------------------------------------------------------------------- import
def test_import_real_waet_results():
    """The two result files produced by WAET itself (FORMAT.md 4.2)."""
    if not WAET_REF.is_dir():
        pytest.skip("../shared/reference/waet is absent")
    rows, summary = import_results(WAET_REF)
    assert summary["complete"] == 2 and summary["skipped"] == [] and summary["ratings"] == 21
    got = {(r["item"], r["condition"]): r["rating"] for r in rows
           if r["listener"].startswith("43117b")}
    assert got == {("item1", "ref"): 100.0, ("item1", "sysB"): 61.0, ("item1", "anchor"): 15.0,
                   ("item1", "sysA"): 82.0, ("item1", "sysC"): 40.0, ("item2", "sysA"): 78.0,
                   ("item2", "ref"): 97.0, ("item2", "anchor"): 10.0, ("item2", "sysC"): 35.0,
                   ("item2", "sysB"): 55.0}
    assert not any(r["type"] == "outside-reference" for r in rows)
    ex = [r for r in rows if r["listener"].startswith("d52b35")]
    assert {r["item"] for r in ex} == {"test-0", "test-1"}
    assert {r["axis"] for r in ex if r["item"] == "test-1"} == {"preference"}
    assert not any(k.startswith("survey_") for r in rows for k in r)  # surveys apart
    survey = {s["listener"]: s for s in import_sessions(WAET_REF).surveys}
    sv = survey[ex[0]["listener"]]
    assert sv["survey_age"] == "0" and sv["survey_checkboxtest"] == "musician"
    assert sv["survey_rating"] == "bad" and sv["survey_sessionId"] == "waet_check"
    ref = [r for r in ex if r["element"] == "track-6"]
    assert ref[0]["rating"] == 100.0 and ref[0]["type"] == "reference"


def _result(key="k1", state="complete", values=("0.61", "1"), refs=("e-a", "e-ref"),
            names=("a", "ref"), platform="Linux x86_64") -> str:
    els = "".join(
        f'<audioelement ref="{r}" name="{n}" type="{"reference" if n == "ref" else "normal"}" '
        f'presentedId="{chr(65 + i)}"><value>{v}</value></audioelement>'
        for i, (r, n, v) in enumerate(zip(refs, names, values)))
    return (f'<waetresult key="{key}" state="{state}"><waet><setup interface="MUSHRA"/></waet>'
            f'<navigator><platform>{platform}</platform></navigator>'
            '<survey location="pre" state="complete"><surveyresult ref="age" type="number">'
            '<response>33</response></surveyresult></survey>'
            f'<page ref="p1" presentedId="0" state="complete">{els}'
            '<audioelement ref="e-open" name="ref" type="outside-reference"/></page>'
            '</waetresult>')


def test_import_synthetic_results(tmp_path, caplog):
    d = tmp_path / "saves"
    d.mkdir()
    (d / "save-1.xml").write_text(_result("k1", values=("0.07", "0.99")))
    (d / "save-2.xml").write_text(_result("k2", state="update"))
    (d / "save-3.xml").write_text('<waetresult key="k3"/>')  # key requested, nothing else
    (d / "save-4.xml").write_text("<waetresult key='x' state='complete'><page")
    (d / "save-5.xml").write_text("<html><body>404</body></html>")
    (d / "save-6.xml").write_text(_result("k1"))  # the same session again
    (d / "save-7.xml").write_text(_result("k7", values=("0.5", "1.2")))
    rows, s = import_results(d)
    assert s["files"] == 7 and s["complete"] == 1 and s["listeners"] == 1
    assert [a["state"] for a in s["abandoned"]] == ["update", "empty"]
    assert [Path(x["file"]).name for x in s["duplicates"]] == ["save-6.xml"]
    skipped = {Path(x["file"]).name: x["error"] for x in s["skipped"]}
    assert set(skipped) == {"save-4.xml", "save-5.xml", "save-7.xml"}
    assert "not well-formed" in skipped["save-4.xml"]
    assert "root element is <html>" in skipped["save-5.xml"]
    assert "outside 0..1" in skipped["save-7.xml"]
    assert any("save-5.xml" in r.message for r in caplog.records)
    assert [(r["condition"], r["rating"], r["label"]) for r in rows] == [
        ("a", 7.0, "A"), ("ref", 99.0, "B")]  # exactly, not 7.000000000000001
    assert rows[0]["simulated"] is False and "survey_age" not in rows[0]
    assert [(x["listener"], x["survey_age"]) for x in import_sessions(d).surveys] == [
        ("k1", "33")]
    assert scan_results(d)[1] == [str(d / "save-1.xml"), str(d / "save-4.xml"),
                                  str(d / "save-6.xml"), str(d / "save-7.xml")]


def test_import_with_key_rejects_foreign_results(tmp_path):
    key = {"e-a": {"track": "t1", "condition": "a"}, "e-ref": {"track": "t1",
                                                              "condition": "ref"}}
    f = tmp_path / "r.xml"
    f.write_text(_result(refs=("e-a", "e-x")))
    with pytest.raises(WaetResultError, match=r"r\.xml: page 'p1', element 'e-x' is not in"):
        parse_result(f, key)
    f.write_text(_result(names=("b", "ref")))
    with pytest.raises(WaetResultError, match="another test"):
        parse_result(f, key)
    f.write_text(_result())
    sess = parse_result(f, key)
    assert [(r["track"], r["condition"], r["rating"]) for r in sess.rows] == [
        ("t1", "a", 61.0), ("t1", "ref", 100.0)]


def test_js_number():
    assert [js_number(x) for x in (1.0, 0.0, 0.61, 0.6, 0.07, 0.5)] == [
        "1", "0", "0.61", "0.6", "0.07", "0.5"]


# ----------------------------------------------------------------------------- simulation
def test_deficit_model():
    cells = [("t", "professional"), ("t", "a"), ("t", "b")]
    metrics = {("t", "professional"): {"m1": 0.0, "m2": 0.0},
               ("t", "a"): {"m1": 1.0, "m2": 10.0}, ("t", "b"): {"m1": 3.0, "m2": 30.0}}
    d = deficits(metrics, cells)
    # scales: medians over non-reference rows, m1: 2, m2: 20
    assert d == {("t", "professional"): 0.0, ("t", "a"): 0.5, ("t", "b"): 1.5}
    mu = expected_grades(d)
    assert mu[("t", "professional")] == pytest.approx(100.0)
    assert mu[("t", "a")] == pytest.approx(100 * np.exp(-0.5 * KAPPA))
    assert expected_grades({("t", "x"): 1.0})[("t", "x")] == pytest.approx(60.0)


@pytest.fixture(scope="module")
def simulated(exported, tmp_path_factory):
    root, out, _ = exported
    d = tmp_path_factory.mktemp("sim")
    outs = [d / f"complete-{i:02d}.xml" for i in range(1, 13)]
    model = simulate_panel(out / TEST_XML, out / "KEY.tsv",
                           root / "results/evaluation/per_track.tsv", outs,
                           [d / "abandoned-01.xml"], seed=9,
                           settings=SimulationSettings(careless=2))
    return d, out, model


def test_simulated_results_import_exactly(simulated):
    d, out, model = simulated
    rows, s = import_results(d, read_key(out / "KEY.tsv"))
    assert s["complete"] == 12 and len(s["abandoned"]) == 1 and s["skipped"] == []
    assert s["simulated"] and all(r["simulated"] for r in rows)
    assert len(rows) == 12 * 9
    # the grades read back are exactly the slider values written (x 100)
    for f in sorted(d.glob("complete-*.xml")):
        root = ET.parse(f).getroot()
        assert root.findtext("navigator/platform") == SIMULATED_PLATFORM
        assert root.find("waet").get("file-name") == TEST_XML
        written = {ae.get("ref"): round(float(ae.findtext("value")) * 100, 6)
                   for ae in root.iter("audioelement") if ae.find("value") is not None}
        key = root.get("key")
        got = {r["element"]: r["rating"] for r in rows if r["listener"] == key}
        assert got == written
        assert len({p.get("presentedId") for p in root.findall("page")}) == 2


def test_simulated_grades_follow_the_objective_metrics(simulated):
    d, out, model = simulated
    res = import_sessions(d, read_key(out / "KEY.tsv"))
    rows = res.rows
    listener_id = {s["listener"]: s["survey_listener_id"] for s in res.surveys}
    careless = set(model["careless"])
    assert len(careless) == 2
    reliable = [r for r in rows if listener_id[r["listener"]] not in careless]
    means = {c: np.mean([r["rating"] for r in reliable if r["condition"] == c])
             for c in CONDITIONS}
    # the fixture's errors grow: professional < data_driven < rule_based < commercial < unpr.
    order = sorted(means, key=means.get, reverse=True)
    assert order == ["professional", "data_driven", "rule_based", "commercial", "unprocessed"]
    assert means["professional"] >= 94.0
    # Differences between conditions follow the model's expected grades: the listener's
    # leniency and the item's difficulty are common to all conditions and cancel. 20 grades
    # per condition with residual SD 8: the SE of a difference is about 2.5 grade points.
    # (demo_005 has no commercial render, so compare on conditions every item has.)
    def expected(c):
        return np.mean([v for k, v in model["expected"].items() if k.endswith("/" + c)])

    for c in ("rule_based", "unprocessed"):
        got = means["data_driven"] - means[c]
        want = expected("data_driven") - expected(c)
        assert abs(got - want) < 6.0, (c, got, want)


def test_ratings_table_says_simulated(simulated, tmp_path):
    d, out, _ = simulated
    res = import_sessions(d, read_key(out / "KEY.tsv"))
    rows, s = res.rows, res.summary
    assert s["simulated"] and "SIMULATED" in s["note"]
    write_ratings(tmp_path / "ratings.tsv", rows, simulated=s["simulated"], n_files=12)
    lines = (tmp_path / "ratings.tsv").read_text().splitlines()
    header = lines[0].split("\t")  # no comment line: default readers read it as it is
    assert header[:5] == ["listener", "item", "track", "condition", "rating"]
    assert not any(h.startswith("survey_") for h in header)
    with open(tmp_path / "ratings.tsv") as fh:
        table = list(csv.DictReader(fh, delimiter="\t"))
    assert len(table) == len(rows) and {t["simulated"] for t in table} == {"true"}
    write_survey(tmp_path / "survey.tsv", res.surveys)
    with open(tmp_path / "survey.tsv") as fh:
        survey = list(csv.DictReader(fh, delimiter="\t"))
    assert len(survey) == 12 and {"survey_age", "survey_headphones"} <= set(survey[0])
    assert {t["listener"] for t in table} == {x["listener"] for x in survey}
