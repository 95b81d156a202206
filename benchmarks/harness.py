"""The benchmarks' one harness: a header line naming the machine, timed rounds with their
median, min and max, a plain table, and rule ``train_cnn``'s job for the benchmarks that
train.

Every benchmark in this folder runs as a script (``python benchmarks/descriptors.py ...``),
so this folder is first on its module path and it reads ``from harness import ...``.
A benchmark prints, in this order:

- :func:`header`: one line starting with ``#``: the date, the CPU's model name, its
  flags that matter for the numbers below it (:data:`FLAGS`: AVX2, AVX-512, bfloat16 and
  AMX units, from ``/proc/cpuinfo`` through :func:`deepfake.backend.cpu_flags`), the
  usable cores, and the versions of Python and of the packages that do the work;
- a table (:func:`table`) of the measures, each the median of ``--rounds`` rounds with
  their range (:func:`spread`: ``median (min-max)``).

Rounds interleave the measures (:func:`rounds`): round 1 runs every measure once, then
round 2, and so on, so that a load change on a shared machine hits each measure alike.
Time is ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CPUINFO = "/proc/cpuinfo"
# The CPU flags that change the numbers: vector width, fused multiply-add, and the
# bfloat16 units (AVX512_BF16, AMX) that make mixed precision pay on a CPU.
FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
# Distributions to ask for a version, by the name a benchmark imports.
DISTRIBUTIONS = {
    "cv2": ("opencv-python-headless", "opencv-python", "opencv-contrib-python"),
    "sklearn": ("scikit-learn",),
}


# --------------------------------------------------------------------------- the machine


def cpu_model(cpuinfo: str | os.PathLike = CPUINFO) -> str:
    """The CPU's model name from ``cpuinfo`` (``platform.processor()`` where unreadable)."""
    try:
        with open(cpuinfo) as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cores() -> int:
    """The cores this process may run on (its affinity; the CPU count elsewhere)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def version(package: str) -> str | None:
    """The installed version of ``package`` (an import name), without importing it."""
    for dist in DISTRIBUTIONS.get(package, (package,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def machine(packages: Iterable[str] = ("numpy",), cpuinfo: str | os.PathLike = CPUINFO) -> str:
    """The header's text: date, CPU model, its :data:`FLAGS` present, cores, versions."""
    from deepfake.backend import cpu_flags

    present = [flag for flag in FLAGS if flag in cpu_flags(str(cpuinfo))]
    flags = " ".join(present) if present else "none of " + " ".join(FLAGS)
    found = [(p, version(p)) for p in packages]
    software = [f"python {platform.python_version()}"] + [f"{p} {v}" for p, v in found if v]
    return " | ".join(
        [
            datetime.date.today().isoformat(),
            cpu_model(cpuinfo),
            f"flags {flags}",
            f"{cores()} cores",
            ", ".join(software),
        ]
    )


