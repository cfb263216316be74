"""Floor 1, measuring: numbers from signals, numpy and scipy only (no effects, no torch).

BS.1770 / EBU loudness (:mod:`.loudness`), long-term spectra and fractional-octave bands
(:mod:`.spectrum`), log-mel spectrograms (:mod:`.mel`), f0 (:mod:`.pitch`), key (:mod:`.key`),
tempo (:mod:`.tempo`), ISO 3382 descriptors of an impulse response (:mod:`.reverb`) and
blind reverberation estimates from a wet signal (:mod:`.reverb_blind`).
Keep this file free of imports: ``vocalmix loudness`` imports only :mod:`.loudness`.
"""
