"""The WAET test specification (``<waet>``): building it, and checking its structure.

:func:`build_test` writes one page per test item with the five conditions as audio elements
(the reference as WAET's hidden reference, optionally an open reference button), a
pre-test survey and BS.1534 scale labels. :func:`check_structure` enforces the rules of
WAET's ``xml/test-schema.xsd`` that a hand-written test can break (see
``reference/waet/FORMAT.md`` 2.1-2.2): the element order of every XSD sequence, required
and known attributes with their types, and ``xs:ID`` values that are NCNames and unique in
the whole document (pages, audio elements and survey entries share one id space). WAET's
own files, the XSD included, are not part of this project; the rules are restated here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from vocalmix.conditions import REFERENCE
from vocalmix.seeding import rng

__all__ = [
    "Stimulus",
    "Item",
    "StructureError",
    "INTERFACES",
    "build_test",
    "check_structure",
    "page_id",
    "element_id",
    "open_reference_id",
    "to_bytes",
    "audio_elements",
    "TestLayout",
    "XSI",
]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("xsi", XSI)

INTERFACES = ("MUSHRA", "APE")

#: BS.1534-3 quality scale: five equal intervals, labelled at their centres.
BS1534_SCALE = ((90, "Excellent"), (70, "Good"), (50, "Fair"), (30, "Poor"), (10, "Bad"))

#: What WAET records about every stimulus (FORMAT.md 2.4).
METRICS = (
    "testTimer",
    "elementTimer",
    "elementInitialPosition",
    "elementTracker",
    "elementFlagListenedTo",
    "elementFlagMoved",
    "elementListenTracker",
)


class StructureError(ValueError):
    """A test XML that WAET's schema would reject; the message says where and why."""


@dataclass(frozen=True)
class Stimulus:
    """One rendered mix on one page: ``url`` is relative to the page's ``hostURL``."""

    condition: str
    url: str
    duration_s: float


@dataclass(frozen=True)
class Item:
    """One test item (a page): a track and its stimuli, the reference among them."""

    track: str
    host_url: str
    stimuli: tuple[Stimulus, ...]

    def reference(self) -> Stimulus:
        for s in self.stimuli:
            if s.condition == REFERENCE:
                return s
        raise ValueError(f"item {self.track!r} has no {REFERENCE!r} stimulus")


def page_id(track: str) -> str:
    """The page's ``xs:ID`` (NCName: track ids may start with a digit, so prefixed)."""
    return f"item-{track}"


def element_id(track: str, condition: str) -> str:
    return f"item-{track}-{condition}"


def open_reference_id(track: str) -> str:
    return f"item-{track}-openref"


# ----------------------------------------------------------------------------- building
def _instructions(n_items: int, n_conditions: int, interface: str, open_reference: bool,
                  minutes: int) -> str:
    how = ("Each mix has a vertical slider: press *Play* under it to listen, then move the "
           "slider." if interface == "MUSHRA" else
           "Each mix is a marker on the horizontal scale: click a marker to listen to it, "
           "then drag it to the place that describes its quality.")
    ref = ("The *Reference* button plays the reference mix. " if open_reference else "")
    return "\n".join([
        "## Listening test: mixing a singing voice with its backing track",
        "",
        f"On each of the {n_items} pages you hear one excerpt of a song mixed in "
        f"{n_conditions} different ways. {how} {ref}",
        "",
        "Rate how good each mix sounds compared with the reference: the level of the voice "
        "against the backing, its tone, its dynamics and its reverb, and the overall "
        "quality, from 0 (bad) to 100 (excellent). One of the mixes on every page is the "
        "reference itself, hidden among the others: rate it 100 when you find it.",
        "",
        "Please use good headphones in a quiet room. Set a comfortable volume on the first "
        "page and keep it for the whole test. All mixes are already at the same loudness. "
        "You must play every mix and move every slider before *Next* takes you on. "
        f"The test takes about {minutes} minute{'s' if minutes != 1 else ''}.",
    ])


