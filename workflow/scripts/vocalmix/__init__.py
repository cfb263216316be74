"""vocalmix: automatic mixing of a singing vocal with a backing track.

The package holds all of the pipeline's logic; the Snakemake rules only adapt.
Keep this file free of heavy imports: ``vocalmix loudness`` must start fast.
"""

__version__ = "0.1.0"

#: The five listening-test conditions of proposal section V, in canonical order.
CONDITIONS = ("professional", "unprocessed", "commercial", "rule_based", "data_driven")
