"""The mixing systems by their one name, and :func:`get_mixer`.

Every caller -- ``vocalmix mix`` (:mod:`vocalmix.mixing.api`), the render stage
(:func:`vocalmix.evaluation.render.render_condition`) and the held-out evaluation
(:func:`vocalmix.evaluation.systems.evaluate_track`) -- gets its system from
:func:`get_mixer` and calls ``choose(vocal, backing, sample_rate, context)``
(:class:`vocalmix.mixing.base.Mixer`). A system has one name everywhere (the CLI's
``--system``, ``recipe.system``, the listening-test condition it renders):

``rule_based``
    analysis and published mixing rules over a genre table (:mod:`.rule_based`);
``data_driven``
    trained models choose the settings (:mod:`.data_driven`; torch is imported only when
    this system loads its models);
``preset``
    a karaoke app's fixed preset chain (:mod:`.preset`): what the listening test's
    ``commercial`` condition renders when no commercial tool's render is supplied.

To add a system: write a class with ``name``, ``needs_genre`` and ``choose`` in its own
module of :mod:`vocalmix.mixing` and register a factory in :data:`SYSTEMS` that imports it.
"""

from __future__ import annotations

from typing import Callable

from vocalmix.mixing.base import Mixer

__all__ = ["SYSTEMS", "get_mixer"]


def _rule_based() -> Mixer:
    from vocalmix.mixing.rule_based import RuleBasedMixer

    return RuleBasedMixer()


def _data_driven() -> Mixer:
    from vocalmix.mixing.data_driven import DataDrivenMixer

    return DataDrivenMixer()


def _preset() -> Mixer:
    from vocalmix.mixing.preset import PresetMixer

    return PresetMixer()


#: The mixing systems by their one name; each factory imports its system only when called.
#: ``preset`` is what the ``commercial`` listening-test condition falls back to when no
#: commercial render is supplied.
SYSTEMS: dict[str, Callable[[], Mixer]] = {
    "rule_based": _rule_based,
    "data_driven": _data_driven,
    "preset": _preset,
}


def get_mixer(name: str) -> Mixer:
    """The system called ``name`` (a key of :data:`SYSTEMS`), its module imported now.

    Raises
    ------
    ValueError
        For a name that is not a system, listing the known ones.
    """
    try:
        factory = SYSTEMS[name]
    except KeyError:
        raise ValueError(f"unknown mixing system {name!r}; one of "
                         f"{', '.join(SYSTEMS)}") from None
    return factory()
