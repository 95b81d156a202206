"""Every mistake a user can make before the first job ends in one short message on
standard error, without a traceback, and touches nothing: a misspelt config key (with
"did you mean"), a data folder not in the competition's layout, a training image also
listed by validation (leakage), a missing or empty predict_dir (checked before any
model loads), and a key under its old name together with its new one (the old name
alone is read, said in one line)."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import REPO, copy_workflow, job_stats, load_config, snakemake


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("errors"), load_config("tiny"))


def refusal(workdir, *args) -> str:
    """The run's standard error, after checking it refused in one short message."""
    result = snakemake(workdir, *args, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    printed = result.stderr.splitlines()
    message = printed[printed.index(next(line for line in printed if line.startswith("Error:"))) :]
    assert len(message) <= 4, result.stderr
    assert not re.search(r'Traceback|File "|, line \d+|Exception', result.stderr), result.stderr
    assert not (workdir / "results").exists()  # nothing ran, nothing written
    return "\n".join(message)


def test_a_misspelt_key_is_named_with_the_key_it_probably_meant(workdir):
    message = refusal(workdir, "-n", "--config", "resluts_dir=x")
    assert "config key 'resluts_dir' is not allowed here; did you mean 'results_dir'?" in message


def test_a_wrong_value_is_named_with_its_key(workdir):
    assert "config histogram_bins:" in refusal(workdir, "-n", "--config", "histogram_bins=-3")


def test_a_data_folder_not_in_the_competitions_layout(workdir, tmp_path):
    (tmp_path / "train").mkdir()
    message = refusal(workdir, "-n", "--config", f"data_dir={tmp_path}")
    assert f"config data_dir: {tmp_path} is not in the competition's layout" in message


def test_leakage_names_both_rows(workdir, tmp_path):
    data = tmp_path / "data"
    for split in ("train", "validation", "test"):
        (data / split).mkdir(parents=True)
    (data / "train.csv").write_text("image_id,label\na,0\n")
    (data / "validation.csv").write_text("image_id,label\na,1\n")
    (data / "test.csv").write_text("image_id\n")
    message = refusal(workdir, "-n", "--config", f"data_dir={data}")
    assert f"{data / 'train.csv'}, row 2 and {data / 'validation.csv'}, row 2" in message


@pytest.mark.parametrize("folder", ["missing", "empty", "unset"])
def test_predict_without_images_stops_before_the_model_loads(workdir, tmp_path, folder):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_text("")
    given = {"missing": str(tmp_path / "nope"), "empty": str(tmp_path / "empty"), "unset": ""}
    model = REPO / "models" / "laptop"
    if not model.is_dir():
        pytest.skip("no shipped model in this checkout")
    shutil.rmtree(workdir / "results", ignore_errors=True)
    # a real run, not a dry run: it must stop before loading the model
    given = [f"predict_dir={given[folder]}"] if given[folder] else []  # unset: the default
    message = refusal(workdir, "predict", "--config", *given, f"predict_model={model}")
    expected = {
        "missing": f"Error: config predict_dir: {tmp_path / 'nope'}: no such folder",
        "empty": f"Error: config predict_dir: {tmp_path / 'empty'}: the folder holds no files",
        "unset": "Error: config predict_dir: predict needs a folder of images: set --config",
    }[folder]
    assert message.startswith(expected), message


@pytest.mark.parametrize("dry", [True, False])
def test_predict_with_the_best_model_checks_its_folder_before_any_training(workdir, tmp_path, dry):
    """With predict_model best (the default), the summary it reads does not exist yet:
    the folder is still checked first, so nothing trains for a typo."""
    shutil.rmtree(workdir / "results", ignore_errors=True)
    args = ["-n"] if dry else []
    message = refusal(workdir, *args, "predict", "--config", f"predict_dir={tmp_path / 'typo'}")
    assert message.startswith(f"Error: config predict_dir: {tmp_path / 'typo'}: no such folder")


OLD_NAME = (
    "Warning: config key knn.features is now knn.descriptors; "
    "the old name is read until the next release."
)


@pytest.mark.parametrize("given", ["configfile", "config"])
def test_the_old_name_of_a_key_is_read_and_said_in_one_line(workdir, tmp_path, given):
    """knn.features (knn.descriptors before this release) in an overlay or on the command
    line, over a config.yaml that says knn.descriptors: the overlay's value is used."""
    args = ["--config", "knn={features: [hsv]}"]
    if given == "configfile":
        (tmp_path / "old.yaml").write_text("knn:\n  features: [hsv]\n")
        args = ["--configfile", str(tmp_path / "old.yaml")]
    result = snakemake(workdir, "-n", "--quiet", "rules", *args)
    assert [line for line in result.stderr.splitlines() if "knn.features" in line] == [OLD_NAME]
    assert job_stats(result.stdout)["knn"] == 1  # hsv16 only, not config.yaml's pixels too


def test_a_key_under_its_old_and_new_name_is_refused(workdir):
    message = refusal(workdir, "-n", "--config", "knn={features: [hsv], descriptors: [hsv]}")
    assert message == (
        "Error: config knn.features and knn.descriptors are both given; features is the "
        "old name of descriptors: give knn.descriptors only"
    )
