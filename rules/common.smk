import os
import sys

from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

# The package's config helpers (standard library only): one implementation of the
# variant merging, shared with tools/.
sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))
from deepfake.config import (
    check_disjoint,
    check_has_model,
    descriptor_name,
    ensemble_members,
    folder_manifest,
    knn_feature_sets,
    merge,
    normalised,
    package_modules,
    trained_models,
    trained_variants,
    typed_cli_values,
    variant_params,
)

# `--config knn='{k: [3, 5]}'` arrives with string leaves ('3'): read them as YAML.
merge(
    config,
    typed_cli_values(
        {
            key: value
            for key, value in workflow.config_settings.overwrite_config.items()
            if isinstance(value, (dict, list))
        }
    ),
)
validate(config, "../schemas/config.schema.yaml")
check_has_model(config)

DEMO_DIR = "results/demo"
SPLITS = ["train", "validation", "test"]


wildcard_constraints:
    split="train|validation|test",
    set="train|validation|test|train_aug",
    bins=r"\d+",
    features=r"hsv\d+|pixels|jointhsv|spectrum|lbp|combo",
    descriptor="jointhsv|spectrum|lbp",
    model="knn|cnn|ensemble",
    variant=r"[A-Za-z0-9_]+",
    group=r"[a-z_]+",


def data_dir():
    """The data folder: the generated demo set, or the configured one."""
    return DEMO_DIR if config["data_dir"] == "demo" else config["data_dir"].rstrip("/")


# A training image_id also listed by validation or test (leakage) stops the run
# before any job.
check_disjoint(
    f"{data_dir()}/train.csv", [f"{data_dir()}/{s}.csv" for s in ("validation", "test")]
)


def combination():
    """knn.combination with its groups named as their output folders."""
    combo = config["knn"]["combination"]
    return normalised(
        combo | {"groups": [descriptor_name(config, g) for g in combo["groups"]]}
    )


def cnn_params(variant):
    """The variant's complete settings: cnn.base with its overrides applied, keys sorted."""
    return variant_params(config, variant)


def cnn_backend():
    """The Keras backend train_cnn runs on: the conda environment's under --sdm conda
    (cnn-gpu: jax), else $KERAS_BACKEND (default tensorflow). A params value, so
    changing it retrains."""
    uses_conda = (
        DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    )
    if uses_conda and config["cnn"]["environment"] == "gpu":
        return "jax"
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def code(script):
    """The package modules that ``script`` imports: inputs, so editing one reruns the
    rules whose code uses it."""
    return package_modules(os.path.join(workflow.basedir, "scripts", script))


def ingest_manifest(wildcards):
    """Names, sizes and mtimes of the split's image files (not of the demo set, which
    demo_data writes): a file replaced in place reruns ingest."""
    if config["data_dir"] == "demo":
        return "demo"
    folder = f"{data_dir()}/{wildcards.split}"
    return folder_manifest(folder) if os.path.isdir(folder) else "missing"


def ensemble_name():
    return config.get("ensemble", {}).get("name", "mean")


def models():
    """Every model with predictions (trained ones and the ensemble), as its results/ folder."""
    ensemble = [f"ensemble/{ensemble_name()}"] if ensemble_members(config) else []
    return trained_models(config) + ensemble


def final_outputs():
    hist = f"results/features/hsv{config['histogram_bins']}"
    return [
        "results/metrics/summary.csv",
        "results/submission.csv",
        "results/arrays/duplicates.txt",
        *figures(),
        # The features of every set, the augmented training set included, even
        # where no configured model reads them.
        *expand("{hist}/{set}.npy", hist=hist, set=SPLITS + ["train_aug"]),
    ]


def knn_inputs(wildcards):
    """Arrays (labels, and pixels for raw-pixel KNN) plus the descriptor files used
    (one per group of the combination)."""
    arrays = {f"{s}_arrays": f"results/arrays/{s}.npz" for s in SPLITS}
    if wildcards.features == "pixels":
        return arrays
    if wildcards.features == "combo":
        groups = combination()["groups"]
    else:
        groups = [wildcards.features]
    return arrays | {
        f"{s}_features": [f"results/features/{g}/{s}.npy" for g in groups]
        for s in SPLITS
    }


def ablation_groups():
    """Variants drawn together: for each setting that some variant overrides, the
    baseline and every variant overriding it (e.g. bins: baseline, bins8, bins24)."""
    variants = trained_variants(config)
    groups = {}
    for name in variants:
        for key in config["cnn"]["variants"][name]:
            groups.setdefault(key, ["baseline"] if "baseline" in variants else [])
            groups[key].append(name)
    return groups


def figures():
    """Figures collected by rule all (and by `snakemake --report`)."""
    return [
        *expand("results/{m}/confusion.png", m=models()),
        *expand("results/figures/curves_{group}.png", group=ablation_groups()),
        "results/figures/confusion_best.png",
        "results/figures/class_histograms.png",
        "results/figures/samples.png",
    ]


def cnn_inputs(wildcards):
    """Arrays, the histograms with the variant's own number of bins and, for a
    variant with a fingerprint input, that descriptor of each set."""
    params = cnn_params(wildcards.variant)
    hist = f"results/features/hsv{params['bins']}"
    inputs = {
        "train": "results/arrays/train_aug.npz",
        "train_hist": f"{hist}/train_aug.npy",
        "val": "results/arrays/validation.npz",
        "val_hist": f"{hist}/validation.npy",
        "test": "results/arrays/test.npz",
        "test_hist": f"{hist}/test.npy",
    }
    fingerprint = params.get("fingerprint", "none")
    if fingerprint != "none":
        freq = f"results/features/{fingerprint}"
        inputs |= {
            "train_freq": f"{freq}/train_aug.npy",
            "val_freq": f"{freq}/validation.npy",
            "test_freq": f"{freq}/test.npy",
        }
    return inputs


def predict_folder():
    """The folder of rule predict (--config predict_dir=...), checked."""
    folder = str(config.get("predict_dir") or "")
    if not folder:
        raise ValueError(
            "the predict target needs a folder of images; set --config predict_dir=/path/to/folder"
        )
    if not os.path.isdir(folder):
        raise ValueError(f"predict_dir {folder}: no such folder")
    return folder.rstrip("/")


def predict_inputs(wildcards):
    """The prediction folder and the trained models' files (nothing that retrains)."""
    return {
        "folder": predict_folder(),
        "summary": "results/metrics/summary.csv",
        "metrics": expand("results/{m}/metrics.json", m=models()),
        "models": expand("results/cnn/{v}/model.keras", v=trained_variants(config)),
        "train": "results/arrays/train.npz",
        "train_features": [
            f"results/features/{f}/train.npy"
            for f in knn_feature_sets(config)
            if f != "pixels"
        ],
        "code": code("predict.py"),
    }
