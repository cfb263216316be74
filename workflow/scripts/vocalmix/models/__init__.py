"""Floor 5, learning: every torch model of the mixing systems, its data and training.

Networks (:mod:`.nets`), the windowed training dataset (:mod:`.dataset`) and its EQ
augmentation (:mod:`.augment`), training (:mod:`.train`), and the genre classifier of the
backing (:mod:`.genre`, scikit-learn, stored as JSON). torch is imported here and in
:mod:`vocalmix.separation` only. Keep this file free of imports.
"""