def _survey_before(parent: ET.Element, instructions: str) -> None:
    survey = ET.SubElement(parent, "survey", location="before")
    st = ET.SubElement(survey, "surveystatement", id="instructions")
    ET.SubElement(st, "statement").text = instructions
    q = ET.SubElement(survey, "surveyquestion", id="listener_id", mandatory="true")
    ET.SubElement(q, "statement").text = "Your listener ID (as given by the experimenter):"
    n = ET.SubElement(survey, "surveynumber", id="age", mandatory="true", min="16", max="99")
    ET.SubElement(n, "statement").text = "Your age (years):"
    for qid, statement, options in (
        ("gender", "Your gender:", (("female", "Female"), ("male", "Male"),
                                    ("nonbinary", "Non-binary"),
                                    ("undisclosed", "Prefer not to say"))),
        ("experience", "Your experience of critical listening:", (
            ("none", "None"),
            ("listener", "Regular critical listening (e.g. hi-fi, audio tests)"),
            ("musician", "Musician or singer"),
            ("engineer", "Audio engineer or producer (I mix)"))),
        ("headphones", "What are you listening with?", (
            ("closed", "Closed-back headphones"), ("open", "Open-back headphones"),
            ("inear", "In-ear headphones"), ("speakers", "Loudspeakers"),
            ("other", "Other"))),
    ):
        # Radio questions are mandatory: WAET throws on an unanswered optional radio.
        r = ET.SubElement(survey, "surveyradio", id=qid, mandatory="true")
        ET.SubElement(r, "statement").text = statement
        for name, text in options:
            ET.SubElement(r, "option", name=name).text = text


def _survey_after(parent: ET.Element) -> None:
    survey = ET.SubElement(parent, "survey", location="after")
    q = ET.SubElement(survey, "surveyquestion", id="comments", boxsize="large")
    ET.SubElement(q, "statement").text = "Any comments on the mixes or on the test? (optional)"


def _scales(parent: ET.Element) -> None:
    scales = ET.SubElement(parent, "scales")
    for pos, text in BS1534_SCALE:
        ET.SubElement(scales, "scalelabel", position=str(pos)).text = text


def build_test(
    items: Sequence[Item],
    *,
    interface: str = "MUSHRA",
    open_reference: bool = True,
    seed: int = 0,
) -> ET.Element:
    """The ``<waet>`` element of the test: one page per item, in a seeded order.

    WAET shuffles pages (``setup/@randomiseOrder``) and the stimuli of each page
    (``page/@randomiseOrder``) again for every listener; the seeded order written here is
    what a run without randomisation would present. The reference is WAET's hidden
    reference (``type="reference"``) without a ``marker`` (a marker would refuse low
    grades of the reference and censor the data BS.1534 post-screening needs); every
    stimulus carries its condition in ``name``, which WAET copies into the results.
    """
    if interface not in INTERFACES:
        raise ValueError(f"interface must be one of {INTERFACES}, got {interface!r}")
    if not items:
        raise ValueError("no test item: every track lacks the reference or its renders")
    n_cond = max(len(it.stimuli) for it in items)
    total_s = sum(sum(s.duration_s for s in it.stimuli) for it in items)
    # Roughly: every stimulus heard twice, plus 20 s per page for rating and navigation.
    minutes = max(1, round((2 * total_s + 20 * len(items)) / 60))

    root = ET.Element("waet", {f"{{{XSI}}}noNamespaceSchemaLocation": "test-schema.xsd"})
    setup = ET.SubElement(root, "setup", interface=interface, projectReturn="save.php",
                          randomiseOrder="true")
    ET.SubElement(setup, "exitText").text = (
        "Thank you! Your ratings have been saved. You may close this window.")
    _survey_before(setup, _instructions(len(items), n_cond, interface, open_reference,
                                        minutes))
    _survey_after(setup)
    metric = ET.SubElement(setup, "metric")
    for m in METRICS:
        ET.SubElement(metric, "metricenable").text = m
    iface = ET.SubElement(setup, "interface")
    for kind, name in (("check", "fragmentPlayed"), ("check", "fragmentMoved"),
                       ("show", "page-count"), ("show", "playhead"), ("show", "volume")):
        ET.SubElement(iface, "interfaceoption", type=kind, name=name)

    order = rng(seed, "listening", "page-order").permutation(len(items))
    for idx in order:
        item = items[int(idx)]
        item.reference()  # a page needs its reference
        durations = {round(s.duration_s, 4) for s in item.stimuli}
        attrs = {
            "id": page_id(item.track),
            "hostURL": item.host_url,
            "randomiseOrder": "true",
            "loop": "true",
            # Switching between time-aligned mixes keeps the musical position.
            "synchronous": "true" if len(durations) == 1 else "false",
            "label": "capital",
        }
        if interface == "MUSHRA":
            # BS.1534-3 Attachment 2: only the slider of the mix being heard moves.
            attrs["restrictMovement"] = "true"
        page = ET.SubElement(root, "page", attrs)
        pi = ET.SubElement(page, "interface",
                           {"name": "quality"} if interface == "APE" else {})
        ET.SubElement(pi, "title").text = (
            "Rate each mix against the reference: 0 = bad, 100 = excellent")
        _scales(pi)
        perm = rng(seed, "listening", "element-order", item.track).permutation(
            len(item.stimuli))
        for j in perm:
            s = item.stimuli[int(j)]
            el = {"id": element_id(item.track, s.condition), "url": s.url,
                  "name": s.condition}
            if s.condition == REFERENCE:
                el["type"] = "reference"
            ET.SubElement(page, "audioelement", el)
        if open_reference:
            ref = item.reference()
            ET.SubElement(page, "audioelement", {
                "id": open_reference_id(item.track), "url": ref.url,
                "name": REFERENCE, "type": "outside-reference"})
    check_structure(root)
    return root


