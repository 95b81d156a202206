"""The reference cannot drift: the configuration page is the schema's, the DAG picture is
what Snakemake prints, every rule explains itself, and the README stays a landing page."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import yaml
from conftest import REPO

DOCS = REPO / "docs"


def tool(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_page_is_generated_from_the_schema():
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    expected = tool("config_docs").render(schema)
    assert (DOCS / "configuration.md").read_text() == expected, (
        "docs/configuration.md is stale: python tools/config_docs.py > docs/configuration.md"
    )


def graph(mermaid: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Rule names and (from, to) edges of a mermaid flowchart from --rulegraph."""
    names = dict(re.findall(r"^\s*(id\d+)\[(\w+)\]", mermaid, flags=re.M))
    edges = {(names[a], names[b]) for a, b in re.findall(r"(id\d+) --> (id\d+)", mermaid)}
    return set(names.values()), edges


def test_the_dag_picture_is_what_snakemake_prints():
    printed = subprocess.run(
        [sys.executable, "-m", "snakemake", "--rulegraph", "mermaid-js", "all", "predict",
         "--config", "predict_dir=docs", "predict_model=cnn/baseline"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    design = (DOCS / "design.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", design, flags=re.S).group(1)
    assert graph(block) == graph(printed.stdout)
    rules, _ = graph(block)
    assert {"descriptors", "gbm", "ensemble", "predict"} <= rules


def test_every_rule_has_a_docstring():
    listed = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    rules = re.findall(r"^(\w+)(.*)$", listed, flags=re.M)
    assert len(rules) >= 15
    assert [name for name, doc in rules if not doc.strip().startswith("(")] == []


def test_design_names_every_module_of_the_package():
    design = (DOCS / "design.md").read_text()
    modules = sorted(p.stem for p in (REPO / "scripts" / "deepfake").glob("*.py"))
    missing = [m for m in modules if m != "__init__" and f"`{m}`" not in design]
    assert missing == []


WORK_WORDS = re.compile(r"\bissue \d|\bissues? #\d|\bsession|\blease|\blent\b|\bthis stop\b", re.I)


def test_the_product_speaks_of_itself():
    """README, docs, configs, rules and the package describe the workflow to its users,
    never how it was made."""
    files = [
        REPO / "README.md",
        *DOCS.glob("*.md"),
        *REPO.glob("config*.yaml"),
        *(REPO / "experiments").glob("*.yaml"),
        *(REPO / "rules").glob("*.smk"),
        *(REPO / "scripts").rglob("*.py"),
        *(REPO / "tools").glob("*.py"),
        *(REPO / "benchmarks").glob("*.py"),
        *(REPO / "experiments").glob("*.py"),
        *(REPO / "report").glob("*"),
    ]
    hits = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in files
        if path.is_file()
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if WORK_WORDS.search(line)
    ]
    assert hits == []


def test_the_readme_is_a_landing_page():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 250
    for link in re.findall(r"\]\((docs/[\w.-]+\.md)", "\n".join(lines)):
        assert (REPO / link).is_file(), link
