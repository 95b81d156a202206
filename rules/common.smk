import os
import sys

from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

# The package's config helpers, settings and results/ layout (standard library only):
# one implementation, shared with the scripts and tools/.
sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))
from deepfake import SPLITS, layout
from deepfake.config import (
    check_disjoint,
    check_has_model,
    check_predict_model,
    choose_model,
    descriptor_name,
    ensemble_members,
    folder_manifest,
    inference_files,
    knn_feature_sets,
    merge,
    models,
    normalised,
    package_modules,
    trained_variants,
    typed_cli_values,
)
from deepfake.settings import TrainSettings

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
check_predict_model(config)

DEMO_DIR = "results/demo"


wildcard_constraints:
    split=layout.WILDCARDS["split"],
    set=layout.WILDCARDS["set"],
    features=layout.WILDCARDS["features"],
    descriptor=layout.WILDCARDS["descriptor"],
    model=layout.WILDCARDS["model"],
    variant=layout.WILDCARDS["variant"],
    name=layout.WILDCARDS["name"],
    group=layout.WILDCARDS["group"],


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


def cnn_settings(variant):
    """The variant's settings (cnn.base with its overrides, every default filled in)."""
    return TrainSettings.from_config(config, variant)


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
    rules whose code uses it. Relative paths: a moved checkout reruns nothing."""
    modules = package_modules(os.path.join(workflow.basedir, "scripts", script))
    return [os.path.relpath(m) for m in modules]


def ingest_manifest(wildcards):
    """Names, sizes and mtimes of the split's image files (not of the demo set, which
    demo_data writes): a file replaced in place reruns ingest."""
    if config["data_dir"] == "demo":
        return "demo"
    folder = f"{data_dir()}/{wildcards.split}"
    return folder_manifest(folder) if os.path.isdir(folder) else "missing"


def ensemble_name():
    return config.get("ensemble", {}).get("name", "mean")


def files_of(models, name):
    """One file of each model's folder, e.g. files_of(run_models(), layout.METRICS)."""
    return [layout.model_file(m, name) for m in models]


def run_models():
    """Every model with predictions (trained ones and the ensemble), named family/name."""
    return models(config)


def report_text():
    """The report's landing page: the run's own once written, else a placeholder."""
    page = layout.report_page()
    return page if os.path.exists(page) else "report/workflow.rst"


def final_outputs():
    hist = descriptor_name(config, "hsv")
    return [
        layout.summary(),
        layout.report_page(),
        layout.submission(),
        layout.duplicates(),
        *figures(),
        # The features of every set, the augmented training set included, even
        # where no configured model reads them.
        *[layout.features(hist, s) for s in layout.SETS],
    ]


def knn_inputs(wildcards):
    """Arrays (labels, and pixels for raw-pixel KNN) plus the descriptor files used
    (one per group of the combination)."""
    arrays = {f"{s}_arrays": layout.arrays(s) for s in SPLITS}
    if wildcards.features == "pixels":
        return arrays
    if wildcards.features == "combo":
        groups = combination()["groups"]
    else:
        groups = [wildcards.features]
    return arrays | {
        f"{s}_features": [layout.features(g, s) for g in groups] for s in SPLITS
    }


def gbm_descriptors():
    """gbm.descriptors as their output folders (hsv -> hsv<histogram_bins>)."""
    return [descriptor_name(config, d) for d in config["gbm"]["descriptors"]]


def gbm_inputs(wildcards):
    """Labels and the descriptor files of each split, in gbm.descriptors order."""
    arrays = {f"{s}_arrays": layout.arrays(s) for s in SPLITS}
    return arrays | {
        f"{s}_features": [layout.features(d, s) for d in gbm_descriptors()]
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
        *files_of(run_models(), layout.CONFUSION),
        *[layout.figure(f"curves_{group}.png") for group in ablation_groups()],
        layout.figure("confusion_best.png"),
        layout.figure("class_recall.png"),
        layout.figure("class_histograms.png"),
        layout.figure("samples.png"),
    ]


def cnn_inputs(wildcards):
    """Arrays, the histograms with the variant's own number of bins and, for a
    variant with a fingerprint input, that descriptor of each set."""
    settings = cnn_settings(wildcards.variant)
    hist = f"hsv{settings.bins}"
    sets = {"train": "train_aug", "val": "validation", "test": "test"}
    inputs = {name: layout.arrays(s) for name, s in sets.items()}
    inputs |= {f"{name}_hist": layout.features(hist, s) for name, s in sets.items()}
    if settings.fingerprint != "none":
        freq = settings.fingerprint
        inputs |= {f"{name}_freq": layout.features(freq, s) for name, s in sets.items()}
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


def predicted_model():
    """The model that predict uses: predict_model as named, or, for best or a family,
    the summary's best row (the summary is a checkpoint: read once it exists)."""
    wanted = str(config["predict_model"])
    if wanted in run_models():
        return wanted
    return choose_model(checkpoints.summary.get().output[0], wanted)


def predict_inputs(wildcards):
    """The folder and the chosen model's files (nothing else, nothing that retrains)."""
    return {
        "folder": predict_folder(),
        "model": inference_files(config, predicted_model()),
        "code": code("predict.py"),
    }
