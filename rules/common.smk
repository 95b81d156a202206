import os
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

# The package (scripts/deepfake, installed editable by the README's commands): its config
# helpers, settings, family registry and run layout (standard library only), shared with
# the scripts and tools.
from deepfake import SPLITS
from deepfake.config import (
    WILDCARDS,
    check_config,
    check_has_model,
    check_predict_model,
    check_ranges,
    check_refit,
    choose_model,
    config_layers,
    inference_files,
    merge,
    model_folder,
    models,
    typed_cli_values,
)
from deepfake.datafolder import (
    DEMO,
    check_data_folder,
    check_disjoint,
    data_record,
    folder_manifest,
    prediction_files,
)
from deepfake import layout
from deepfake.layout import SETS, Layout, output_name
from deepfake.settings import IMAGE_DESCRIPTORS, TrainSettings
from deepfake.sources import package_modules
from deepfake.families import (
    FAMILIES,
    descriptor_families,
    descriptor_name,
    ensemble_members,
    normalised,
    trained_variants,
)
from deepfake.console import finished_message, quiet_scheduler, refuse, refusals

# `--config knn='{k: [3, 5]}'` arrives with string leaves ('3'): read them as YAML
# (--config only: --configfile overlays are YAML already).
merge(
    config,
    typed_cli_values(
        {
            key: value
            for key, value in workflow.config_settings.config.items()
            if isinstance(value, (dict, list))
        }
    ),
)


def config_sources():
    """What Snakemake merged into the config, in its order: the Snakefile's configfile
    (unless --replace-workflow-config), the --configfile overlays, the --config values.
    """
    settings = workflow.config_settings
    overlays = list(settings.configfiles)
    # the configfile directive appends its file to the overlays
    own = workflow.configfiles[len(overlays) :]
    if settings.replace_workflow_config:
        own = []
    return config_layers([*own, *overlays], settings.config)


# The schema fills in every default; a wrong key or value stops here, in a few lines
# without a traceback, as every refusal before the first job does (a key renamed in
# this release is read under its old name, with a warning).
with refusals():
    check_config(
        config,
        os.path.join(workflow.basedir, "schemas", "config.schema.yaml"),
        config_sources(),
    )
    check_has_model(config)
    check_predict_model(config)
    check_refit(config)
    check_ranges(config)

# Every file of the run lies under results_dir.
R = Layout(config["results_dir"])

# Three lines a job on the terminal (with the workflow profile's quiet setting), and
# where the results are at the end.
quiet_scheduler(lambda: workflow.dryrun)


onsuccess:
    print(
        finished_message(
            workflow.dag_settings.targets,
            R,
            [os.path.relpath(f) for f in workflow.config_settings.configfiles],
            workflow.config_settings.config,
            sys.argv[0],
        ),
        file=sys.stderr,
    )


# The images the models learn from: the training split or, with refit.model, the
# training and validation images together (for the submission).
REFIT = bool(config["refit"]["model"])
LEARN = "trainval" if REFIT else "train"
# With calibration.holdout, the models train on that set's "fit" part and their
# temperatures are fitted on its "holdout" part.
HOLDOUT = config["calibration"]["holdout"] > 0
TRAIN = "fit" if HOLDOUT else LEARN
# The sets every model predicts: the training set's name in the rules' inputs is "train".
MODEL_SETS = {"train": TRAIN, "validation": "validation", "test": "test"} | (
    {"holdout": "holdout"} if HOLDOUT else {}
)


wildcard_constraints:
    split=WILDCARDS["split"],
    set=WILDCARDS["set"],
    descriptor=WILDCARDS["descriptor"],
    family=WILDCARDS["family"],
    variant=WILDCARDS["variant"],
    name=WILDCARDS["name"],
    group=WILDCARDS["group"],


def data_dir():
    """The data folder: the generated demo set, or the configured one."""
    return R.demo() if config["data_dir"] == DEMO else config["data_dir"].rstrip("/")


