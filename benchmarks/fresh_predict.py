"""A fresh clone, the README's install, then predict on a folder of images with a shipped
model: the wall time of each step (a benchmark, not a test).

    python benchmarks/fresh_predict.py IMAGES_DIR [--model models/laptop] [--images 100]
        [--no-cache]

Clones this checkout's committed state into a temporary folder, runs the README's
install command there (``uv`` from PyPI; ``--no-cache`` makes uv download every package
again, as on a new machine), copies the first ``--images`` files of IMAGES_DIR into a
folder and runs ``snakemake --cores 2 predict`` on it with the shipped model: no data and
no training. Prints the seconds of each step and in all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO, header, parser, table

INSTALL = (
    "python3 -m venv .venv && .venv/bin/pip install -q uv && .venv/bin/uv pip install -q "
    "--compile-bytecode --python .venv/bin/python -r requirements.txt -e ."
)


def timed(command: str, cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{command} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__, rounds=1)
    p.add_argument("images", type=Path, help="a folder of images to predict")
    p.add_argument("--model", default="models/laptop", help="the shipped model's folder")
    p.add_argument("--images", dest="n", type=int, default=100)
    p.add_argument("--no-cache", action="store_true", help="download every package again")
    args = p.parse_args(argv)
    header(extra=f"{args.n} images, model {args.model}")
    env = os.environ | ({"UV_NO_CACHE": "1"} if args.no_cache else {})
    with tempfile.TemporaryDirectory() as tmp:
        clone, folder = Path(tmp) / "clone", Path(tmp) / "new"
        folder.mkdir()
        for path in sorted(args.images.iterdir())[: args.n]:
            shutil.copy(path, folder / path.name)
        steps = {"clone": timed(f"git clone -q --depth 1 file://{REPO} {clone}", Path(tmp), env)}
        steps["install"] = timed(INSTALL, clone, env)
        steps["predict"] = timed(
            f".venv/bin/snakemake --cores 2 predict --config predict_dir={folder} "
            f"predict_model={args.model}",
            clone,
            env,
        )
        rows = len((clone / "results" / "predictions.csv").read_text().splitlines()) - 1
    print(table(["step", "seconds"], [*((k, f"{v:.1f}") for k, v in steps.items()),
                                      ("in all", f"{sum(steps.values()):.1f}")]))  # fmt: skip
    print(f"{rows} predictions written")


if __name__ == "__main__":
    sys.exit(main())
