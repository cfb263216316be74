"""Statistics of the listening test (``results/analysis/``).

- :mod:`vocalmix.stats.tables`: TSV tables with a title line (``# ...``) that says
  SIMULATED whenever the ratings come from the simulated panel.
- :mod:`vocalmix.stats.screening`: ITU-R BS.1534-3 post-screening of listeners.
- :mod:`vocalmix.stats.rmanova`: repeated-measures ANOVA (condition x item within
  listeners) with Greenhouse-Geisser / Huynh-Feldt corrections and partial eta squared.
- :mod:`vocalmix.stats.analysis`: descriptives, Friedman, post-hoc tests, the mixed model,
  figures; rule ``analyse_ratings`` / ``vocalmix stats``.
"""