# A data folder not in the competition's layout, or a training image_id also listed by
# validation or test (leakage), stops the run before any job.
if config["data_dir"] != DEMO:
    with refusals():
        check_data_folder(data_dir())
        check_disjoint(
            f"{data_dir()}/train.csv",
            [f"{data_dir()}/{s}.csv" for s in ("validation", "test")],
        )

# What the run's models are trained on, recorded in every model folder.
DATA = data_record(config["data_dir"], config["demo"], refit=REFIT)


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


def family_code(family):
    """The modules of a family's model class, which the jobs that train, predict or
    ship its models load by the name the registry records (``Family.model``)."""
    path = os.path.join("deepfake", family.module_name.split(".")[-1] + ".py")
    own = os.path.relpath(os.path.join(workflow.basedir, "scripts", path))
    return sorted({own, *code(path)})


def loader_code(script):
    """``code(script)`` and the modules of every family's model class: predict and
    ship_model load the chosen model's class by the name the registry records."""
    modules = set(code(script))
    for family in FAMILIES.values():
        modules |= set(family_code(family))
    return sorted(modules)


def ingest_manifest(wildcards):
    """Names, sizes and mtimes of the split's image files (not of the demo set, which
    demo_data writes): another data folder, or a file replaced in place, reruns ingest.
    """
    if config["data_dir"] == DEMO:
        return DEMO
    return folder_manifest(f"{data_dir()}/{wildcards.split}")


def ensemble_name():
    return config["ensemble"]["name"]


def ensemble_inputs(wildcards):
    """The members' probabilities and metrics, and the labels the ensemble scores
    and calibrates on."""
    members = ensemble_members(config)
    inputs = {
        "val_proba": files_of(members, layout.VAL_PROBA),
        "test_proba": files_of(members, layout.TEST_PROBA),
        "metrics": files_of(members, layout.METRICS),
        "validation": R.arrays("validation"),
    }
    if HOLDOUT:
        inputs |= {
            "holdout_proba": files_of(members, layout.HOLDOUT_PROBA),
            "holdout": R.arrays("holdout"),
        }
    return inputs


def configuration():
    """The run's config as its results depend on it, for the HTML report's page: keys in
    order, knn's grids sorted as the knn rule reads them, predict's folder and model left
    out (they change no result of the run). An edit that changes nothing of that
    rewrites nothing."""
    page = {
        k: v for k, v in config.items() if k not in ("predict_dir", "predict_model")
    }
    page["knn"] = page["knn"] | {k: sorted(page["knn"][k]) for k in ("k", "weights")}
    return normalised(page)


def unknowns_descriptors():
    """unknowns.descriptors as their output folders (hsv -> hsv<histogram_bins>)."""
    return [descriptor_name(config, d) for d in config["unknowns"]["descriptors"]]


def unknowns_inputs(wildcards):
    """The descriptors of the training set, the hold-out (if any) and validation, and the
    model's probabilities of the held-out and validation images (unknowns.model)."""
    sets = {"train": TRAIN, "validation": "validation"}
    if HOLDOUT:
        sets["holdout"] = "holdout"
    inputs = {
        name: [R.descriptors(d, s) for d in unknowns_descriptors()]
        for name, s in sets.items()
    }
    model = config["unknowns"]["model"]
    if model:
        if not HOLDOUT:
            raise ValueError(
                f"config unknowns.model: {model}'s uncertainty is standardised on held-out "
                "training images: set calibration.holdout"
            )
        if model not in run_models():
            raise ValueError(f"config unknowns.model: {model} is no model of this run")
        inputs |= {
            "holdout_proba": R.model_file(model, layout.HOLDOUT_PROBA),
            "val_proba": R.model_file(model, layout.VAL_PROBA),
        }
    # without a hold-out the detector holds a tenth of the training images out itself
    return inputs | ({} if HOLDOUT else {"train_arrays": R.arrays(TRAIN)})


def files_of(models, name):
    """One file of each model's folder, e.g. files_of(run_models(), layout.METRICS)."""
    return [R.model_file(m, name) for m in models]


def run_models():
    """Every model with predictions (trained ones and the ensemble), named family/name."""
    return models(config)


