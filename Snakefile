# vocalmix: automatic mixing of a singing vocal with a backing track.
# Thin entry point: version, config (validated in common.smk), report, rules, targets.
# Run:  snakemake -j8 all          (README: Configuration, datasets, cluster profiles)

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/separation.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/genre.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/listening.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/cluster.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
