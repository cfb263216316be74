"""Source separation: finished songs -> vocal + backing pairs (``source=separated``).

Backends (``separation.backend``): ``pretrained`` (the default: :mod:`.spleeter_net`,
Spleeter's 2stems network in PyTorch with Deezer's weights, converted at setup by
:mod:`.spleeter_weights`), ``builtin`` (:mod:`.builtin`, a mask network trained on the
corpus's own training stems; or REPET-SIM, :mod:`.classical`), ``spleeter`` and ``demucs``
(:mod:`.external`, in their own environments, from local weights only). :func:`.api.separate`
is the one entry point; :mod:`.metrics` holds SDR / SI-SDR; the pipeline stages are
:mod:`.training` (rule ``train_separator``), :mod:`.stage` (rule ``separate``) and
:mod:`.quality` (rule ``separation_quality``).
"""
