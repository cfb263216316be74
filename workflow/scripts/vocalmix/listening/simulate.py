"""A simulated listener panel, so that the demo runs the whole listening-test path.

When ``listening_test/results/`` holds no complete WAET result, rule
``simulate_listeners`` writes one result file per simulated listener in WAET's own result
format (``<waetresult>``, FORMAT.md 4: a copy of the test, the pre-test survey, one page
per item in a shuffled order, the stimuli in a shuffled order with slider labels, metrics,
``<value>`` in 0..1 with WAET's 0.01 step), plus abandoned sessions (``state="update"``).
The import reads them like real saves; the marker in ``navigator/platform`` makes every
table, figure and report section derived from them say SIMULATED. Real results, once
present, replace them.

Rating model (documented in the README; all draws seeded from ``config.seed``):

1. Objective deficit of condition *c* on item *i*: the mean over the objective metrics *m*
   of ``results/evaluation/per_track.tsv`` (vocal-to-backing balance error, LRA error,
   mel distance, centroid error, multi-resolution STFT distance, T60 error) of
   ``e[m, c, i] / s[m]``, where ``e`` is the absolute error against the professional
   reference and ``s[m]`` the median of that metric over all non-reference rows of the
   test items (so 1 means "a typical error on every metric"). The reference's deficit is 0.
2. Expected grade ``mu = 100 * exp(-kappa * D)`` with ``kappa = ln(100/60)``: a mix with
   typical errors expects 60 (the Good/Fair boundary region), twice typical 36.
3. A reliable listener *l* grades a system ``mu + b[l] + u[i] + eps``, clipped to 0..100:
   leniency ``b[l] ~ N(0, listener_sd)``, item difficulty ``u[i] ~ N(0, item_sd)`` (shared
   by all listeners), residual ``eps ~ N(0, noise_sd)``. The hidden reference gets
   ``100 - |N(0, 4)|``: recognised, with an occasional slip below 90.
4. ``careless`` listeners grade every stimulus, the reference included, uniformly in
   0..100: BS.1534 post-screening should find them.
5. The grade is quantised like WAET's slider (step 0.01 of 0..1).
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import logging
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vocalmix.conditions import REFERENCE
from vocalmix.config import schema_settings
from vocalmix.files import atomic_path
from vocalmix.audio import audio_info
from vocalmix.listening import LOCAL_URL, SIMULATED_PLATFORM, TEST_XML
from vocalmix.seeding import derive_seed, rng

__all__ = ["SimulationSettings", "METRICS", "KAPPA", "REFERENCE_SD", "deficits", "expected_grades",
           "simulate_panel", "js_number"]

log = logging.getLogger(__name__)

#: Objective metrics of ``per_track.tsv`` that the model uses (those present).
METRICS = ("balance_error_lu", "lra_error_lu", "mel_distance_db", "centroid_error_hz",
           "mrstft_distance", "t60_error_pct")
KAPPA = math.log(100 / 60)
REFERENCE_SD = 4.0


@schema_settings("listening.simulation")
class SimulationSettings:
    """The simulated listener panel (config section ``listening.simulation``; defaults from
    the schema): complete and abandoned sessions, careless listeners, and the SDs (grade
    points) of a listener's leniency, an item's difficulty and each grade's residual."""

    listeners: int
    careless: int
    abandoned: int
    listener_sd: float
    item_sd: float
    noise_sd: float


def js_number(x: float) -> str:
    """A number as JavaScript's ``String(x)`` writes it (``1``, ``0.61``, ``0.6``)."""
    if float(x).is_integer():
        return str(int(x))
    return repr(float(x))


def _read_metrics(path: str | os.PathLike) -> dict[tuple[str, str], dict[str, float]]:
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader((ln for ln in fh if not ln.startswith("#")),
                                   delimiter="\t"))
    if not rows or not {"track", "condition"} <= set(rows[0]):
        raise ValueError(f"{path}: expected columns track, condition and metrics")
    present = [m for m in METRICS if m in rows[0]]
    if not present:
        raise ValueError(f"{path}: none of the metrics {', '.join(METRICS)}")
    out = {}
    for r in rows:
        vals = {}
        for m in present:
            try:
                v = abs(float(r[m]))
            except (TypeError, ValueError):
                continue
            if math.isfinite(v):
                vals[m] = v
        out[(r["track"], r["condition"])] = vals
    return out


