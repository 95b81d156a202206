"""Rerun exactness (dry runs after an edit) and the predict target, on the README's main
command's run (config.yaml as shipped, the demo data)."""

from __future__ import annotations

import csv
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_run, copy_workflow, edited, load_config, planned_rules, snakemake

pytestmark = pytest.mark.slow

DOWNSTREAM = {"evaluate", "summary", "submission", "best_confusions", "class_recall", "report_page"}
DOWNSTREAM |= {"reliability"}


@pytest.fixture(scope="module")
def run(main_shared, tmp_path_factory):
    """The shared run of config.yaml (six CNN variants, six KNN, the gbm), in a copy of
    its own (the tests edit its code and config)."""
    return copy_run(main_shared, tmp_path_factory.mktemp("rerun") / "wf")


@pytest.fixture(autouse=True)
def its_own_package(request, monkeypatch):
    """Snakemake in the run's copy imports the copy's package (not the one installed
    editable from the repository), so that its jobs run, and its dry runs scan, the
    code a test edits there."""
    if "run" in request.fixturenames:
        monkeypatch.setenv("PYTHONPATH", str(request.getfixturevalue("run") / "scripts"))


LOADED = "package modules loaded: "


def jobs(run, *args):
    """Every job of the run's DAG (``args``: targets and options, as on the command line)
    as {its log: (its rule, the package modules among its inputs)}, from Snakemake's
    detailed summary (the inputs the rule declares, checkpoints resolved)."""
    lines = snakemake(run, "--detailed-summary", *args).stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("output_file\t"))
    found = {}
    for row in csv.DictReader(lines[header:], delimiter="\t"):
        code = {p for p in row["input-file(s)"].split(",") if p.startswith("scripts/deepfake/")}
        for log in row["log-file(s)"].split(","):
            if log.startswith("results/"):
                found[log] = (row["rule"], code)
    return found


def loaded(run, log):
    """The package modules the job of ``log`` had loaded when it finished (the line
    ``deepfake.smk.run`` ends every log with); None: no such line."""
    lines = [line for line in (run / log).read_text().splitlines() if LOADED in line]
    return set(lines[-1].split(LOADED, 1)[1].split()) if lines else None


def loaders(run, module):
    """{rule: its jobs whose log says they loaded ``scripts/deepfake/<module>``} of the
    run's default target."""
    found = {}
    for log, (rule, _) in jobs(run).items():
        if f"scripts/deepfake/{module}" in loaded(run, log):
            found[rule] = found.get(rule, 0) + 1
    return found


def test_jobs_load_only_the_code_their_rules_declare(run):
    """Every job's log ends with the package modules it loaded: each is among the code
    inputs its rule declares (else an edit of it would not rerun the job)."""
    run_jobs = jobs(run)
    assert len({rule for rule, _ in run_jobs.values()}) >= 15
    for log, (rule, declared) in run_jobs.items():
        modules = loaded(run, log)
        assert modules is not None, f"{log} ({rule}) does not say what code it loaded"
        assert {"scripts/deepfake/__init__.py", "scripts/deepfake/threads.py"} <= modules
        assert modules <= declared, (rule, log, sorted(modules - declared))


def test_predict_loads_only_the_code_it_declares(run):
    folder = run / "predicted"
    folder.mkdir(exist_ok=True)
    for image in sorted((run / "results" / "demo" / "validation").glob("*.png"))[:2]:
        shutil.copy(image, folder / image.name)
    target = ("predict", "--config", f"predict_dir={folder}")
    snakemake(run, *target)
    (rule, declared) = jobs(run, *target)["results/logs/predict.log"]
    modules = loaded(run, "results/logs/predict.log")
    assert rule == "predict" and "scripts/deepfake/predict.py" in modules
    assert modules <= declared, sorted(modules - declared)


def test_editing_threads_reruns_every_job_that_loads_it(run):
    """threads.py is reached through smk.py (``from deepfake import threads as
    thread_caps``) and __init__.py: every job loads it, so every job reruns."""
    expected = loaders(run, "threads.py")
    assert {"ingest", "descriptors", "knn", "gbm", "train_cnn"} <= set(expected)
    assert edited(run, "threads.py") == expected