def header(
    packages: Iterable[str] = ("numpy",), extra: str = "", cpuinfo: str | os.PathLike = CPUINFO
) -> str:
    """Print (and return) the header line: ``# `` + :func:`machine` (+ ``extra``, e.g.
    the Keras backend or the data's size)."""
    line = "# " + machine(packages, cpuinfo) + (f" | {extra}" if extra else "")
    print(line, flush=True)
    return line


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Stats:
    """The median, min and max of a measure's rounds."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: Iterable[float]) -> Stats:
        """The statistics of ``samples`` (at least one)."""
        values = list(samples)
        if not values:
            raise ValueError("no samples")
        return cls(statistics.median(values), min(values), max(values), len(values))


def timer(task: Callable[[], object]) -> Callable[[], float]:
    """A measure that runs ``task`` and returns its wall seconds (``perf_counter``)."""

    def measure() -> float:
        start = time.perf_counter()
        task()
        return time.perf_counter() - start

    return measure


def rounds(
    measures: Mapping[str, Callable[[], float]], n: int, warmup: int = 0
) -> dict[str, list[float]]:
    """Call every measure once per round, ``warmup`` untimed rounds then ``n`` kept ones,
    the measures interleaved within each round; their values, by name."""
    if n < 1:
        raise ValueError(f"rounds must be >= 1, got {n}")
    kept: dict[str, list[float]] = {name: [] for name in measures}
    for round_ in range(warmup + n):
        for name, measure in measures.items():
            value = measure()
            if round_ >= warmup:
                kept[name].append(value)
    return kept


def per_second(count: float, seconds: Sequence[float]) -> Stats:
    """Rates (``count`` per second) of rounds that took ``seconds`` each."""
    return Stats.of(count / s for s in seconds)


def spread(stats: Stats, digits: int = 0) -> str:
    """``median (min-max)``, or the median alone for one round."""
    median = f"{stats.median:,.{digits}f}"
    if stats.n == 1:
        return median
    return f"{median} ({stats.min:,.{digits}f}-{stats.max:,.{digits}f})"


def rounds_note(n: int) -> str:
    """How a table's figures were taken: ``median of 3 rounds (min-max)`` or ``one round``."""
    return "one round" if n == 1 else f"median of {n} rounds (min-max)"


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in columns], *([str(c) for c in row] for row in rows)]
    if any(len(row) != len(columns) for row in cells):
        raise ValueError(f"every row needs {len(columns)} cells: {columns}")
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = []
    for row in cells:
        rest = (c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        lines.append("  ".join([row[0].ljust(widths[0]), *rest]).rstrip())
    return "\n".join(lines)


def parser(doc: str, rounds: int = 3) -> argparse.ArgumentParser:
    """A benchmark's argument parser: ``doc`` (its module docstring) as the help text,
    and ``--rounds`` (default ``rounds``)."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--rounds", type=int, default=rounds, help=f"timed rounds, median reported ({rounds})"
    )
    return p


# --------------------------------------------------------------------------- training


@dataclass
class TrainingJob:
    """Rule ``train_cnn``'s job for one variant of a workflow run, its settings, and the
    Keras backend configured as ``scripts/train_cnn.py`` configures it."""

    smk: object  # the snakemake object Snakemake would inject (deepfake.smk.mock_snakemake)
    settings: object  # deepfake.settings.TrainSettings from the job's params
    backend: str

    splits: dict = field(default_factory=dict, repr=False)  # loaded once

    def split(self, name: str) -> dict:
        """The inputs of split ``name`` (train, val or test) as the script loads them
        (its ``load_split``), from the job's input files."""
        if name not in self.splits:
            import runpy

            script = runpy.run_path(str(REPO / "scripts" / "train_cnn.py"))
            inp, freq = self.smk.input, f"{name}_freq"
            self.splits[name] = script["load_split"](
                getattr(inp, name),
                getattr(inp, f"{name}_hist"),
                getattr(inp, freq) if freq in inp.keys() else None,
            )
        return self.splits[name]

    def train(self, callbacks: Sequence[object] = (), log=None):
        """Train the variant with ``deepfake.train.train_cnn`` and extra Keras
        ``callbacks``, its checkpoint in a temporary folder (the run's own files are
        not touched, nothing is written); the ``TrainResult``."""
        import tempfile

        from deepfake.train import train_cnn

        train, val = self.split("train"), self.split("val")
        with tempfile.TemporaryDirectory() as work:
            return train_cnn(train, val, self.settings, None, work, log=log, callbacks=callbacks)


def training_job(
    run_dir: str | os.PathLike,
    variant: str,
    configfiles: Sequence[str | os.PathLike] = (),
    config: dict | None = None,
    threads: int | None = None,
) -> TrainingJob:
    """Rule ``train_cnn``'s job for ``variant`` in the workflow run ``run_dir`` (its
    inputs made by that run), built by Snakemake from the Snakefile with ``configfiles``
    and ``config`` as ``--configfile`` and ``--config`` give them; then the backend is
    configured (threads, determinism, XLA) as the script does, so import keras after this.
    A run folder without its own ``config.yaml`` reads the checkout's first."""
    from deepfake.backend import configure
    from deepfake.settings import TrainSettings
    from deepfake.smk import mock_snakemake

    files = [Path(f) for f in configfiles]
    if not (Path(run_dir) / "config.yaml").exists():
        files.insert(0, REPO / "config.yaml")
    smk = mock_snakemake(
        "train_cnn",
        workdir=run_dir,
        configfiles=files,
        config=config,
        threads=threads,
        variant=variant,
    )
    missing = [path for path in smk.input if not os.path.exists(path)]
    if missing:
        raise SystemExit(
            f"{run_dir}: variant {variant}'s inputs are not made: {', '.join(missing[:3])}; "
            "make them with the same snakemake command plus --omit-from train_cnn"
        )
    settings = TrainSettings.from_params(smk.params.cnn)
    backend = configure(
        threads=int(smk.threads),
        deterministic=True,
        backend=str(smk.params.backend),
        jit_compile=settings.jit_compile,
        mixed_precision=settings.mixed_precision,
    )  # the arguments of scripts/train_cnn.py's call
    return TrainingJob(smk, settings, backend)


def add_job_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments that name a run's ``train_cnn`` job: RUN_DIR, --variant,
    --configfile, --config KEY=VALUE (read as YAML, as Snakemake reads them), --threads."""
    p.add_argument("run_dir", type=Path, help="a workflow run's folder (its results/ made)")
    p.add_argument("--variant", required=True, help="a CNN variant of the run's config")
    p.add_argument("--configfile", nargs="+", default=[], help="config overlays, as for snakemake")
    p.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE", help="as for snakemake")
    p.add_argument("--threads", type=int, default=None, help="default: the rule's")


def job_config(pairs: Sequence[str], variant: str, **changes) -> dict:
    """``--config`` KEY=VALUE pairs (values read as YAML) with the variant's ``changes``
    (e.g. ``epochs=3``) added as ``cnn.variants.<variant>`` overrides."""
    import yaml

    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--config {pair!r} is not KEY=VALUE")
        config[key] = yaml.safe_load(value)
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes:
        cnn = config.setdefault("cnn", {})
        cnn.setdefault("variants", {}).setdefault(variant, {}).update(changes)
    return config
