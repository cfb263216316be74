"""Floor 7, the experiment: the listening-test conditions and their objective evaluation.

Rendering of the five conditions through the mixing systems (:mod:`.render`), the
objective comparison of each condition with the professional mix (:mod:`.objective`), and
the held-out comparison of the systems against the corruption's ground truth
(:mod:`.systems`). Keep this file free of imports.
"""
