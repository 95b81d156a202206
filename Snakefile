from snakemake.utils import min_version

min_version("9.27")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/descriptors.smk"
include: "rules/model.smk"
include: "rules/cnn.smk"
include: "rules/ensemble.smk"
include: "rules/unknowns.smk"
include: "rules/report.smk"
include: "rules/predict.smk"


report: report_text()


rule all:
    """The whole run: every model, the summary, the submission and the figures."""
    default_target: True
    input:
        final_outputs(),
