"""What made a result: the versions of Python and the libraries, and the git commit.

Recorded in every model's ``metrics.json`` (``versions``), so that a bit-exact
rerun can be checked against the software that produced the first run.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# Distributions whose version is recorded (where installed), by the name a reader knows.
PACKAGES = {
    "numpy": "numpy",
    "opencv": "opencv-python-headless",
    "scikit-learn": "scikit-learn",
    "scipy": "scipy",
}
CNN_PACKAGES = {"keras": "keras"}
BACKENDS = {"tensorflow": "tensorflow-cpu", "jax": "jax", "torch": "torch"}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def git_commit(folder: str | Path | None = None) -> str | None:
    """The commit of the workflow's checkout (with ``+dirty`` for local changes), or None
    outside a git checkout."""
    folder = Path(folder or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def versions(backend: str | None = None) -> dict:
    """Python, the numerical libraries, keras and ``backend`` (when given) with their
    versions, the platform and the git commit."""
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    packages = dict(PACKAGES)
    if backend is not None:
        packages |= CNN_PACKAGES
        found["backend"] = backend
        distribution = BACKENDS.get(backend, backend)
        # tensorflow-cpu and tensorflow are the same package under two names
        found[backend] = _version(distribution) or _version(backend)
    for name, distribution in packages.items():
        found[name] = _version(distribution)
    found["git_commit"] = git_commit()
    return found