def report_text():
    """The report's landing page: the run's own once written, else a placeholder."""
    page = R.report_page()
    return page if os.path.exists(page) else "report/workflow.rst"


def final_outputs():
    hist = descriptor_name(config, "hsv")
    return [
        R.summary(),
        R.report_page(),
        R.submission(),
        R.duplicates(),
        *([R.unknowns()] if config["unknowns"]["descriptors"] else []),
        *figures(),
        *report_pages(),
        # The HSV histograms of every set, the augmented training set included, even
        # where no configured model reads them.
        *[R.descriptors(hist, s) for s in run_sets()],
    ]


def run_sets():
    """The sets whose descriptors the run makes: the splits, the augmented training set
    and the sets the models learn from and predict (MODEL_SETS)."""
    needed = {*SPLITS, "train_aug", *MODEL_SETS.values()}
    return [s for s in SETS if s in needed]


# The shared model job (rules/model.smk) of the families on the file-level descriptors:
# its inputs, outputs, params and resources, from the family's record of the registry.


def model_inputs(family):
    """The input function of a family's model job: the arrays of every set the models
    learn from and predict (labels, and the images) and the descriptor files its model
    reads (the groups the record names, in order; pixels come from the images). A model
    whose record says ``augmented`` learns from the stored augmented training set."""

    def inputs(wildcards):
        groups = family.descriptors(config, wildcards.name)
        files = [g for g in groups if g not in IMAGE_DESCRIPTORS]
        sets = MODEL_SETS
        if family.augmented(config, wildcards.name):
            sets = sets | {"train": "train_aug"}
        arrays = {f"{name}_arrays": R.arrays(s) for name, s in sets.items()}
        if not files:
            return arrays
        return arrays | {
            f"{name}_descriptors": [R.descriptors(g, s) for g in files]
            for name, s in sets.items()
        }

    return inputs


def model_outputs(family):
    """A family's model folder (its files and the outputs its fit adds), its calibrated
    probabilities and its metrics, named as the job writes them (deepfake.model_job)."""
    folder = f"{family.name}/{{name}}"
    files = [*family.files, *family.outputs]
    named = {output_name(f): R.model_file(folder, f) for f in files}
    return named | {
        "val_proba": R.model_file(folder, layout.VAL_PROBA),
        "test_proba": R.model_file(folder, layout.TEST_PROBA),
        "holdout_proba": R.model_file(folder, layout.HOLDOUT_PROBA),
        "metrics": R.model_file(folder, layout.METRICS),
    }


def model_params(family):
    """The config values a family's job uses (its record's ``params``), the descriptor
    groups it reads and what its models are trained on."""
    return {
        "family": family.name,
        "descriptors": lambda w: family.descriptors(config, w.name),
        "settings": lambda w: family.params(config, w.name),
        "data": DATA,
    }


def model_resources(family):
    return {
        "mem_mb": lambda w, input: 2000 + family.memory * input.size_mb,
        "runtime": 60,
    }


def ablation_groups():
    """Variants drawn together: an ablation (a variant overriding one setting) with the
    baseline and the other variants overriding that setting (e.g. bins: baseline, bins8,
    bins24); every other variant (several settings, or none but the baseline's) in one
    figure, "all"."""
    variants = trained_variants(config)
    groups = {}
    for name in variants:
        keys = list(config["cnn"]["variants"][name])
        if len(keys) == 1:
            groups.setdefault(keys[0], ["baseline"] if "baseline" in variants else [])
            groups[keys[0]].append(name)
        elif name != "baseline":
            groups.setdefault("all", []).append(name)
    return groups


def figures():
    """Figures collected by rule all (and by `snakemake --report`)."""
    return [
        *files_of(run_models(), layout.CONFUSION),
        *[R.figure(f"curves_{group}.png") for group in ablation_groups()],
        R.figure("confusion_best.png"),
        R.figure("class_recall.png"),
        R.figure("reliability.png"),
        R.figure("class_histograms.png"),
        R.figure("fingerprint_spectra.png"),
        R.figure("samples.png"),
    ]


