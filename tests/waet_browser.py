"""Drive a real WAET checkout in headless Chromium through an exported vocalmix test.

Used by ``tests/unit/test_waet_browser.py`` (skipped unless ``VOCALMIX_WAET_DIR`` names a
WAET checkout and Chromium, chromedriver and selenium are present) and by hand::

    VOCALMIX_WAET_DIR=/path/to/WebAudioEvaluationTool \\
        .venv/bin/python -m tests.waet_browser listening_test/waet

The checkout is copied to a temporary folder (it is never modified), the export is copied
into the copy, WAET's own ``python/pythonServer.py`` serves it (port 8000, the POST
endpoints WAET saves through), and Chromium answers the pre-test survey, plays every
stimulus and the open reference on every page, moves every slider to a known grade, submits
and answers the post-test survey. The function returns the save WAET wrote and the grades
it was given, so a caller can check that ``vocalmix listening import`` reads them back.
WAET's code stays outside the project.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

PORT = 8000  # fixed in WAET's pythonServer.py
SURVEY_ANSWERS = {"listener_id": "browser-check", "age": "42", "gender": "undisclosed",
                  "experience": "engineer", "headphones": "closed",
                  "comments": "automated browser check"}


def available() -> str | None:
    """None when a browser run is possible, else the reason it is not."""
    waet = os.environ.get("VOCALMIX_WAET_DIR")
    if not waet:
        return "VOCALMIX_WAET_DIR (a WAET checkout) is not set"
    if not (Path(waet) / "test.html").is_file() or not (
            Path(waet) / "python" / "pythonServer.py").is_file():
        return f"VOCALMIX_WAET_DIR={waet} is not a WAET checkout"
    if not shutil.which("chromedriver") or not (shutil.which("chromium")
                                                or shutil.which("chromium-browser")):
        return "chromium and chromedriver are not installed"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", PORT)) == 0:
            return f"port {PORT} (WAET's pythonServer) is busy"
    return None


def grade_for(element_id: str, condition: str) -> str:
    """The slider value (0..1, WAET's 0.01 step, as WAET writes it) given to a stimulus."""
    if condition == "professional":
        return "1"
    v = (sum(ord(ch) for ch in element_id) * 37) % 81 + 10  # 10..90, varies by element
    return repr(v / 100)


def _wait(cond, timeout: float, what: str, poll: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = cond()
        if out:
            return out
        time.sleep(poll)
    raise TimeoutError(f"timed out waiting for {what}")


def _server(root: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "python/pythonServer.py"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", PORT)) == 0
    _wait(up, 15, "WAET's python server")
    return proc


def run_pass(export_dir: str | os.PathLike, waet_dir: str | os.PathLike | None = None,
             keep: str | os.PathLike | None = None, timeout: float = 120.0) -> dict:
    """One full pass through the test; returns {"save", "grades", "pages", "console"}.

    ``grades`` maps element id -> slider value set; ``save`` is the path of the result XML
    WAET saved (copied to ``keep`` when given).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    waet_dir = Path(waet_dir or os.environ["VOCALMIX_WAET_DIR"])
    tmp = Path(tempfile.mkdtemp(prefix="waet-check-"))
    root = tmp / "waet"
    shutil.copytree(waet_dir, root, ignore=shutil.ignore_patterns(".git"))
    for item in Path(export_dir).iterdir():
        dest = root / item.name
        if item.is_dir():
            shutil.copytree(item, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(item, dest)
    server = _server(root)
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1400,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=opts,
                           service=Service(shutil.which("chromedriver")))
    grades: dict[str, str] = {}
    pages: list[str] = []
    console: list[str] = []
    try:
        drv.get(f"http://127.0.0.1:{PORT}/test.html?url=tests/vocalmix.xml")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            body = drv.find_element(By.TAG_NAME, "body").text
            if "FATAL ERROR" in body:
                raise AssertionError(f"WAET rejected the test: {body[:2000]}")
            state = drv.execute_script(
                "if (typeof popup === 'undefined' || typeof testState === 'undefined') "
                "  return null;"
                "var p = popup.popup && popup.popup.style.visibility === 'visible';"
                "var lb = interfaceContext.lightbox.isVisible();"
                "var page = testState.getCurrentTestPage ? testState.getCurrentTestPage() "
                "  : undefined;"
                "var out = {popup: p, lightbox: lb, finished: storage.state === 1,"
                "  page: page ? page.id : null,"
                "  option: null};"
                "var n = p && popup.popupOptions ? popup.popupOptions[popup.currentIndex]"
                "  : undefined;"
                "if (n) out.option = {id: String(n.specification.id),"
                "                     type: String(n.specification.type)};"
                "return out;")
            if state is None:
                time.sleep(0.2)
                continue
            if state["lightbox"]:
                msg = drv.execute_script("return document.getElementById('lightbox-content')"
                                         " ? document.getElementById('lightbox-content')"
                                         ".textContent : 'lightbox';")
                raise AssertionError(f"WAET refused to go on: {msg}")
            if state["finished"]:
                break
            if state["popup"] and state["option"]:
                spec = state["option"]
                answer = SURVEY_ANSWERS.get(spec.get("id"), "")
                kind = spec.get("type")
                resp = drv.find_element(By.ID, "popupResponse")
                if kind == "question":
                    resp.find_element(By.TAG_NAME, "textarea").send_keys(answer)
                elif kind == "number":
                    resp.find_element(By.TAG_NAME, "input").send_keys(answer)
                elif kind == "radio":
                    resp.find_element(By.ID, answer).click()
                drv.find_element(By.ID, "popup-proceed").click()
                time.sleep(0.15)
                continue
            page = state["page"]
            if page and page not in pages and not state["popup"]:
                _wait(lambda: drv.execute_script(
                    "return audioEngineContext.checkAllReady() && "
                    "document.querySelectorAll('.track-slider').length > 0;"), 60,
                    f"the stimuli of page {page}")
                holders = drv.find_elements(By.CSS_SELECTOR, "#slider-holder .track-slider")
                for h in holders:
                    idx = int(h.get_attribute("trackIndex"))
                    eid, cond = drv.execute_script(
                        "var s = audioEngineContext.audioObjects[arguments[0]].specification;"
                        "return [s.id, s.name];", idx)
                    h.find_element(By.TAG_NAME, "button").click()  # play
                    _wait(lambda: drv.execute_script(
                        "return audioEngineContext.audioObjects[arguments[0]]"
                        ".metric.wasListenedTo;", idx), 10, f"playback of {eid}")
                    value = grade_for(eid, cond)
                    # restrictMovement: only the slider of the mix being heard is enabled
                    enabled = drv.execute_script(
                        "var s = arguments[0].querySelector('input[type=range]');"
                        "if (s.disabled) return false;"
                        "s.value = arguments[1]; s.dispatchEvent(new Event('change'));"
                        "return true;", h, value)
                    if not enabled:
                        raise AssertionError(f"the slider of {eid} is disabled while it plays")
                    grades[eid] = value
                for b in drv.find_elements(By.CSS_SELECTOR, "button.outside-reference"):
                    b.click()
                    time.sleep(0.3)
                pages.append(page)
                drv.find_element(By.ID, "submit-button").click()
                time.sleep(0.3)
                continue
            time.sleep(0.2)
        else:
            raise TimeoutError(f"the test did not finish in {timeout:.0f} s "
                               f"(pages done: {pages})")

        def saved():
            for f in (root / "saves").glob("*.xml"):
                try:
                    if ET.parse(f).getroot().get("state") == "complete":
                        return f
                except ET.ParseError:
                    pass
            return None
        save = _wait(saved, 20, "the complete save in saves/")
        console = [f"{e['level']}: {e['message']}" for e in drv.get_log("browser")]
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            save = Path(shutil.copy2(save, Path(keep) / save.name))
        return {"save": save, "grades": grades, "pages": pages, "console": console,
                "root": root}
    finally:
        drv.quit()
        server.terminate()
        server.wait(10)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def severe_errors(console: list[str]) -> list[str]:
    """Console errors, less the favicon 404 that WAET's server answers on every load."""
    return [c for c in console if c.startswith("SEVERE") and "favicon" not in c]


if __name__ == "__main__":  # a manual check: python -m tests.waet_browser EXPORT_DIR [KEEP]
    why = available()
    if why:
        sys.exit(f"cannot run: {why}")
    export = Path(sys.argv[1] if len(sys.argv) > 1 else "listening_test/waet")
    keep = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="save-"))
    t0 = time.monotonic()
    out = run_pass(export, keep=keep, timeout=600)
    print(f"pages {len(out['pages'])}, stimuli graded {len(out['grades'])}, "
          f"{time.monotonic() - t0:.1f} s; save: {out['save']}")
    for line in severe_errors(out["console"]):
        print("console:", line)
    from decimal import Decimal

    from vocalmix.listening.export import read_key
    from vocalmix.listening.results import parse_result

    sess = parse_result(out["save"], read_key(export / "KEY.tsv"))
    back = {r["element"]: r["rating"] for r in sess.rows}
    want = {k: float(Decimal(v) * 100) for k, v in out["grades"].items()}
    bad = {k: (want[k], back.get(k)) for k in want if back.get(k) != want[k]}
    print(f"imported {len(back)} grades; mismatches: {bad or 'none'}; survey: {sess.survey}")
    sys.exit(1 if bad or len(back) != len(want) else 0)
