"""Figures and names that the documentation states must follow the workflow: the demo's
job count, the model families, the glossary's terms and the standard error, and no path
that exists only on the developers' machines."""

from __future__ import annotations

import math
import re

import yaml
from conftest import REPO, copy_workflow, snakemake

from deepfake.families import FAMILIES
from deepfake.settings import FILE_DESCRIPTORS

README = REPO / "README.md"
DOCS = REPO / "docs"
GLOSSARY = DOCS / "glossary.md"

# The words the README and docs use, each a heading of docs/glossary.md (a heading may
# name several, separated by commas or in parentheses).
GLOSSARY_TERMS = [
    "ablation",
    "bfloat16",
    "mixed precision",
    "clean protocol",
    "combo",
    "demo data",
    "descriptors",
    "dev split",
    "EMA",
    "ensemble",
    "family",
    "fast",
    "gbm",
    "HTML report",
    "hybrid",
    "KNN",
    "macro F1",
    "official split",
    "refit",
    "overlay",
    "paper",
    "paper_net",
    "PFLOP",
    "precise_bn",
    "reference report",
    "report protocol",
    "report_page",
    "standard error",
    "TTA",
    "XLA",
]

# Where the docs state the demo's job count: "the demo run is **N jobs**".
JOB_COUNT = re.compile(r"the demo run is \*\*(\d+) jobs\*\*")
JOB_COUNT_PAGE = DOCS / "performance.md"


def doc_files():
    return [README, *sorted(DOCS.glob("*.md"))]


def flat(text: str) -> str:
    """Text with every run of white space as one space (sentences broken over lines)."""
    return " ".join(text.split())


def glossary_headings() -> list[str]:
    return re.findall(r"^## (.+)$", GLOSSARY.read_text(), flags=re.M)


def heading_names(heading: str) -> set[str]:
    """The terms a heading defines: "bfloat16 (bf16), mixed precision" names three."""
    return {part.strip().lower() for part in re.split(r"[(),]", heading) if part.strip()}


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_stated_demo_job_count_is_what_snakemake_plans(tmp_path):
    stated = JOB_COUNT.findall(flat(JOB_COUNT_PAGE.read_text()))
    assert len(stated) == 1, f"{JOB_COUNT_PAGE.name} states the demo's job count once"
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config["data_dir"] == "demo"
    workdir = copy_workflow(tmp_path / "wf", config)
    output = snakemake(workdir, "-n", "--quiet", "rules").stdout
    totals = re.findall(r"^total\s+(\d+)\s*$", output, flags=re.M)
    assert totals, output
    assert int(stated[0]) == int(totals[0]), (
        f"{JOB_COUNT_PAGE.relative_to(REPO)} says {stated[0]} jobs; "
        f"`snakemake -n` plans {totals[0]} (the `all` job included)"
    )


def test_every_model_family_is_named_where_predict_model_is_described():
    readme = README.read_text().split("\n\n")
    paragraphs = [flat(p) for p in readme if "named by `predict_model`" in p]
    assert len(paragraphs) == 1
    assert [f for f in FAMILIES if f"`{f}`" not in paragraphs[0]] == []

    lines = (REPO / "config.yaml").read_text().splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith(("predict_dir:", "# predict_dir:"))
    )
    comment = []
    for line in reversed(lines[:start]):
        if not line.startswith("#"):
            break
        comment.insert(0, line)
    comment = flat(" ".join(comment))
    assert "predict_model" in comment or "model:" in comment, comment
    assert [f for f in FAMILIES if not re.search(rf"\b{f}\b", comment)] == []

    # A config that repeats the key with its own comment names the families too.
    for path in sorted(REPO.glob("config*.yaml")):
        for line in path.read_text().splitlines():
            if line.startswith("predict_model:") and "family" in line:
                missing = [f for f in FAMILIES if not re.search(rf"\b{f}\b", line)]
                assert missing == [], f"{path.name}: {line}"


def test_the_glossary_defines_every_term_and_the_readme_links_it():
    headings = glossary_headings()
    defined = set().union(*(heading_names(h) for h in headings))
    assert [t for t in GLOSSARY_TERMS if t.lower() not in defined] == []
    assert headings == sorted(headings, key=str.lower), "glossary entries in alphabetical order"

    glossary = GLOSSARY.read_text()
    section = glossary.split("## descriptors", 1)[1].split("\n## ", 1)[0]
    assert [d for d in ("hsv", *FILE_DESCRIPTORS) if f"`{d}`" not in section] == []

    readme = README.read_text()
    assert "](docs/glossary.md)" in readme
    documentation = readme.split("## Documentation", 1)[1]
    assert "docs/glossary.md" in documentation


