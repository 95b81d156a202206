"""What a job or a command shows on the terminal: its own warnings and errors, one line
each. Everything else (its INFO log, stray prints, and the start-up messages that
native libraries such as TensorFlow write to the process's standard error before any
log level can silence them) goes to the job's log file, or nowhere. Standard library
only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import NoReturn, TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TERMINAL_FORMAT = "%(levelname)s %(name)s: %(message)s"
# TensorFlow's Python and C++ INFO and WARNING lines, for the libraries not loaded yet.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2", "GRPC_VERBOSITY": "ERROR"}


def quiet_libraries() -> None:
    """Ask the native libraries not loaded yet to keep their start-up lines to themselves
    (what they print before reading these still goes where :func:`output_to` sends it)."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


@contextmanager
def output_to(path: str | os.PathLike) -> Iterator[TextIO]:
    """Send the process's standard output and error (Python's prints and tracebacks,
    native libraries' lines) to ``path``, appended (``os.devnull`` drops them), while
    the block runs; yields a stream on the terminal's standard error, for the few
    lines meant for a person."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved, streams = (os.dup(1), os.dup(2)), (sys.stdout, sys.stderr)
    target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    terminal = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    log = os.fdopen(os.dup(target), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        sys.stdout = sys.stderr = log  # also where a test harness had replaced them
        yield terminal
    finally:
        log.flush()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)
        log.close()
        terminal.close()


class NamedRoot(logging.Filter):
    """Log records of the root logger (a script's ``logging.info``) named ``name`` (its
    rule) instead of "root"."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.rule = name

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "root":
            record.name = self.rule
        return True


def terminal_handler(stream: TextIO) -> logging.Handler:
    """The terminal's share of a job's log: its own warnings and errors, not the
    libraries' Python warnings (those stay in the log file)."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(TERMINAL_FORMAT))
    handler.addFilter(lambda record: record.name != "py.warnings")
    return handler


def refuse(message: str) -> NoReturn:
    """Stop a run before any job with ``message`` alone on standard error (no traceback)
    and exit status 1."""
    print(f"Error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


@contextmanager
def refusals() -> Iterator[None]:
    """Start-up checks: the ``ValueError`` or ``OSError`` one raises (a wrong config
    key, data folder or prediction folder) stops the run with its message only."""
    try:
        yield
    except (ValueError, OSError) as exc:
        refuse(str(exc))


class SchedulerChatter(logging.Filter):
    """Snakemake's run-time chatter, dropped: the scheduler's "Select jobs to execute..."
    and "Execute N jobs..." lines and the set-up notes; a run's job table becomes one
    line (a dry run keeps its table: it is the plan). With the workflow profile's
    ``quiet`` setting a job then takes three lines (its time, its rule, the progress).
    ``dryrun``: whether the run is a dry run, asked when the table comes."""

    LINES = re.compile(
        r"^(Select jobs to execute\.\.\.|Execute \d+ jobs\.\.\.|Using shell: .*"
        r"|Provided cores: .*|Rules claiming more threads will be scaled down\."
        r"|Conda environments: ignored|DAG of jobs will be updated after completion\."
        r"|Updating checkpoint dependencies\.)$"
    )

    def __init__(self, dryrun: Callable[[], bool]) -> None:
        super().__init__()
        self.dryrun = dryrun

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and self.LINES.match(record.msg):
            return False
        stats = getattr(record, "stats", None)
        if isinstance(stats, dict) and stats and not self.dryrun():
            record.msg = job_counts(stats)
        return True


def job_counts(stats: Mapping) -> str:
    """Snakemake's table of jobs per rule in one line: ``73 jobs: 25 descriptors, ...``."""
    counts = {str(rule): int(n) for rule, n in stats.items() if str(rule) not in ("total", "all")}
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return f"{sum(counts.values())} jobs: " + ", ".join(f"{n} {rule}" for rule, n in ranked)


def quiet_scheduler(dryrun: Callable[[], bool]) -> None:
    """Install :class:`SchedulerChatter` on Snakemake's logger (from the Snakefile)."""
    logging.getLogger("snakemake.logging").addFilter(SchedulerChatter(dryrun))


def finished_message(
    targets: Collection[str],
    layout,
    configfiles: Sequence[str] = (),
    config: Mapping | None = None,
    argv0: str = "snakemake",
) -> str:
    """The last lines of a successful run: where its results are and how to build the
    report (with the run's ``--configfile`` overlays and ``--config`` values, and the
    ``snakemake`` the run was started with, ``argv0``)."""
    snakemake = "snakemake"
    if os.path.basename(argv0) == "snakemake":  # not python -m snakemake
        snakemake = os.path.relpath(argv0) if os.sep in argv0 else argv0
    lines = []
    if not targets or "all" in targets:
        args = "".join(f" --configfile {shlex.quote(str(f))}" for f in configfiles)
        given = {k: v for k, v in (config or {}).items() if not k.startswith("predict_")}
        if given:  # as the shell passes them back: nested values as JSON (which is YAML)
            args += " --config " + " ".join(
                shlex.quote(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}")
                for k, v in given.items()
            )
        lines += [
            f"Summary of every model: {layout.summary()}",
            f"Submission: {layout.submission()}",
            f"HTML report: {snakemake} --report {layout.root}/report.html{args}",
        ]
    if "predict" in targets:
        lines.append(f"Predictions: {layout.predictions()}")
    return "\n".join(lines)


class ProgressBar:
    """A bar over ``what`` on ``stream``: redrawn in place on a terminal, a line per
    update elsewhere (a log file, a test)."""

    WIDTH = 30

    def __init__(self, stream: TextIO, what: str) -> None:
        self.stream = stream
        self.what = what
        self.live = stream.isatty()

    def update(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // max(total, 1)
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} {self.what}"
        if self.live:
            end = "\n" if done >= total else ""
            self.stream.write(f"\r{line}{end}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