def deficits(metrics: Mapping[tuple[str, str], Mapping[str, float]],
             cells: Sequence[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """Objective deficit ``D`` (model step 1) of every (track, condition) cell."""
    scale: dict[str, float] = {}
    names = sorted({m for v in metrics.values() for m in v})
    for m in names:
        vals = [metrics[c][m] for c in cells
                if c[1] != REFERENCE and c in metrics and m in metrics[c]
                and metrics[c][m] > 0]
        if vals:
            scale[m] = float(np.median(vals))
    out: dict[tuple[str, str], float] = {}
    for cell in cells:
        if cell[1] == REFERENCE:
            out[cell] = 0.0
            continue
        vals = metrics.get(cell, {})
        parts = [vals[m] / scale[m] for m in scale if m in vals]
        out[cell] = float(np.mean(parts)) if parts else math.nan
    # Cells without metrics: the condition's median deficit (else the overall median).
    for cell, d in out.items():
        if math.isnan(d):
            same = [v for (t, c), v in out.items() if c == cell[1] and not math.isnan(v)]
            anyd = [v for (t, c), v in out.items() if c != REFERENCE and not math.isnan(v)]
            out[cell] = float(np.median(same or anyd or [1.0]))
            log.warning("%s/%s: no objective metrics in per_track.tsv; deficit %.2f assumed",
                        cell[0], cell[1], out[cell])
    return out


def expected_grades(d: Mapping[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """Model step 2: ``100 * exp(-kappa * D)``."""
    return {k: 100.0 * math.exp(-KAPPA * v) for k, v in d.items()}


# ----------------------------------------------------------------------------- XML
def _spec(test_xml: str | os.PathLike) -> ET.Element:
    return ET.parse(test_xml).getroot()


def _survey_results(parent: ET.Element, survey: ET.Element | None, location: str,
                    answers: Mapping[str, str], r: np.random.Generator,
                    complete: bool) -> None:
    node = ET.SubElement(parent, "survey", location=location,
                         state="complete" if complete else "empty")
    if survey is None:
        return
    for entry in survey:
        kind = entry.tag.removeprefix("survey")
        if kind == "statement" or entry.tag == "surveyentry":
            continue
        sr = ET.SubElement(node, "surveyresult", ref=entry.get("id"), type=kind)
        if not complete:
            continue
        sr.set("duration", js_number(round(float(r.uniform(1.5, 9.0)), 3)))
        value = answers.get(entry.get("id"), "")
        if kind == "radio":
            text = next((o.text or "" for o in entry.findall("option")
                         if o.get("name") == value), "")
            ET.SubElement(sr, "response", name=value).text = text
        else:
            ET.SubElement(sr, "response").text = value


def _answers(r: np.random.Generator, listener: int) -> dict[str, str]:
    return {
        "listener_id": f"SIM{listener:02d}",
        "age": str(int(np.clip(round(r.normal(31, 9)), 18, 70))),
        "gender": str(r.choice(["female", "male", "nonbinary", "undisclosed"],
                               p=[0.45, 0.45, 0.05, 0.05])),
        "experience": str(r.choice(["none", "listener", "musician", "engineer"],
                                   p=[0.1, 0.3, 0.3, 0.3])),
        "headphones": str(r.choice(["closed", "open", "inear", "speakers"],
                                   p=[0.5, 0.3, 0.15, 0.05])),
        "comments": "",
    }


def _element_result(page: ET.Element, ae: ET.Element, label: str, value: float | None,
                    info: Mapping[str, Any], r: np.random.Generator, t0: float
                    ) -> tuple[ET.Element, float]:
    etype = ae.get("type", "normal")
    node = ET.SubElement(page, "audioelement", ref=ae.get("id"))
    if ae.get("name") is not None:
        node.set("name", ae.get("name"))
    node.set("type", etype)
    node.set("url", ae.get("url"))
    node.set("fqurl", LOCAL_URL + ae.get("url"))
    node.set("gain", "0")
    node.set("presentedId", label)
    node.set("playGain", "0")
    metric = ET.SubElement(node, "metric")
    listen = float(min(info["duration_s"], r.uniform(3.0, 8.0)) * r.integers(1, 3))
    ET.SubElement(metric, "metricresult", name="enableElementTimer").text = js_number(listen)
    tracker = ET.SubElement(metric, "metricresult", name="elementTrackerFull")
    initial = round(float(r.uniform(0, 1)), 2)
    if value is not None:
        ET.SubElement(tracker, "movement", time="0", value=js_number(initial))
        ET.SubElement(tracker, "movement", time=js_number(t0 + listen * 0.8),
                      value=js_number(value))
    lt = ET.SubElement(metric, "metricresult", name="elementListenTracker")
    ev = ET.SubElement(lt, "event")
    ET.SubElement(ev, "testtime", start=js_number(t0), stop=js_number(t0 + listen))
    ET.SubElement(ev, "buffertime", start="0", stop=js_number(listen))
    if value is not None:
        ET.SubElement(metric, "metricresult", name="elementInitialPosition").text = \
            js_number(initial)
    ET.SubElement(metric, "metricresult", name="elementFlagListenedTo").text = "true"
    ET.SubElement(metric, "metricresult", name="elementFlagMoved").text = \
        "true" if value is not None else "false"
    ET.SubElement(node, "file", sampleRate=str(info["sample_rate"]),
                  channels=str(info["channels"]), sampleCount=str(info["frames"]),
                  duration=js_number(info["duration_s"]))
    if value is not None:
        ET.SubElement(node, "value").text = js_number(value)
        comment = ET.SubElement(node, "comment")
        ET.SubElement(comment, "question").text = f"Comment on track {label}"
        ET.SubElement(comment, "response")
    return node, t0 + listen


def _session(spec: ET.Element, key: str, listener: int, grades: Mapping[str, float] | None,
             files: Mapping[str, Mapping[str, Any]], r: np.random.Generator,
             pages_done: int | None, when: _dt.datetime) -> ET.Element:
    """One WAET result document. ``grades``: element id -> 0..100 (None: abandoned)."""
    complete = pages_done is None
    root = ET.Element("waetresult", key=key, state="complete" if complete else "update")
    waet = copy.deepcopy(spec)
    waet.set("file-name", TEST_XML)
    waet.set("url", LOCAL_URL + TEST_XML)
    root.append(waet)
    dt = ET.SubElement(root, "datetime")
    ET.SubElement(dt, "date", year=str(when.year), month=str(when.month), day=str(when.day))
    ET.SubElement(dt, "time", hour=str(when.hour), minute=str(when.minute),
                  secs=str(when.second))
    nav = ET.SubElement(root, "navigator")
    ET.SubElement(nav, "platform").text = SIMULATED_PLATFORM
    ET.SubElement(nav, "vendor").text = "vocalmix"
    ET.SubElement(nav, "uagent").text = (
        "vocalmix simulated listener (rating model: vocalmix.listening.simulate)")
    ET.SubElement(nav, "window", innerWidth="1400", innerHeight="857")
    setup = spec.find("setup")
    surveys = {s.get("location"): s for s in setup.findall("survey")}
    answers = _answers(r, listener)
    _survey_results(root, surveys.get("before") or surveys.get("pre"), "pre", answers, r,
                    True)
    _survey_results(root, surveys.get("after") or surveys.get("post"), "post", answers, r,
                    complete)
    pages = spec.findall("page")
    order = r.permutation(len(pages)) if setup.get("randomiseOrder") == "true" \
        else np.arange(len(pages))
    n_pages = len(pages) if complete else min(pages_done + 1, len(pages))
    for pos in range(n_pages):
        sp = pages[int(order[pos])]
        done = complete or pos < pages_done
        page = ET.SubElement(root, "page", ref=sp.get("id"), presentedId=str(pos),
                             state="complete" if done else "empty")
        ET.SubElement(page, "survey", location="pre", state="empty")
        ET.SubElement(page, "survey", location="post", state="empty")
        pm = ET.SubElement(page, "metric")
        elements = sp.findall("audioelement")
        rated = [ae for ae in elements if ae.get("type") != "outside-reference"]
        outside = [ae for ae in elements if ae.get("type") == "outside-reference"]
        if sp.get("randomiseOrder") == "true":
            rated = [rated[int(i)] for i in r.permutation(len(rated))]
        t = 0.0
        for j, ae in enumerate(rated):
            label = chr(65 + j % 26) if sp.get("label") == "capital" else str(j + 1)
            value = round(grades[ae.get("id")]) / 100 if (done and grades) else None
            _, t = _element_result(page, ae, label, value, files[ae.get("id")], r, t)
        for ae in outside:
            _, t = _element_result(page, ae, "Reference", None, files[ae.get("id")], r, t)
        if done:
            ET.SubElement(pm, "metricresult", id="testTime").text = js_number(
                t + float(r.uniform(5, 20)))
    return root


def _write(root: ET.Element, path: str | os.PathLike) -> None:
    tree = ET.ElementTree(root)
    ET.indent(tree, space="  ")
    with atomic_path(path) as tmp:
        tmp.write_text('<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode")
                       + "\n")


def _key(seed: int, *keys: object) -> str:
    a = derive_seed(seed, "listening-sim-key", *keys)
    b = derive_seed(seed, "listening-sim-key2", *keys)
    return f"{a:016x}{b:016x}"


def simulate_panel(
    test_xml: str | os.PathLike,
    key_tsv: str | os.PathLike,
    per_track_tsv: str | os.PathLike,
    outputs: Sequence[str | os.PathLike],
    abandoned_outputs: Sequence[str | os.PathLike] = (),
    *,
    seed: int,
    settings: SimulationSettings = SimulationSettings(),
    waet_root: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write one complete result per path in ``outputs`` and one abandoned session per path
    in ``abandoned_outputs``; return the model's expected grades and who was careless.

    The number of sessions is that of the paths (``settings.listeners`` and
    ``settings.abandoned`` name them in the workflow); ``settings`` gives the careless
    listeners and the SDs of the rating model.
    """
    careless = settings.careless
    listener_sd, item_sd, noise_sd = settings.listener_sd, settings.item_sd, settings.noise_sd
    from vocalmix.listening.export import read_key

    spec = _spec(test_xml)
    key = read_key(key_tsv)
    root_dir = Path(waet_root) if waet_root is not None else Path(test_xml).parent.parent
    files: dict[str, dict[str, Any]] = {}
    cells: list[tuple[str, str]] = []
    for page in spec.findall("page"):
        for ae in page.findall("audioelement"):
            eid = ae.get("id")
            if eid not in key:
                raise ValueError(f"{key_tsv}: element {eid!r} of {test_xml} is missing")
            entry = key[eid]
            files[eid] = audio_info(root_dir / entry["file"])
            if ae.get("type") != "outside-reference":
                cells.append((entry["track"], entry["condition"]))
    metrics = _read_metrics(per_track_tsv)
    d = deficits(metrics, cells)
    mu = expected_grades(d)
    tracks = sorted({t for t, _ in cells})
    item_effect = {t: float(rng(seed, "listening-sim", "item", t).normal(0, item_sd))
                   for t in tracks}
    n = len(outputs)
    careless_set = set(int(i) for i in rng(seed, "listening-sim", "careless").choice(
        n, size=min(careless, n), replace=False)) if careless and n else set()
    base_day = _dt.datetime(2026, 1, 5, 9, 0, 0)
    def grades_of(r: np.random.Generator, is_careless: bool) -> dict[str, float]:
        leniency = float(r.normal(0, listener_sd))
        grades: dict[str, float] = {}
        for page in spec.findall("page"):
            for ae in page.findall("audioelement"):
                if ae.get("type") == "outside-reference":
                    continue
                entry = key[ae.get("id")]
                cell = (entry["track"], entry["condition"])
                if is_careless:
                    g = float(r.uniform(0, 100))
                elif cell[1] == REFERENCE:
                    g = 100.0 - abs(float(r.normal(0, REFERENCE_SD)))
                else:
                    g = (mu[cell] + leniency + item_effect[cell[0]]
                         + float(r.normal(0, noise_sd)))
                grades[ae.get("id")] = float(np.clip(g, 0.0, 100.0))
        return grades

    for i, path in enumerate(outputs):
        listener = i + 1
        r = rng(seed, "listening-sim", "listener", listener)
        grades = grades_of(r, i in careless_set)
        when = base_day + _dt.timedelta(days=i // 6, hours=int(r.integers(0, 8)),
                                        minutes=int(r.integers(0, 60)))
        doc = _session(spec, _key(seed, listener), listener, grades, files, r, None, when)
        _write(doc, path)
    for j, path in enumerate(abandoned_outputs):
        r = rng(seed, "listening-sim", "abandoned", j)
        grades = grades_of(r, False)
        done = int(r.integers(0, max(1, len(spec.findall("page")))))
        when = base_day + _dt.timedelta(days=j, hours=int(r.integers(0, 8)))
        doc = _session(spec, _key(seed, "abandoned", j), 900 + j, grades, files, r, done,
                       when)
        _write(doc, path)
    log.info("simulated %d listeners (%d careless) and %d abandoned sessions on %d items",
             n, len(careless_set), len(abandoned_outputs), len(tracks))
    return {"expected": {f"{t}/{c}": round(v, 3) for (t, c), v in sorted(mu.items())},
            "deficit": {f"{t}/{c}": round(v, 4) for (t, c), v in sorted(d.items())},
            "careless": sorted(f"SIM{i + 1:02d}" for i in careless_set)}