def model_cards():
    """Each model's card in the HTML report: model -> its page."""
    return {m: R.card(m) for m in run_models()}


def report_pages():
    """The HTML report's pages besides its landing page: the cards, the configuration."""
    return [*model_cards().values(), R.report_file("configuration.html")]


def cnn_inputs(wildcards):
    """Arrays, the histograms with the variant's own number of bins and, for a
    variant with a fingerprint input, its descriptors of each set."""
    settings = cnn_settings(wildcards.variant)
    hist = f"hsv{settings.bins}"
    sets = {"train": "train_aug", "val": "validation", "test": "test"}
    if HOLDOUT:
        sets["holdout"] = "holdout"
    inputs = {name: R.arrays(s) for name, s in sets.items()}
    inputs |= {f"{name}_hist": R.descriptors(hist, s) for name, s in sets.items()}
    if settings.fingerprint:
        inputs |= {
            f"{name}_freq": [R.descriptors(f, s) for f in settings.fingerprint]
            for name, s in sets.items()
        }
    return inputs


def predict_folder():
    """The folder of rule predict (--config predict_dir=...), checked."""
    folder = str(config["predict_dir"]).rstrip("/")
    try:  # before the model loads
        prediction_files(folder)
    except (ValueError, OSError) as exc:
        refuse(f"config predict_dir: {exc}")
    return folder


def chosen_model(wanted):
    """A model of the run as named or, for best or a family, the summary's row (the
    summary is a checkpoint: read once it exists)."""
    if wanted in run_models():
        return wanted
    return choose_model(checkpoints.summary.get().output.summary, wanted)


def predicted_model():
    """The model that predict uses: a model folder as given, or predict_model chosen."""
    wanted = str(config["predict_model"])
    return wanted if model_folder(wanted) else chosen_model(wanted)


def predicted_model_dir():
    model = predicted_model()
    return model.rstrip("/") if model_folder(model) else R.model_dir(model)


def unknown_detector():
    """The unknown-image detector that predict uses: a model folder's own, or the run's
    (when unknowns.descriptors names any); "" for none."""
    model = predicted_model()
    if model_folder(model):
        path = os.path.join(model, layout.UNKNOWNS)
        return path if os.path.isfile(path) else ""
    return R.unknowns() if config["unknowns"]["descriptors"] else ""


def predict_inputs(wildcards):
    """The folder (checked first: before a summary is waited for, or any model loads),
    the chosen model's files and the detector (nothing that retrains)."""
    folder = predict_folder()
    model = predicted_model()
    if model_folder(model):
        files = sorted(str(p) for p in Path(model).rglob("*") if p.is_file())
    else:
        files = inference_files(config, model)
    detector = unknown_detector()
    return {
        "folder": folder,
        "model": files,
        "code": loader_code("predict.py"),
    } | ({"detector": detector} if detector else {})


def shipped_model():
    """The model that ship_model packs (ship.model), chosen."""
    return chosen_model(config["ship"]["model"])


def ship_inputs(wildcards):
    """The packed model's files, the metrics its card reads, the unknown-image detector,
    the reliability figure and the validation images the check is made of."""
    model = shipped_model()
    combines = FAMILIES[layout.family(model)].combines
    members = ensemble_members(config) if combines else []
    if not config["unknowns"]["descriptors"]:
        raise ValueError(
            "ship_model packs the unknown-image detector, so set unknowns.descriptors"
        )
    return {
        "model": inference_files(config, model),
        "metrics": files_of([model, *members], layout.METRICS),
        "summary": R.summary_full(),
        "detector": R.unknowns(),
        "unknowns_metrics": R.unknowns_metrics(),
        "reliability": R.figure("reliability.png"),
        "validation": R.arrays("validation"),
    }


def rebuild_command():
    """The command that rebuilds the packed model (the data folder as a placeholder)."""
    configs = " ".join(
        f"--configfile {os.path.relpath(f)}"
        for f in workflow.config_settings.configfiles
    )
    data = "" if config["data_dir"] == DEMO else " --config data_dir=/path/to/data"
    return " ".join(f"snakemake --cores all ship_model {configs}{data}".split())
