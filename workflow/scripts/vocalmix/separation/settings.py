"""Settings of source separation (config section ``separation``; defaults from the schema).

One class per backend's sub-section and :class:`SeparationSettings` for the whole section;
:attr:`SeparationSettings.chosen` is the configured backend's.
"""

from __future__ import annotations

from vocalmix.config import schema_settings

__all__ = ["BACKENDS", "METHODS", "PretrainedSettings", "BuiltinSettings", "SpleeterSettings",
           "DemucsSettings", "SeparationSettings"]

#: ``pretrained`` (the default): Spleeter's 2stems network in PyTorch with Deezer's weights
#: (:mod:`vocalmix.separation.spleeter_net`); ``builtin``: the project's trainable network
BACKENDS = ("pretrained", "builtin", "spleeter", "demucs")
#: What the ``builtin`` backend runs: its trained network or training-free REPET-SIM.
METHODS = ("network", "repet_sim")


@schema_settings("separation.pretrained")
class PretrainedSettings:
    """The pretrained separator: ``weights``, the converted Spleeter 2stems ``.npz`` (``""``:
    the installed file)."""

    weights: str


@schema_settings("separation.builtin")
class BuiltinSettings:
    """The builtin separator: ``method`` (``network`` or ``repet_sim``) and the training of
    its mask network (steps, excerpts per step, excerpt length in s, width, residual blocks,
    peak learning rate, longest excerpt of a training track kept in memory in s)."""

    method: str
    steps: int
    batch_size: int
    segment_s: float
    hidden: int
    blocks: int
    learning_rate: float
    max_seconds_per_track: float


@schema_settings("separation.spleeter")
class SpleeterSettings:
    """The spleeter backend: its ``MODEL_PATH`` (``""``: the environment variable), the
    pretrained model and the interpreter of its environment (``auto``)."""

    model_path: str
    model: str
    python: str


@schema_settings("separation.demucs")
class DemucsSettings:
    """The demucs backend: the local weights folder, the model or bag name, the random shifts
    averaged, the overlap of split windows and the interpreter of its environment."""

    repo: str
    name: str
    shifts: int
    overlap: float
    python: str


@schema_settings("separation", nested={"pretrained": PretrainedSettings,
                                       "builtin": BuiltinSettings,
                                       "spleeter": SpleeterSettings,
                                       "demucs": DemucsSettings})
class SeparationSettings:
    """Source separation of the ``commercial_mixes``: the backend and each backend's
    settings (``split`` and ``train_weight`` are the separated tracks' split and weight in
    training, read by :mod:`vocalmix.corpus.separated`)."""

    backend: str
    split: str
    train_weight: float
    calibration_tracks: int
    pretrained: PretrainedSettings
    builtin: BuiltinSettings
    spleeter: SpleeterSettings
    demucs: DemucsSettings

    @property
    def chosen(self) -> PretrainedSettings | BuiltinSettings | SpleeterSettings | DemucsSettings:
        """The configured backend's settings.

        Raises
        ------
        ValueError
            ``backend`` is none of :data:`BACKENDS`.
        """
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown separation backend {self.backend!r}; use one of "
                             f"{', '.join(BACKENDS)}")
        return getattr(self, self.backend)
