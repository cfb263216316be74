"""The listening test (proposal V) in the Web Audio Evaluation Tool (WAET).

- :mod:`vocalmix.listening.spec`: the WAET test XML (``<waet>``) and a checker of the
  structural rules of WAET's ``xml/test-schema.xsd`` (ids, element order, attributes).
- :mod:`vocalmix.listening.export`: rule ``export_waet`` / ``vocalmix listening export``:
  ``listening_test/waet/`` laid out like a WAET root (test XML, stimuli, KEY.tsv, notes).
- :mod:`vocalmix.listening.results`: rule ``import_ratings`` / ``vocalmix listening import``:
  WAET result XMLs (``<waetresult>``) to ``results/analysis/ratings.tsv``.
- :mod:`vocalmix.listening.simulate`: a simulated listener panel that writes result files in
  WAET's format when no real result exists (every output derived from it says SIMULATED).

The formats follow ``reference/waet/FORMAT.md`` (checked against WAET commit df854cf).
"""

#: File name of the test inside a WAET root, and the URL WAET is opened with.
TEST_XML = "tests/vocalmix.xml"
#: Folder of the stimuli inside a WAET root (one sub-folder per track).
MEDIA_DIR = "media/vocalmix"
#: WAET's local python server (``python/pythonServer.py``) listens here.
LOCAL_URL = "http://localhost:8000/"
#: Marker written into simulated result files (``navigator/platform``) and read back.
SIMULATED_PLATFORM = "SIMULATED by vocalmix (not a browser)"