def test_editing_a_module_only_train_cnn_loads_reruns_no_other_model(run):
    only_cnn = set.intersection(
        *(loaded(run, log) for log, (rule, _) in jobs(run).items() if rule == "train_cnn")
    )
    for log, (rule, _) in jobs(run).items():
        if rule != "train_cnn":
            only_cnn -= loaded(run, log)
    assert {"scripts/deepfake/networks.py", "scripts/deepfake/feeder.py"} <= only_cnn
    planned = edited(run, "feeder.py")
    # train_cnn and what follows it, as when it is forced to rerun: no other model
    assert planned == planned_rules(run, "--forcerun", "train_cnn")
    assert planned["train_cnn"] == 6
    assert not {"ingest", "augment", "descriptors", "knn", "gbm"} & set(planned)


def overlay(workdir, name, data):
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return ["--configfile", str(path)]


def test_key_order_changes_nothing(run):
    config = yaml.safe_load((run / "config.yaml").read_text())
    # An overlay that sets a key to its value moves it last in cnn.base.
    same = overlay(run, "same", {"cnn": {"base": {"dropout": 0.5}}})
    assert planned_rules(run, *same) == {}
    # Lines of cnn.base and augment in another order, k reversed, schema defaults
    # (augment.hflip...) left to the schema: nothing to do.
    shuffled = config | {
        "cnn": config["cnn"] | {"base": dict(reversed(config["cnn"]["base"].items()))},
        "knn": {"descriptors": config["knn"]["descriptors"], "k": config["knn"]["k"][::-1]},
        "augment": {"seed": config["augment"]["seed"], "copies": config["augment"]["copies"]},
    }
    assert planned_rules(run, *overlay(run, "shuffled", shuffled)) == {}


def test_overlay_reruns_only_the_variants_it_changes(run):
    planned = planned_rules(run, *overlay(run, "drop", {"cnn": {"base": {"dropout": 0.4}}}))
    assert planned["train_cnn"] == 5  # every variant but dropout03, which sets its own


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (
            "networks.py",  # and the ensemble of the variants
            {"train_cnn": 6, "learning_curves": 4, "ensemble": 1} | dict.fromkeys(DOWNSTREAM),
        ),
        (
            "descriptors.py",  # histograms, knn and gbm import it, and everything after them
            {"descriptors": 25, "knn": 6, "gbm": 1, "train_cnn": 6, "learning_curves": 4}
            | {"ensemble": 1}
            | {"class_histograms": None, "fingerprint_spectra": 1}
            | dict.fromkeys(DOWNSTREAM),
        ),
        ("knn_search.py", {"knn": 6} | dict.fromkeys(DOWNSTREAM)),
        ("ensemble.py", {"ensemble": 1} | dict.fromkeys(DOWNSTREAM)),
    ],
)
def test_editing_a_module_reruns_its_rules(run, module, expected):
    planned = edited(run, module)
    assert set(planned) == set(expected), planned
    for rule, count in expected.items():
        if count is not None:
            assert planned[rule] == count, (rule, planned)


