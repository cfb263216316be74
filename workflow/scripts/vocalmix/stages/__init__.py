"""Floor 8, the stage adapters: the only code that knows Snakemake.

:mod:`.runner` runs a stage from a rule's wrapper script (logging to the rule's log,
named inputs and outputs) and lists the package sources each rule depends on.
Keep this file free of imports.
"""
