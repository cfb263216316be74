"""Mixing systems and the one effect chain they share.

Every system (rule-based, data-driven, preset) only chooses a :class:`MixRecipe`;
:mod:`vocalmix.dsp.chain` renders it. The contract is :mod:`.base` (``Mixer``,
``MixContext``, ``MixChoice``), the systems by name :mod:`.registry` (``SYSTEMS``,
``get_mixer``), their shared decision helpers :mod:`.common`. Keep this file free of imports.
"""
