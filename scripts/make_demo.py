"""Snakemake entry point: generate the synthetic demo data set."""

from pathlib import Path

from deepfake.demo import generate_demo
from deepfake.smk import job_from_argv, run


def main(smk):
    p = smk.params.demo  # dict with keys n_train, n_validation, n_test, seed
    generate_demo(
        Path(smk.output.train_csv).parent, p["n_train"], p["n_validation"], p["n_test"], p["seed"]
    )


if __name__ == "__main__":
    # inside Snakemake its job is injected; alone, Snakemake builds it from the Snakefile
    run(main, snakemake if "snakemake" in globals() else job_from_argv("demo_data"))  # noqa: F821
