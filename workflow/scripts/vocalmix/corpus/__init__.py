"""The corpus: the embedded demo generator, dataset adapters and ingestion.

Keep this file free of imports so that importing one submodule stays cheap.
"""
