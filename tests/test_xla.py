"""XLA (``jit_compile``) training is compiled for real and gives the same bits twice.

TensorFlow turns XLA off while its op determinism is on, so
``configure(jit_compile=True)`` leaves op determinism off and relies on the
compiled program being deterministic on the CPU. Each run is a fresh process
(the determinism switches are process-wide and read when keras starts).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
TESTS = Path(__file__).resolve().parent

RUN = """
import hashlib, json, tempfile
from deepfake.backend import configure
configure(threads=2, deterministic=True, jit_compile=True)
from conftest import TINY_TRAIN_PARAMS, separable, settings
from deepfake.train import train_cnn
params = settings(dict(TINY_TRAIN_PARAMS, jit_compile=True, epochs=3, network="fast", patch=4,
                       filters=[4, 8, 8], blocks=[1, 1, 1]))
with tempfile.TemporaryDirectory() as tmp:
    result = train_cnn(separable(192, 0), separable(64, 1), params, None, tmp)
    print(json.dumps({
        "jit": bool(result.model.network.jit_compile),
        "proba": hashlib.sha256(result.val_proba.tobytes()).hexdigest(),
        "loss": result.history["loss"].tolist(),
    }))
"""


def _train_once() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SCRIPTS), str(TESTS)]))
    env["KERAS_BACKEND"] = "tensorflow"
    # As a shell or an earlier configure() may leave it: configure must still turn XLA on.
    env["TF_DETERMINISTIC_OPS"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def two_runs() -> tuple[dict, dict]:
    pytest.importorskip("tensorflow")
    return _train_once(), _train_once()


def test_xla_is_really_on(two_runs):
    first, _ = two_runs
    assert first["jit"] is True  # keras did not silently fall back to op-by-op
    assert first["loss"][-1] < first["loss"][0]  # and the compiled step learns


def test_xla_training_is_deterministic(two_runs):
    first, second = two_runs
    assert first["loss"] == second["loss"]
    assert first["proba"] == second["proba"]
