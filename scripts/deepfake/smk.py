"""Entry-point glue shared by the Snakemake scripts: logging to the rule's log, thread
caps, and a rule's job built outside Snakemake, so that every script runs alone.

Every script ends with::

    if __name__ == "__main__":
        run(main, snakemake if "snakemake" in globals() else job_from_argv("train_cnn"))

Inside Snakemake, the job's ``snakemake`` object is injected; alone,
``python scripts/train_cnn.py variant=fast --configfile config.fast.yaml`` asks
Snakemake to build the same job from the Snakefile (:func:`mock_snakemake`: the
rule's real input, output, params, log, threads) and runs the script's ``main`` on
it, in the current directory's run. Benchmarks and tools go through this path,
never through a hand-made copy of a rule.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from contextlib import nullcontext

from deepfake import console
from deepfake import threads as thread_caps

log = logging.getLogger(__name__)


def run(main: Callable[[object], None], smk: object) -> None:
    """Run ``main(smk)`` with its logging, warnings, stray prints and the native
    libraries' start-up lines in the rule's log; the terminal gets only the job's own
    warnings and errors, one line each (:mod:`deepfake.console`).

    An exception is logged with its message and the log's path (its traceback goes to
    the log only), and the process exits with status 1, so the job fails and Snakemake
    removes its partial outputs. The log ends with the package modules the job loaded.
    """
    log_path = smk.log[0] if smk.log else None
    rule = getattr(smk, "rule", None) or "job"
    console.quiet_libraries()
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        open(log_path, "w").close()  # the job's log starts empty
    output = console.output_to(log_path) if log_path else nullcontext(sys.stderr)
    failed = False
    with output as terminal:
        handlers = [console.terminal_handler(terminal)]
        if log_path:
            handlers.append(logging.FileHandler(log_path, mode="a"))
        else:
            handlers[0].setLevel(logging.INFO)
        for handler in handlers:
            handler.addFilter(console.NamedRoot(rule))
        logging.basicConfig(
            level=logging.INFO, format=console.FORMAT, handlers=handlers, force=True
        )
        logging.captureWarnings(True)
        # deepfake/__init__.py capped the environment before numpy loaded; now the pools.
        thread_caps.cap(getattr(smk, "threads", 1) or 1)
        try:
            main(smk)
        except Exception as exc:
            where = f" (log: {log_path})" if log_path else ""
            logging.getLogger(rule).error("%s: %s%s", type(exc).__name__, exc, where)
            traceback.print_exc()  # into the log
            failed = True
        finally:
            log.info("package modules loaded: %s", " ".join(loaded_package_files()))
            for handler in handlers:
                handler.flush()
                logging.root.removeHandler(handler)
    if failed:
        raise SystemExit(1)


def loaded_package_files() -> list[str]:
    """The package's modules this process has loaded, as paths relative to the
    workflow's root (``scripts/deepfake/io.py``), sorted: what a job's code was."""
    package = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(package))
    files = {
        os.path.abspath(module.__file__)
        for name, module in list(sys.modules.items())
        if (name == "deepfake" or name.startswith("deepfake."))
        and getattr(module, "__file__", None)
    }
    return sorted(os.path.relpath(f, root) for f in files if f.startswith(package + os.sep))


def mock_snakemake(
    rule: str,
    *,
    workdir: str | os.PathLike = ".",
    configfiles: list[str] | tuple[str, ...] = (),
    config: dict | None = None,
    threads: int | None = None,
    **wildcards,
):
    """The ``snakemake`` object of ``rule``'s job with ``wildcards``, as Snakemake would
    inject it: built from the workflow's Snakefile in ``workdir`` (config.yaml there,
    then ``configfiles``, then ``config`` as with ``--config``), paths absolute.

    The job is not run and its inputs are not made: they must exist (a run made them).
    ``threads``: the job's threads (default: the rule's, capped at the CPU count).
    """
    from pathlib import Path

    from snakemake.api import Workflow
    from snakemake.dag import DAG
    from snakemake.io import IOCache
    from snakemake.jobs import Job
    from snakemake.logging import LoggerManager
    from snakemake.script import Snakemake
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        DeploymentSettings,
        OutputSettings,
        ResourceSettings,
        StorageSettings,
        WorkflowSettings,
    )

    snakefile = Path(__file__).resolve().parents[2] / "Snakefile"
    workdir = Path(workdir).resolve()
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        workflow = Workflow(
            config_settings=ConfigSettings(
                config=dict(config or {}), configfiles=[Path(f).resolve() for f in configfiles]
            ),
            resource_settings=ResourceSettings(cores=os.cpu_count()),
            workflow_settings=WorkflowSettings(),
            storage_settings=StorageSettings(),
            dag_settings=DAGSettings(rerun_triggers=[]),
            deployment_settings=DeploymentSettings(),
            logger_manager=LoggerManager(
                logger=logging.getLogger("snakemake"), settings=OutputSettings()
            ),
            storage_provider_settings={},
            overwrite_workdir=workdir,
        )
        for file in configfiles:  # what --configfile does, after the Snakefile's own
            workflow.configfile(Path(file).resolve())
        workflow.include(snakefile)
        workflow.global_resources = {}
        workflow.iocache = IOCache(workflow.dag_settings.max_inventory_wait_time)
        job_rule = workflow.get_rule(rule)
        job = Job(job_rule, DAG(workflow, rules=[job_rule]), wildcards_dict=dict(wildcards))
        resources = job.resources  # from the inputs' sizes: before they become plain paths
        for io in (job.input, job.output, job.log):
            for i, path in enumerate(io):
                io[i] = os.path.abspath(path)
        cores = threads or min(job.threads, os.cpu_count() or 1)
        return Snakemake(
            job.input,
            job.output,
            job.params,
            job.wildcards,
            cores,
            resources,
            job.log,
            workflow.config,
            job_rule.name,
            None,
        )
    finally:
        os.chdir(previous)


def job_from_argv(rule: str, argv: list[str] | None = None):
    """:func:`mock_snakemake` of ``rule`` from a command line: ``WILDCARD=VALUE ...
    [--configfile FILE ...] [--config KEY=VALUE ...] [--directory DIR] [--threads N]``
    (``--config`` values read as YAML, as Snakemake reads them)."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(
        prog=f"scripts/{rule}.py",
        description=f"Run rule {rule}'s step alone, on the inputs an earlier run made.",
    )
    parser.add_argument("wildcards", nargs="*", metavar="WILDCARD=VALUE")
    parser.add_argument("--configfile", nargs="+", default=[])
    parser.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--directory", default=".", help="the run's folder (default: here)")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)

    def pairs(items):
        for item in items:
            key, sep, value = item.partition("=")
            if not sep:
                parser.error(f"{item!r} is not KEY=VALUE")
            yield key, value

    config = {key: yaml.safe_load(value) for key, value in pairs(args.config)}
    return mock_snakemake(
        rule,
        workdir=args.directory,
        configfiles=args.configfile,
        config=config,
        threads=args.threads,
        **dict(pairs(args.wildcards)),
    )
