"""Mixing systems and the one effect chain they share.

Every system (rule-based, data-driven, preset) only chooses a :class:`MixRecipe`;
:mod:`vocalmix.dsp.chain` renders it. Keep this file free of imports.
"""