def to_bytes(root: ET.Element) -> bytes:
    """Indented UTF-8 XML with a declaration (deterministic: same tree, same bytes)."""
    tree = ET.ElementTree(root)
    ET.indent(tree, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")


# ----------------------------------------------------------------------------- checking
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^[+-]?\d+$")


def _bool(v: str) -> bool:
    return v in ("true", "false", "1", "0")


def _decimal(v: str, lo: float | None = None, hi: float | None = None) -> bool:
    v = v.strip()
    if not _DECIMAL.match(v):
        return False
    x = float(v)
    return (lo is None or x >= lo) and (hi is None or x <= hi)


def _integer(v: str, lo: int | None = None, hi: int | None = None) -> bool:
    v = v.strip()
    if not _INTEGER.match(v):
        return False
    x = int(v)
    return (lo is None or x >= lo) and (hi is None or x <= hi)


def _enum(*values: str) -> Callable[[str], bool]:
    def check(v: str) -> bool:
        return v in values
    check.__doc__ = f"one of {', '.join(values)}"
    return check


_ANY = lambda v: True  # noqa: E731  (xs:string, xs:anyURI)
_ID = lambda v: bool(_NCNAME.match(v))  # noqa: E731
_NONNEG_INT = lambda v: _integer(v, lo=0)  # noqa: E731
_POS_INT = lambda v: _integer(v, lo=1)  # noqa: E731
_NONPOS_INT = lambda v: _integer(v, hi=0)  # noqa: E731
_NONNEG_DEC = lambda v: _decimal(v, lo=0)  # noqa: E731
_DEC = lambda v: _decimal(v)  # noqa: E731
_PERCENT = lambda v: _integer(v, lo=0, hi=100)  # noqa: E731
_BOOL = _bool
_BOXSIZE = _enum("normal", "large", "small", "huge")

# Attributes: name -> (type check, required).
_COMMON_PLAY = {"preSilence": (_NONNEG_DEC, False), "postSilence": (_NONNEG_DEC, False),
                "minNumberPlays": (_NONNEG_INT, False), "maxNumberPlays": (_NONNEG_INT, False)}
_SURVEY_ENTRY_ATTRS = {
    "surveyquestion": {"id": (_ID, True), "name": (_ANY, False), "mandatory": (_BOOL, False),
                       "minWait": (_NONNEG_INT, False), "boxsize": (_BOXSIZE, False)},
    "surveyradio": {"id": (_ID, True), "name": (_ANY, False), "mandatory": (_BOOL, False),
                    "min": (_DEC, False), "max": (_DEC, False), "randomise": (_BOOL, False),
                    "minWait": (_NONNEG_INT, False)},
    "surveycheckbox": {"id": (_ID, True), "name": (_ANY, False), "mandatory": (_BOOL, False),
                       "min": (_DEC, False), "max": (_DEC, False),
                       "randomise": (_BOOL, False), "minWait": (_NONNEG_INT, False)},
    "surveystatement": {"id": (_ID, True), "minWait": (_NONNEG_INT, False)},
    "surveynumber": {"id": (_ID, True), "name": (_ANY, False), "mandatory": (_BOOL, False),
                     "minWait": (_NONNEG_INT, False), "min": (_DEC, False),
                     "max": (_DEC, False)},
    "surveyslider": {"id": (_ID, True), "name": (_ANY, False), "minWait": (_NONNEG_INT, False),
                     "min": (_DEC, True), "max": (_DEC, True)},
    "surveyvideo": {"id": (_ID, True), "minWait": (_NONNEG_INT, False), "url": (_ANY, True)},
    "surveyyoutube": {"id": (_ID, True), "minWait": (_NONNEG_INT, False), "url": (_ANY, True)},
    "surveyentry": {"id": (_ID, True), "name": (_ANY, False), "mandatory": (_BOOL, False),
                    "min": (_DEC, False), "max": (_DEC, False),
                    "type": (_enum("statement", "question", "number", "radio", "checkbox",
                                   "video", "youtube"), True),
                    "boxsize": (_BOXSIZE, False), "url": (_ANY, False)},
}
ATTRIBUTES: dict[str, dict[str, tuple[Callable[[str], bool], bool]]] = {
    "waet": {},
    "setup": {"interface": (_ANY, True), "projectReturn": (_ANY, False),
              "returnURL": (_ANY, False), "randomiseOrder": (_BOOL, False),
              "poolSize": (_NONNEG_INT, False), "loudness": (_NONPOS_INT, False),
              "sampleRate": (_POS_INT, False), "crossFade": (_NONNEG_DEC, False),
              "randomiseAxisOrder": (_BOOL, False), "playOne": (_BOOL, False),
              **_COMMON_PLAY},
    "calibration": {"checkFrequencies": (_BOOL, False), "checkLevels": (_BOOL, False),
                    "checkChannels": (_BOOL, False)},
    "page": {"id": (_ID, True), "hostURL": (_ANY, False), "randomiseOrder": (_BOOL, False),
             "repeatCount": (_NONNEG_INT, False), "loop": (_BOOL, False),
             "synchronous": (_BOOL, False), "loudness": (_NONPOS_INT, False),
             "label": (_enum("default", "none", "number", "letter", "capital", "samediff"),
                       False),
             "labelStart": (_ANY, False), "randomiseAxisOrder": (_BOOL, False),
             "poolSize": (_NONNEG_INT, False), "alwaysInclude": (_BOOL, False),
             "position": (_NONNEG_INT, False), "playOne": (_BOOL, False),
             "restrictMovement": (_BOOL, False), **_COMMON_PLAY},
    "metric": {},
    "interface": {"name": (_ANY, False)},
    "image": {"src": (_ANY, True)},
    "interfaceoption": {"type": (_enum("check", "show", "option"), True),
                        "name": (_ANY, True), "min": (_DEC, False), "max": (_DEC, False)},
    "scales": {},
    "scalelabel": {"position": (_PERCENT, True)},
    "audioelement": {"id": (_ID, True), "url": (_ANY, True), "gain": (_DEC, False),
                     "label": (_ANY, False), "name": (_ANY, False),
                     "type": (_enum("normal", "anchor", "reference", "outside-reference"),
                              False),
                     "marker": (_PERCENT, False), "loudness": (_NONPOS_INT, False),
                     "alwaysInclude": (_BOOL, False),
                     "startTime": (_NONNEG_DEC, False), "stopTime": (_NONNEG_DEC, False),
                     "sampleRate": (lambda v: _decimal(v, lo=1), False),
                     "image": (_ANY, False), **_COMMON_PLAY},
    "alternative": {"url": (_ANY, True), "sampleRate": (lambda v: _decimal(v, lo=1), False)},
    "survey": {"location": (_enum("before", "pre", "after", "post"), False),
               "showBackButton": (_BOOL, False)},
    "option": {"name": (_ANY, False)},
    "conditional": {"check": (_enum("equals", "lessThan", "greaterThan", "stringContains"),
                              True),
                    "value": (_ANY, False), "jumpToOnPass": (_ANY, False),
                    "jumpToOnFail": (_ANY, False)},
    **_SURVEY_ENTRY_ATTRS,
}

# Children: an XSD sequence as (child tag, min, max or None for unbounded), in order.
_SURVEY_CHILDREN = {
    "surveyquestion": [("statement", 1, 1), ("conditional", 0, None)],
    "surveyradio": [("statement", 1, 1), ("option", 0, None), ("conditional", 0, None)],
    "surveycheckbox": [("statement", 1, 1), ("option", 0, None), ("conditional", 0, None)],
    "surveystatement": [("statement", 1, 1)],
    "surveynumber": [("statement", 1, 1), ("conditional", 0, None)],
    "surveyslider": [("statement", 1, 1), ("minText", 0, 1), ("maxText", 0, 1),
                     ("conditional", 0, None)],
    "surveyvideo": [("statement", 1, 1)],
    "surveyyoutube": [("statement", 1, 1)],
    "surveyentry": [("statement", 1, 1), ("option", 0, None), ("conditional", 0, None)],
}
SEQUENCES: dict[str, list[tuple[str, int, int | None]]] = {
    "waet": [("setup", 1, 1), ("page", 1, None)],
    "setup": [("exitText", 0, 1), ("calibration", 0, 1), ("survey", 0, 2), ("metric", 1, 1),
              ("interface", 1, 1)],
    "page": [("title", 0, 1), ("commentboxprefix", 0, 1), ("interface", 1, None),
             ("audioelement", 1, None), ("commentquestions", 0, 1), ("survey", 0, 2)],
    "interface": [("title", 0, 1), ("image", 0, 1), ("interfaceoption", 0, None),
                  ("scales", 0, 1)],
    "interfaceoption": [("errormessage", 0, 1)],
    "scales": [("scalelabel", 0, None)],
    "metric": [("metricenable", 0, None)],
    "audioelement": [("alternative", 0, None)],
    "calibration": [],
    "alternative": [],
    "image": [],
    "conditional": [],
    **_SURVEY_CHILDREN,
}
#: Elements whose children are a repeated choice (any order, any number).
CHOICES: dict[str, set[str]] = {
    "survey": set(_SURVEY_ENTRY_ATTRS),
    "commentquestions": {"commentquestion", "commentradio", "commentcheckbox",
                         "commentslider"},
}
#: Text-only elements (xs:string).
TEXT_ONLY = {"title", "exitText", "commentboxprefix", "metricenable", "statement", "option",
             "scalelabel", "errormessage", "minText", "maxText"}


def _where(path: Sequence[str]) -> str:
    return "/".join(path)


def _check_sequence(elem: ET.Element, spec: list, path: list[str], errors: list[str]) -> None:
    children = list(elem)
    i = 0
    for tag, lo, hi in spec:
        n = 0
        while i < len(children) and children[i].tag == tag:
            n += 1
            i += 1
        if n < lo:
            errors.append(f"{_where(path)}: expected at least {lo} <{tag}>, found {n}"
                          + (f" before <{children[i].tag}>" if i < len(children) else ""))
        if hi is not None and n > hi:
            errors.append(f"{_where(path)}: at most {hi} <{tag}> allowed, found {n}")
    if i < len(children):
        allowed = [t for t, _, _ in spec]
        errors.append(
            f"{_where(path)}: <{children[i].tag}> is not allowed here (the children of "
            f"<{elem.tag}> are, in this order: {', '.join(allowed) or 'none'})")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def check_structure(root: ET.Element) -> None:
    """Raise :class:`StructureError` listing every violation of WAET's schema rules found.

    Checked: the root is ``<waet>``; every XSD sequence's element order and counts
    (``waet``, ``setup``, ``page``, ``interface``, ``audioelement``, survey entries, ...);
    required attributes and their types (booleans, integers and decimals with their
    ranges, enumerations such as ``audioelement/@type`` and ``page/@label``); no unknown
    attribute; and every ``id`` an NCName, unique across the whole document.
    """
    errors: list[str] = []
    if root.tag != "waet":
        raise StructureError(f"the root element is <{root.tag}>, WAET expects <waet>")
    ids: dict[str, str] = {}

    def visit(elem: ET.Element, path: list[str]) -> None:
        tag = elem.tag
        here = path + [tag + (f"[@id={elem.get('id')!r}]" if elem.get("id") else "")]
        # attributes
        known = ATTRIBUTES.get(tag)
        if known is not None:
            for name, value in elem.attrib.items():
                if name.startswith("{"):
                    if name.startswith(f"{{{XSI}}}"):
                        continue  # xsi:* attributes are always allowed
                    errors.append(f"{_where(here)}: unknown attribute {_local(name)!r}")
                    continue
                if name not in known:
                    errors.append(f"{_where(here)}: unknown attribute {name!r}")
                    continue
                check, _ = known[name]
                if not check(value):
                    doc = f" ({check.__doc__})" if check.__doc__ else ""
                    errors.append(f"{_where(here)}: bad value {value!r} of @{name}{doc}")
            for name, (_, required) in known.items():
                if required and name not in elem.attrib:
                    errors.append(f"{_where(here)}: missing required attribute @{name}")
        if "id" in elem.attrib and (known is None or "id" in known):
            v = elem.get("id")
            if _ID(v):
                if v in ids:
                    errors.append(f"{_where(here)}: id {v!r} is not unique (also on "
                                  f"{ids[v]}); ids share one space across the document")
                else:
                    ids[v] = _where(here)
            elif known is None:
                errors.append(f"{_where(here)}: id {v!r} is not an NCName")
        # children
        if tag in TEXT_ONLY:
            if len(elem):
                errors.append(f"{_where(here)}: <{tag}> holds text only, found "
                              f"<{elem[0].tag}>")
            return
        if tag in CHOICES:
            for child in elem:
                if child.tag not in CHOICES[tag]:
                    errors.append(f"{_where(here)}: <{child.tag}> is not allowed in <{tag}> "
                                  f"(one of: {', '.join(sorted(CHOICES[tag]))})")
        elif tag in SEQUENCES:
            _check_sequence(elem, SEQUENCES[tag], here, errors)
        for child in elem:
            visit(child, here)

    visit(root, [])
    if errors:
        raise StructureError("; ".join(errors))


def audio_elements(root: ET.Element) -> Iterable[tuple[ET.Element, ET.Element]]:
    """(page, audioelement) pairs of a test specification, in document order."""
    for page in root.findall("page"):
        for ae in page.findall("audioelement"):
            yield page, ae


@dataclass(frozen=True)
class TestLayout:
    """Which pages a test has and which elements each page rates: what a result must match.

    Attributes
    ----------
    pages : Mapping[str, frozenset[str]]
        Page id -> ids of its rated elements (every type but ``outside-reference``).
    unrated : Mapping[str, frozenset[str]]
        Page id -> ids of its open-reference buttons (``type="outside-reference"``: no grade).
    """

    __test__ = False  # not a pytest class, despite the name

    pages: Mapping[str, frozenset[str]]
    unrated: Mapping[str, frozenset[str]]

    def page_of(self, element: str) -> str | None:
        """The page an element id belongs to, or None when the test has no such element."""
        for page, ids in self.pages.items():
            if element in ids or element in self.unrated.get(page, frozenset()):
                return page
        return None

    @classmethod
    def from_test(cls, root: ET.Element) -> "TestLayout":
        """The layout of a ``<waet>`` test specification (the exported ``vocalmix.xml``)."""
        pages: dict[str, set[str]] = {}
        unrated: dict[str, set[str]] = {}
        for page, ae in audio_elements(root):
            pid, eid = page.get("id", ""), ae.get("id", "")
            pages.setdefault(pid, set())
            unrated.setdefault(pid, set())
            (unrated if ae.get("type") == "outside-reference" else pages)[pid].add(eid)
        for page in root.findall("page"):
            pages.setdefault(page.get("id", ""), set())
            unrated.setdefault(page.get("id", ""), set())
        return cls({k: frozenset(v) for k, v in pages.items()},
                   {k: frozenset(v) for k, v in unrated.items()})

    @classmethod
    def from_key(cls, key: Mapping[str, Mapping[str, str]]) -> "TestLayout | None":
        """The layout recorded in the export's ``KEY.tsv`` (element id -> row with
        ``page_id`` and ``type``); None when the key has no ``page_id`` column."""
        pages: dict[str, set[str]] = {}
        unrated: dict[str, set[str]] = {}
        for eid, row in key.items():
            pid = row.get("page_id")
            if not pid:
                return None
            pages.setdefault(pid, set())
            unrated.setdefault(pid, set())
            (unrated if row.get("type") == "outside-reference" else pages)[pid].add(eid)
        if not pages:
            return None
        return cls({k: frozenset(v) for k, v in pages.items()},
                   {k: frozenset(v) for k, v in unrated.items()})

