"""Write docs/configuration.md from schemas/config.schema.yaml (every key, its type, range,
default and meaning), so the reference cannot drift from what the workflow checks; the
page ends with what this release renamed, for those upgrading.

    python tools/config_docs.py > docs/configuration.md

tests/test_docs.py holds the committed page equal to this output.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
DEFAULT_IN_TEXT = re.compile(r"\s*\(default ([^)]*)\)\s*$")

INTRO = """\
# Configuration

`config.yaml` sets every key below, each with a one-line comment. At start-up the merged
config is checked against `schemas/config.schema.yaml`, so a wrong key or value stops the
run with the key's name (e.g. `'five' is not of type 'integer'` under `knn.k`). This page
is generated from that schema by `python tools/config_docs.py > docs/configuration.md`; a
test keeps the two equal.

Overlays merge over `config.yaml` key by key (`--configfile config.fast.yaml other.yaml`:
dictionaries merge, lists and scalars replace). Single keys go on the command line:
`--config data_dir=/path/to/data`, and nested values are read as YAML:
`--config cnn='{train: [baseline, bins8]}'` or `--config knn='{k: [3, 5]}'`. A dotted key
(`--config knn.k=[3,5]`) is refused by Snakemake itself, with a traceback of its own,
before this workflow can say anything: use the nested form.

Upgrading from the previous release: a config key, a results folder, the keys of
`metrics.json` and some package modules have new names ([below](#renamed-in-this-release)).
"""

CNN_SETTINGS_INTRO = """\
## CNN settings: `cnn.base` and `cnn.variants.<name>`

A variant's settings are `cnn.base` with the variant's own keys over it; a key set in
neither takes the default below (the reference report's recipe, defined once in
`deepfake.settings.TrainSettings`). Each variant trains as one `train_cnn` job; each
setting that some variant overrides gets a learning-curve figure beside `baseline`.
"""

RENAMED = """\
## Renamed in this release

Hand-made image features are called descriptors everywhere now, as the rule that computes
them (`descriptors`) already was, and a few other names say what they hold.

- **Config key** `knn.features` is now `knn.descriptors` (as `gbm.descriptors`). A config
  with the old name still runs until the next release: it is read as `knn.descriptors`,
  and the run starts with one line, `Warning: config key knn.features is now
  knn.descriptors; the old name is read until the next release.` One file (or
  `--config`) giving both names is refused; over a file with one name, an overlay with
  the other wins, as any overlay does.
- **Results folder** `results/features/<name>/<set>.npy` is now
  `results/descriptors/<name>/<set>.npy`. The first run after upgrading computes the
  descriptors again and everything made from them (every model reads them, so every
  model trains again); `results/features/` can then be deleted.
- **`metrics.json`** (each model folder's record): `model` is now `family`, `variant`
  is now `name` and `features` is now `inputs`; `summary_full.csv`'s columns follow
  (`name`, `inputs`). `summary.csv` keeps its columns (`model` is `family/name`, as
  before), and model cards (`model.json`) are unchanged: a model folder made before
  loads and predicts as it did.
- **Package modules**, for code that imports `deepfake` (the old names are gone):
  `deepfake.features` is `deepfake.descriptors` (`pixel_features` is `pixel_descriptor`,
  `parse_feature_name` is `parse_descriptor_name`); `deepfake.predictions` is
  `deepfake.probabilities` (`save_predictions` is `save_probabilities`);
  `deepfake.split` is `deepfake.make_split`; `deepfake.sets` is
  `deepfake.training_sets`; `deepfake.settings.KNN_FEATURES` is `KNN_DESCRIPTORS`,
  `deepfake.families.knn_feature_sets` is `knn_names`, `Layout.features` is
  `Layout.descriptors`, and `metrics_record` takes `inputs=` for `features=`. In the
  repository, `rules/features.smk` is `rules/descriptors.smk` and
  `benchmarks/features.py` is `benchmarks/descriptors.py`.
"""


def _type(spec: dict) -> str:
    """A key's type and range, in a few words."""
    if "enum" in spec:
        return " \\| ".join(_literal(v) for v in spec["enum"])
    if "oneOf" in spec:
        return " or ".join(_type(s) for s in spec["oneOf"])
    if "const" in spec:
        return _literal(spec["const"])
    kind = spec.get("type", "object")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        items = spec.get("items", {})
        return f"list of {_type(items)}" if items else "list"
    text = {"integer": "integer", "number": "number", "string": "text"}.get(kind, kind)
    low = spec.get("minimum", spec.get("exclusiveMinimum"))
    high = spec.get("maximum", spec.get("exclusiveMaximum"))
    if low is not None and high is not None:
        left = "(" if "exclusiveMinimum" in spec else "["
        right = ")" if "exclusiveMaximum" in spec else "]"
        text += f" in {left}{low}, {high}{right}"
    elif low is not None:
        text += f" {'>' if 'exclusiveMinimum' in spec else '≥'} {low}"
    elif high is not None:
        text += f" {'<' if 'exclusiveMaximum' in spec else '≤'} {high}"
    if "multipleOf" in spec:
        text += f", a multiple of {spec['multipleOf']}"
    if "pattern" in spec:
        text += " (`" + spec["pattern"].replace("|", "\\|") + "`)"
    return text


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] + "."


def _literal(value) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _default_and_text(spec: dict, required: bool) -> tuple[str, str]:
    text = " ".join(str(spec.get("description", "")).split())
    match = DEFAULT_IN_TEXT.search(text)
    if match:
        return f"`{match.group(1)}`", text[: match.start()]
    if "default" in spec:
        default = spec["default"]
        shown = yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("...")
        return f"`{shown.strip()}`", text
    return ("required" if required else "none"), text


def _table(properties: dict, required: list[str], prefix: str = "") -> list[str]:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, spec in properties.items():
        default, text = _default_and_text(spec, name in required)
        lines.append(f"| `{prefix}{name}` | {_type(spec)} | {default} | {text} |")
    return lines


def render(schema: dict) -> str:
    """The whole page (Markdown) of the schema ``schema``."""
    top = schema["properties"]
    lines = [INTRO, "## Top-level keys", ""]
    scalars = {k: v for k, v in top.items() if v.get("type") != "object"}
    lines += _table(scalars, schema.get("required", []))
    for name, spec in top.items():
        if spec.get("type") != "object":
            continue
        lines += ["", f"## `{name}`", "", _sentence(spec.get("description", "")), ""]
        children = spec.get("properties", {})
        flat = {k: v for k, v in children.items() if "properties" not in v}
        lines += _table(flat, spec.get("required", []), f"{name}.")
        for child, child_spec in children.items():
            if "properties" in child_spec:
                text = _sentence(child_spec.get("description", ""))
                lines += ["", f"### `{name}.{child}`", "", text, ""]
                lines += _table(child_spec["properties"], [], f"{name}.{child}.")
    lines += ["", CNN_SETTINGS_INTRO]
    lines += _table(schema["$defs"]["cnn_settings"]["properties"], [])
    lines += ["", RENAMED]
    return "\n".join(lines)


def main() -> None:
    """Print the page of schemas/config.schema.yaml."""
    sys.stdout.write(render(yaml.safe_load(SCHEMA.read_text())))


if __name__ == "__main__":
    main()