def test_links_into_the_glossary_land_on_an_entry():
    anchors = {github_anchor(h) for h in glossary_headings()}
    broken = [
        f"{path.name}: #{anchor}"
        for path in doc_files()
        for anchor in re.findall(r"glossary\.md#([\w-]+)", path.read_text())
        if anchor not in anchors
    ]
    local = re.findall(r"\]\(#([\w-]+)\)", GLOSSARY.read_text())
    broken += [f"glossary.md: #{a}" for a in local if a not in anchors]
    assert broken == []


def test_stated_standard_errors_are_computed_right():
    """Every "X points at Y%" (one standard error on the 1,250 validation images) agrees
    with sqrt(p(1-p)/1250) to the digits it gives."""
    stated = [
        (path.name, value, int(percent))
        for path in doc_files()
        for value, percent in re.findall(
            r"(\d\.\d+)(?: points)?(?: each)? at (\d+)%", flat(path.read_text())
        )
    ]
    assert any(name == "glossary.md" for name, _, _ in stated)
    wrong = []
    for name, value, percent in stated:
        p = percent / 100
        exact = 100 * math.sqrt(p * (1 - p) / 1250)
        decimals = len(value.split(".")[1])
        if abs(exact - float(value)) > 0.5 * 10**-decimals + 1e-9:
            wrong.append(f"{name}: {value} at {percent}% (computed {exact:.3f})")
    assert wrong == []


def test_no_path_of_the_developers_machines():
    hits = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in doc_files()
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if "../shared" in line or "shared/data" in line
    ]
    assert hits == []


def results_rows() -> list[list[str]]:
    """The cells of the README's "Results at a glance" table, a row each."""
    section = README.read_text().split("## Results at a glance", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]


def test_the_results_table_has_one_row_per_config_that_ships():
    configs = [re.findall(r"`(config[\w.]*\.yaml)`", row[0]) for row in results_rows()]
    named = [c[0] for c in configs if c]
    shipped = sorted(p.name for p in REPO.glob("config*.yaml") if p.name != "config.additions.yaml")
    assert sorted(named) == shipped  # each once; config.additions.yaml is an experiment
    for row in results_rows():
        if row[0].startswith("`config") and "demo" not in row[3]:
            assert re.search(r"20\d\d-\d\d-\d\d", row[3]), row  # dated


def test_calibration_and_unknown_are_described_as_each_config_has_them():
    readme = flat(README.read_text())
    fast = yaml.safe_load((REPO / "config.fast.yaml").read_text())
    default = yaml.safe_load((REPO / "config.yaml").read_text())
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    holdout = schema["properties"]["calibration"]["properties"]["holdout"]["default"]
    assert f"`config.fast.yaml` holds {fast['calibration']['holdout']:.0%}" in readme
    assert "calibration" not in default and holdout == 0
    assert "the default config does neither (`calibration.holdout` 0: temperatures 1)" in readme
    assert fast["unknowns"]["descriptors"] and not default.get("unknowns")
    # the rates of unknown the README gives are the measured ones (docs/results.md)
    results = flat((DOCS / "results.md").read_text())
    photos = re.search(r"natural photographs .*?\| (\d+) \| [\d.]+ \| ([\d.]+)%", results)
    false = re.search(r"\(false unknowns\) \| [\d,]+ \| \| ([\d.]+)%", results)
    said = re.search(
        r"calls (\d+)% of (\d+) crops of natural photographs unknown and (\d+)%", readme
    )
    assert photos and false and said
    assert (int(said[1]), said[2]) == (round(float(photos[2])), photos[1])
    assert int(said[3]) == round(float(false[1]))


def test_the_readmes_time_for_the_first_command_is_the_measured_one():
    """The README's "about N minutes" is the newest row of docs/performance.md's table of
    the main command, rounded up."""
    said = re.search(
        r"The first command takes about (\d+) minutes on 2 cores", flat(README.read_text())
    )
    section = (DOCS / "performance.md").read_text().split("## The README's main command", 1)[1]
    totals = re.findall(r"^\| .*\| \*\*(\d+) min (\d+) s\*\* \|", section, flags=re.M)
    assert said and totals, "the README and docs/performance.md state the main command's time"
    minutes, seconds = map(int, totals[-1])
    assert int(said[1]) == minutes + (seconds > 0)
