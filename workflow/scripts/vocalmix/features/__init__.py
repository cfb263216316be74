"""Ground-truth features: loudness (BS.1770 / EBU), spectra, reverb descriptors and fits.

Keep this file free of imports: ``vocalmix loudness`` imports only
:mod:`vocalmix.measure.loudness` and must start fast.
"""