def test_backend_is_a_training_param(run, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    planned = planned_rules(run)
    assert planned["train_cnn"] == 6 and "knn" not in planned


def test_nested_command_line_config_and_subset(run):
    # Strings from --config are read as YAML: k 11..3 is the grid 3..11 (nothing to do).
    knn = "knn={k: [11, 9, 7, 5, 3], descriptors: [hsv, pixels, jointhsv, spectrum, lbp, combo]}"
    assert planned_rules(run, "--config", knn) == {}
    planned = planned_rules(run, "--config", "cnn={train: [baseline]}")
    assert "train_cnn" not in planned
    assert set(planned) <= DOWNSTREAM | {"learning_curves", "report_config"}


def test_a_config_without_models_is_refused(run):
    result = snakemake(
        run,
        "-n",
        "--config",
        "knn={descriptors: []}",
        "cnn={train: []}",
        "gbm={descriptors: []}",
        check=False,
    )
    assert result.returncode != 0
    assert "the config trains no model" in result.stdout + result.stderr


def validation_rows(run, model, names):
    """The model's validation probabilities of the images named ``names`` (<id>.png)."""
    with np.load(run / "results" / "arrays" / "validation.npz") as arrays:
        index = {image_id: i for i, image_id in enumerate(arrays["ids"])}
    proba = np.load(run / "results" / model / "val_proba.npy")
    return proba[[index[name.removesuffix(".png")] for name in names]]


def test_predict_attributes_a_folder_once(run, real_images):
    """Validation images predicted as new images get the validation probabilities."""
    folder = run / "new"
    folder.mkdir()
    names = sorted(p.name for p in (run / "results" / "demo" / "validation").glob("*.png"))[:3]
    for name in names:
        shutil.copy(run / "results" / "demo" / "validation" / name, folder / name)
    (folder / "broken.png").write_text("not an image")
    (folder / "gone.png").symlink_to(folder / "nowhere.png")  # a broken link: a row too

    def planned(*config):  # "--" ends --config's list of values before the target
        return planned_rules(run, "--config", f"predict_dir={folder}", *config, "--", "predict")

    def predict(*config):
        snakemake(run, "predict", "--config", f"predict_dir={folder}", *config)
        return pd.read_csv(run / "results" / "predictions.csv", keep_default_na=False)

    probas = [f"proba_{c}" for c in range(5)]
    assert planned() == {"predict": 1}  # nothing retrained
    table = predict()
    assert table["image_id"].tolist() == sorted(["broken.png", "gone.png", *names])
    assert table.columns.tolist()[:3] == ["image_id", "label", "model"]
    table = table.set_index("image_id")
    summary = pd.read_csv(run / "results" / "metrics" / "summary.csv")
    best = summary["model"][0]
    assert table["model"].eq(best).all()
    broken = table.loc["broken.png"]
    assert broken["label"] == "" and "not a decodable image" in broken["error"]
    assert "broken symbolic link" in table.loc["gone.png", "error"]
    assert table["warning"].str.contains("synthetic demo").all()  # trained on the demo
    assert "synthetic demo" in (run / "results" / "logs" / "predict.log").read_text()
    expected = validation_rows(run, best, names)
    np.testing.assert_allclose(table.loc[names, probas].astype(float), expected, atol=1e-5)
    assert table.loc[names, "label"].astype(int).tolist() == expected.argmax(1).tolist()
    assert "2 could not be read" in (run / "results" / "logs" / "predict.log").read_text()
    assert planned() == {}  # unchanged folder: nothing to do

    for model in ("cnn/baseline", "knn/pixels"):
        assert planned(f"predict_model={model}") == {"predict": 1}
        table = predict(f"predict_model={model}").set_index("image_id")
        assert table["model"].eq(model).all()
        np.testing.assert_allclose(
            table.loc[names, probas].astype(float), validation_rows(run, model, names), atol=1e-5
        )
    # A file replaced in place (same name) reruns predict only.
    cv2.imwrite(str(folder / names[0]), cv2.imread(str(real_images[3][0])))
    assert planned("predict_model=knn/pixels") == {"predict": 1}


def test_missing_predict_folder_is_a_clear_error(run):
    result = snakemake(run, "-n", "predict", "--config", "predict_dir=/no/such", check=False)
    assert (
        result.returncode != 0
        and "Error: config predict_dir: /no/such: no such folder" in result.stderr
    )


def test_replacing_an_image_in_place_reruns_ingest(run):
    data = run / "data"
    shutil.copytree(run / "results" / "demo", data)
    args = ("--config", f"data_dir={data}", "--", "results/arrays/validation.npz")
    snakemake(run, *args)
    assert planned_rules(run, *args) == {}
    image = sorted((data / "validation").glob("*.png"))[0]
    cv2.imwrite(str(image), 255 - cv2.imread(str(image)))
    assert planned_rules(run, *args) == {"ingest": 1}
    # A training id listed again in validation.csv: stopped at start-up, both rows named.
    shared = (data / "train.csv").read_text().splitlines()[1].split(",")[0]
    with open(data / "validation.csv", "a") as csv:
        csv.write(f"{shared},0\n")
    result = snakemake(run, "-n", "--config", f"data_dir={data}", check=False)
    assert result.returncode != 0
    assert f"{data / 'train.csv'}, row 2 and {data / 'validation.csv'}, row" in (
        result.stdout + result.stderr
    )


@pytest.mark.parametrize(("environment", "gpus"), [("cpu", 0), ("gpu", 1)])
def test_train_cnn_asks_for_a_gpu_only_in_the_gpu_environment(
    tmp_path, monkeypatch, environment, gpus
):
    config = load_config("tiny_cnn")
    config["cnn"]["environment"] = environment
    workdir = copy_workflow(tmp_path, config)
    monkeypatch.setenv("PYTHONPATH", str(workdir / "scripts"))
    # --quiet host: each job's full listing (the workflow profile hides it)
    # (the target first: --quiet takes every word after it)
    out = snakemake(workdir, "-n", "results/cnn/baseline/model.keras", "--quiet", "host").stdout
    block = out[out.index("rule train_cnn:") :]
    assert f"gpu={gpus}" in block[: block.index("\n\n")]
