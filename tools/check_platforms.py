"""Resolve the requirements for every platform and Python version they promise, without
installing anything: `uv pip compile` once per (file, platform, Python) target.

A target passes when it resolves and every package of the resolution comes as a wheel for
that platform: a package with only a source distribution would be compiled on install
(opencv, for instance, on a macOS older than its wheels), except the pure-Python ones in
SDIST_ONLY. macOS is resolved for MACOS_VERSION, the oldest macOS with wheels for all.

Exit status 1, with one line per failing target naming its file, platform and Python,
when one fails; 0 with one line saying so when the package index cannot be reached
(checked by a quick probe first, so an offline run does not wait for uv's retries).

    .venv/bin/python tools/check_platforms.py [-v]   # -v: one line per target
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# uv's target triple, the name a reader knows, and the marker values of that platform.
PLATFORMS = {
    "x86_64-unknown-linux-gnu": ("Linux x86_64", "linux", "x86_64"),
    "aarch64-unknown-linux-gnu": ("Linux aarch64", "linux", "aarch64"),
    "aarch64-apple-darwin": ("macOS arm64", "darwin", "arm64"),
    "x86_64-pc-windows-msvc": ("Windows x86_64", "win32", "AMD64"),
}
# pyproject.toml's requires-python, one by one (TensorFlow 2.21 has wheels for no other).
PYTHONS = ("3.11", "3.12", "3.13")
# Each file and the platforms it is for: the GPU node's file is for Linux x86_64 only.
FILES = {
    "requirements.txt": tuple(PLATFORMS),
    "requirements-dev.txt": tuple(PLATFORMS),
    "requirements-gpu.txt": ("x86_64-unknown-linux-gnu",),
}
# opencv-python-headless 5.1's macOS wheels are for macOS 15 and later.
MACOS_VERSION = "15.0"
# Pure-Python packages published as source only (snakemake's connection-pool): uv builds
# their wheel on any platform without a compiler.
SDIST_ONLY = {"connection-pool"}
# What uv says when it cannot reach the index.
NETWORK_ERRORS = (
    "error sending request",
    "failed to fetch",
    "dns error",
    "connection refused",
    "tcp connect error",
    "operation timed out",
    "network connectivity is disabled",
)
PROBE_TIMEOUT_S = 5


@dataclass(frozen=True)
class Target:
    file: str
    platform: str  # uv's target triple
    python: str

    def __str__(self) -> str:
        return f"{self.file} on {PLATFORMS[self.platform][0]}, Python {self.python}"


def targets() -> list[Target]:
    """Every (file, platform, Python) the requirements are checked for."""
    return [
        Target(file, platform, python)
        for file, platforms in FILES.items()
        for platform in platforms
        for python in PYTHONS
    ]


def marker_environment(platform: str, python: str) -> dict[str, str]:
    """The environment markers of ``platform`` and ``python`` (for packaging.markers)."""
    _, sys_platform, machine = PLATFORMS[platform]
    return {
        "sys_platform": sys_platform,
        "platform_machine": machine,
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[sys_platform],
        "os_name": "nt" if sys_platform == "win32" else "posix",
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def not_wheels(lock: dict) -> list[str]:
    """The packages of a pylock.toml resolution with no wheel for its platform, less the
    pure-Python SDIST_ONLY ones."""
    return sorted(
        f"{package['name']}=={package.get('version', '?')}"
        for package in lock.get("packages", [])
        if not package.get("wheels") and package["name"] not in SDIST_ONLY
    )


def is_network_error(message: str) -> bool:
    return any(error in message.lower() for error in NETWORK_ERRORS)


def index_url() -> str:
    for variable in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(variable):
            return os.environ[variable].rstrip("/") + "/"
    return "https://pypi.org/simple/"


def reachable(url: str) -> bool:
    """Whether the index serves a project page (uv's own) within PROBE_TIMEOUT_S: a
    network that answers every address with an error page is no way to the index."""
    request = urllib.request.Request(url + "uv/", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError as error:
        return error.code == 405  # an index that serves GET only
    except (OSError, ValueError):
        return False


def find_uv() -> str | None:
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    return str(beside) if beside.exists() else shutil.which("uv")


@dataclass
class Result:
    target: Target
    error: str | None = None  # why it fails
    network: bool = False  # failed to reach the index
    tensorflow: str | None = None  # the TensorFlow distribution it resolved


def resolve(uv: str, target: Target, offline: bool = False) -> Result:
    command = [
        uv,
        "pip",
        "compile",
        target.file,
        "--python-platform",
        target.platform,
        "--python-version",
        target.python,
        "--format",
        "pylock.toml",
        "-q",
        "--no-header",
        # resolve with this interpreter rather than look for (or download) each version
        "--python",
        sys.executable,
        *(["--offline"] if offline else []),
    ]
    env = dict(os.environ)
    if PLATFORMS[target.platform][1] == "darwin":
        env["MACOSX_DEPLOYMENT_TARGET"] = MACOS_VERSION
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        message = done.stderr.strip() or done.stdout.strip()
        return Result(target, message, network=is_network_error(message))
    lock = tomllib.loads(done.stdout)
    tensorflow = [
        f"{p['name']} {p.get('version')}"
        for p in lock.get("packages", [])
        if p["name"] in ("tensorflow", "tensorflow-cpu")
    ]
    sdists = not_wheels(lock)
    error = f"no wheel for this platform: {', '.join(sdists)}" if sdists else None
    return Result(target, error, tensorflow=", ".join(tensorflow) or None)


def summary(lines: list[str]) -> str:
    """uv's hint (which wheels exist where) or else its last line."""
    hints = [line for line in lines if line.startswith("hint:")]
    return (hints or lines or [""])[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per target")
    args = parser.parse_args(argv)
    start = time.monotonic()
    uv = find_uv()
    if uv is None:
        print("platform check: uv not found (pip install uv)", file=sys.stderr)
        return 2
    url = index_url()
    if not reachable(url):
        print(f"platform check skipped: {url} cannot be reached")
        return 0
    todo = targets()
    # uv asks the index again for every package of every resolution (seconds each). The
    # widest files on each platform, for the first Python, ask it once; the others then
    # resolve from uv's cache, each asking the index after all when that fails (a
    # package they need that those did not, or a real failure, then reported as such).
    first = [t for t in todo if t.python == PYTHONS[0] and t.file != "requirements.txt"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        done = dict(zip(first, pool.map(lambda t: resolve(uv, t), first), strict=True))
        if not any(r.network for r in done.values()):
            rest = [t for t in todo if t not in done]
            cached = pool.map(lambda t: resolve(uv, t, offline=True), rest)
            done |= dict(zip(rest, cached, strict=True))
            again = [t for t in rest if done[t].error]
            done |= dict(zip(again, pool.map(lambda t: resolve(uv, t), again), strict=True))
    results = [done[t] for t in todo if t in done]
    lost = [r for r in results if r.network]
    if lost:
        print(f"platform check skipped: lost {url} while resolving ({lost[0].target})")
        return 0
    failed = [r for r in results if r.error]
    for result in results:
        if result.error:
            lines = [line.strip() for line in result.error.splitlines() if line.strip()]
            print(f"platform check FAILED: {result.target}: {summary(lines)}")
            if len(lines) > 1:
                print("    " + "\n    ".join(lines))
        elif args.verbose:
            print(f"ok: {result.target}" + (f" ({result.tensorflow})" if result.tensorflow else ""))
    seconds = time.monotonic() - start
    print(
        f"platform check: {len(results) - len(failed)} of {len(results)} resolutions ok "
        f"({len(PLATFORMS)} platforms x Python {', '.join(PYTHONS)}; {seconds:.1f} s)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
