"""The one contract of the mixing systems: a :class:`Mixer` chooses a recipe
(:class:`MixChoice`) from the signals and a :class:`MixContext`; the shared chain
(:mod:`vocalmix.dsp.chain`) renders it. The systems are registered, by their one name, in
:mod:`vocalmix.mixing.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Protocol

import numpy as np
from numpy.typing import NDArray

from vocalmix.config import schema_settings
from vocalmix.dsp import chain
from vocalmix.dsp.cleanup import Cleanup
from vocalmix.dsp.recipe import BackingRecipe, MixRecipe, VocalRecipe
from vocalmix.mixing.reference import ReferenceTargets

__all__ = ["MixingSettings", "MixContext", "MixChoice", "RenderedBranch", "RenderedVocal",
           "RenderedBacking",
           "Mixer"]


@schema_settings("mixing")
class MixingSettings:
    """The mixing systems' settings (config section ``mixing``; defaults from the schema).

    ``analysis_s`` is read by the pipeline's stages that run the systems on a dataset's
    songs (:func:`vocalmix.evaluation.render.analysis_window`), not by the systems."""

    smooth_windows: int
    analysis_s: float


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
    cleanup : Cleanup or None
        Phone-take cleanup (noise reduction, de-essing; :mod:`vocalmix.dsp.cleanup`) of the
        vocal before everything else, recorded in the recipe (every system).
    reference : ReferenceTargets or None
        A reference song's measured targets (:mod:`vocalmix.mixing.reference`), used in
        place of the genre's (rule_based) or the models' level and loudness range
        (data_driven) when ``reference.reliable``; recorded either way.
    """

    genre: str | None = None
    genre_source: str = "given"
    genre_stats: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    pitch_correct: bool = False
    model_dir: Path | None = None
    models: Mapping[str, Callable] | None = None
    smooth_windows: int = MixingSettings().smooth_windows
    hop_s: float | None = None
    reference: ReferenceTargets | None = None
    cleanup: Cleanup | None = None


@dataclass(frozen=True, eq=False)
class RenderedBranch:
    """One branch of a recipe (vocal or backing), rendered at 0 dB gain by a system while it
    chose: :meth:`MixChoice.render` scales it by the recipe's gain instead of running the
    branch again.

    Attributes
    ----------
    source : ndarray
        The signal the system was given (``(channels, samples)``).
    recipe : VocalRecipe or BackingRecipe
        The branch it is a render of, with ``gain_db`` 0.
    stem : ndarray [shape=(2, samples), dtype=float32]
        The branch's output at 0 dB gain.
    """

    source: NDArray
    recipe: VocalRecipe | BackingRecipe
    stem: NDArray

    def matches(self, signal: NDArray, recipe: VocalRecipe | BackingRecipe) -> bool:
        """Whether :attr:`stem` is ``recipe``'s branch on ``signal`` but for the gain."""
        signal = np.atleast_2d(signal)
        return (self.stem.shape == (2, signal.shape[1])
                and replace(recipe, gain_db=0.0) == self.recipe
                and (signal is self.source or (signal.shape == self.source.shape
                                               and np.array_equal(signal, self.source))))


class RenderedVocal(RenderedBranch):
    """The vocal branch (pitch correction, filters, compressor, reverb) at 0 dB gain: the
    searches render it anyway."""


class RenderedBacking(RenderedBranch):
    """The backing branch (its EQ) at 0 dB gain: the rule-based system measures the backing
    under its masking cuts (:func:`vocalmix.dsp.chain.process_backing`)."""


@dataclass(frozen=True)
class MixChoice:
    """A system's decision: the recipe, and the vocal cleaned up and pitch-corrected when
    the recipe does either (the system prepared it to analyse it; rendering reuses it rather
    than preparing it twice); ``rendered``, the vocal branch the system already rendered;
    ``rendered_backing``, the backing branch likewise."""

    recipe: MixRecipe
    pitch_corrected: NDArray | None = None
    rendered: RenderedVocal | None = None
    rendered_backing: RenderedBacking | None = None

    def render(self, vocal: NDArray, backing: NDArray, sample_rate: int) -> chain.MixResult:
        """The mix and its stems, rendered by the shared chain (:func:`vocalmix.dsp.chain.render`;
        the vocal branch from :attr:`rendered` where it is a render of this recipe on this
        vocal, the backing branch from :attr:`rendered_backing` where it is one of this
        recipe on this backing)."""
        stem = b_stem = None
        if self.rendered is not None and self.rendered.matches(vocal, self.recipe.vocal):
            stem = self.rendered.stem
        rb = self.rendered_backing
        if rb is not None and rb.matches(backing, self.recipe.backing):
            b_stem = rb.stem
        return chain.render(vocal, backing, sample_rate, self.recipe,
                            pitch_corrected=self.pitch_corrected, vocal_stem_0db=stem,
                            backing_stem_0db=b_stem)


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
