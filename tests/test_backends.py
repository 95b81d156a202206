"""The training code on a second keras backend: JAX (CPU) against TensorFlow.

keras picks its backend when it is first imported, so each run is a fresh
interpreter with ``KERAS_BACKEND`` set. Both train the same model on the same
separable synthetic data; the results must agree in kind (not to the bit: the
kernels differ), and a model saved under JAX must load and predict the same
under TensorFlow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_TRAIN_PARAMS, separable

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

PARAMS = TINY_TRAIN_PARAMS | {"epochs": 5}

# Run in a fresh interpreter: argv = mode, data.npz, out dir, [model to load].
SCRIPT = r"""
import json, sys, time
from pathlib import Path

from deepfake.backend import configure

start = time.perf_counter()
backend = configure(threads=2, deterministic=True)
import keras
import numpy as np

mode, data_path, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
with np.load(data_path) as data:
    split = {
        s: {k: data[f"{s}_{k}"] for k in ("image", "hist", "label")}
        for s in ("train", "val")
    }
out.mkdir(parents=True, exist_ok=True)
if mode == "train":
    from deepfake.settings import TrainSettings
    from deepfake.train import train_cnn

    settings = TrainSettings.from_params(json.loads(sys.argv[4]))
    result = train_cnn(split["train"], split["val"], settings, out, out / "work")
    np.save(out / "val_proba.npy", result.val_proba)
    summary = result.summary
else:  # predict with a saved model
    from deepfake.feeder import predict_proba

    model = keras.models.load_model(sys.argv[4])
    np.save(out / "val_proba.npy", predict_proba(model, split["val"]))
    summary = {"backend": keras.backend.backend(), "n_params": int(model.count_params())}
summary["wall_seconds"] = time.perf_counter() - start
(out / "summary.json").write_text(json.dumps(summary))
"""


def run(backend: str, *args: str) -> dict:
    env = os.environ | {
        "KERAS_BACKEND": backend,
        "PYTHONPATH": str(REPO / "scripts"),
        "PYTHONHASHSEED": "0",
        "JAX_PLATFORMS": "cpu",  # no accelerator probing (and its warnings)
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise AssertionError(f"{backend} {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    out = Path(args[2])
    return json.loads((out / "summary.json").read_text()) | {
        "val_proba": np.load(out / "val_proba.npy")
    }


@pytest.fixture(scope="module")
def jax_version() -> str:
    probe = subprocess.run(
        [sys.executable, "-c", "import jax, jaxlib; print(jax.__version__)"],
        capture_output=True,
        text=True,
        env=os.environ | {"JAX_PLATFORMS": "cpu"},
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"JAX backend not testable: `import jax` failed ({last})")
    return probe.stdout.strip()


@pytest.fixture(scope="module")
def runs(jax_version, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backends")
    n_hist = 3 * PARAMS["bins"]
    train, val = separable(320, 0, n_hist), separable(160, 1, n_hist)
    data = tmp / "data.npz"
    arrays = {f"train_{k}": v for k, v in train.items()}
    arrays |= {f"val_{k}": v for k, v in val.items()}
    np.savez(data, **arrays)
    params = json.dumps(PARAMS)
    runs = {b: run(b, "train", str(data), str(tmp / b), params) for b in ("jax", "tensorflow")}
    # The JAX run's saved model, loaded and run on TensorFlow.
    runs["jax_on_tf"] = run(
        "tensorflow", "predict", str(data), str(tmp / "jax_on_tf"), str(tmp / "jax/model.keras")
    )
    walls = ", ".join(f"{name} {r['wall_seconds']:.1f} s" for name, r in runs.items())
    print(f"\njax {jax_version}; wall time per subprocess: {walls}")
    return runs, val["label"], tmp


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_both_backends_learn_the_separable_data(runs, backend):
    results, labels, _ = runs
    r = results[backend]
    assert r["backend"] == backend
    proba = r["val_proba"]
    assert proba.shape == (160, 5) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    accuracy = float(np.mean(proba.argmax(1) == labels))
    assert accuracy == pytest.approx(r["val_accuracy"])
    assert accuracy > 0.8  # chance is 0.2
    assert r["epochs_run"] == PARAMS["epochs"]


def test_same_model_on_both_backends(runs):
    results, _, tmp = runs
    assert results["jax"]["n_params"] == results["tensorflow"]["n_params"]
    for backend in ("jax", "tensorflow"):
        out = tmp / backend
        assert (out / "model.keras").stat().st_size > 0
        assert len((out / "history.csv").read_text().splitlines()) == 1 + PARAMS["epochs"]
        assert not (out / "work").exists()  # checkpoint removed after the finish


def test_jax_model_predicts_the_same_on_tensorflow(runs):
    results, _, _ = runs
    on_tf = results["jax_on_tf"]
    assert on_tf["backend"] == "tensorflow"
    assert on_tf["n_params"] == results["jax"]["n_params"]
    np.testing.assert_allclose(on_tf["val_proba"], results["jax"]["val_proba"], atol=1e-5)
