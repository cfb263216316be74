"""The one contract of the mixing systems: a :class:`Mixer` chooses a recipe
(:class:`MixChoice`) from the signals and a :class:`MixContext`; the shared chain
(:mod:`vocalmix.dsp.chain`) renders it. The systems are registered, by their one name, in
:mod:`vocalmix.mixing.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol

from numpy.typing import NDArray

from vocalmix.config import schema_settings
from vocalmix.dsp import chain
from vocalmix.dsp.recipe import MixRecipe

__all__ = ["MixingSettings", "MixContext", "MixChoice", "Mixer"]


@schema_settings("mixing")
class MixingSettings:
    """The mixing systems' settings (config section ``mixing``; defaults from the schema)."""

    smooth_windows: int


@dataclass(frozen=True)
class MixContext:
    """What a system may know about the song beyond its two signals.

    Attributes
    ----------
    genre : str or None
        The song's genre, a row of ``genre_stats`` (rule_based); None: the overall average.
    genre_source : str
        Where ``genre`` came from (``given``, ``override``, ``metadata``, ``predicted``,
        ``average``), written to the recipe's analysis by the rule_based system.
    genre_stats : mapping
        The genre table, ``{genre: {"vocal_to_backing_lu": ..., "vocal_lra_lu": ...}}``
        with an ``all`` row for the overall median (rule_based).
    pitch_correct : bool
        Snap the vocal's notes to the backing's key before everything else (every system).
    model_dir : Path or None
        Directory of the trained task models, ``<model_dir>/<task>/model.pt``
        (data_driven, when ``models`` is None).
    models : mapping or None
        The task predictors already loaded from a model directory, so that a stage loads
        them once for many tracks (data_driven; takes precedence over ``model_dir``).
    smooth_windows : int
        Width, in analysis windows, of the moving average over the models' per-window
        predictions (data_driven).
    hop_s : float or None
        Hop between the models' analysis windows (s); None: the hop they were trained with
        (data_driven).
    """

    genre: str | None = None
    genre_source: str = "given"
    genre_stats: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    pitch_correct: bool = False
    model_dir: Path | None = None
    models: Mapping[str, Callable] | None = None
    smooth_windows: int = MixingSettings().smooth_windows
    hop_s: float | None = None


@dataclass(frozen=True)
class MixChoice:
    """A system's decision: the recipe, and the pitch-corrected vocal when the recipe
    corrects pitch (the system corrected it to analyse it; rendering reuses it rather
    than correcting twice)."""

    recipe: MixRecipe
    pitch_corrected: NDArray | None = None

    def render(self, vocal: NDArray, backing: NDArray, sample_rate: int) -> chain.MixResult:
        """The mix and its stems, rendered by the shared chain (:func:`vocalmix.dsp.chain.render`)."""
        return chain.render(vocal, backing, sample_rate, self.recipe,
                            pitch_corrected=self.pitch_corrected)


class Mixer(Protocol):
    """A mixing system: chooses the settings of the shared chain for one song.

    Attributes
    ----------
    name : str
        Its key in :data:`vocalmix.mixing.registry.SYSTEMS`, written as ``recipe.system``.
    needs_genre : bool
        Whether it reads ``context.genre``: only then does ``vocalmix mix`` predict the
        genre of a backing that has none.
    """

    name: str
    needs_genre: bool

    def choose(self, vocal: NDArray, backing: NDArray, sample_rate: int,
               context: MixContext) -> MixChoice:
        """The recipe for ``vocal`` over ``backing`` (both ``(channels, samples)`` float32
        at ``sample_rate``, equal lengths)."""
        ...
