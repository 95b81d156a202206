"""Snakemake entry point: generate the synthetic demo data set."""

from pathlib import Path

from deepfake.demo import generate_demo
from deepfake.smk import run


def main(smk):
    p = smk.params.demo  # dict with keys n_train, n_validation, n_test, seed
    generate_demo(
        Path(smk.output.train_csv).parent, p["n_train"], p["n_validation"], p["n_test"], p["seed"]
    )


if __name__ == "__main__":
    run(main, snakemake)  # noqa: F821 (injected by Snakemake)
