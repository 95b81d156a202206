"""Snakemake entry point: the run's merged configuration as a page of the HTML report."""

from deepfake.io import write_atomic
from deepfake.report import configuration_page
from deepfake.smk import job_from_argv, run


def main(smk):
    page = configuration_page(smk.params.config)
    write_atomic(smk.output[0], lambda tmp: tmp.write_text(page))


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("report_config"))  # noqa: F821
