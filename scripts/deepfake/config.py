"""Config helpers shared by ``rules/common.smk`` and the tools: the config's check with
short errors (a key renamed in this release read under its old name, with a warning
line), which models a run trains, key-order-free params, the model rule predict
uses, and the vocabularies of the Snakefile's wildcards. (A CNN variant's settings:
:class:`deepfake.settings.TrainSettings`.)

The config given here has been validated against the schema, which fills in every
default (``schemas/config.schema.yaml`` is their one home): these helpers read keys,
they never invent a default. Imported by Snakemake at parse time: standard library and
PyYAML only, so a dry run stays fast.
"""

from __future__ import annotations

import csv
import difflib
import os
import sys
from collections.abc import Mapping, Sequence

import yaml

from deepfake import layout
from deepfake.families import FAMILIES, ensemble_members, trained_models
from deepfake.settings import FILE_DESCRIPTORS


class ConfigError(ValueError):
    """A config that the schema refuses, said in a few lines."""


# Keys renamed in this release, read under their old name until the next one:
# (section, old key) -> new key.
RENAMED_KEYS = {("knn", "features"): "descriptors"}


def check_config(
    config: dict, schema_file: str | os.PathLike, layers: Sequence[Mapping] = ()
) -> None:
    """Validate ``config`` against the schema and fill in its defaults; on failure raise
    :class:`ConfigError` naming each wrong key, the reason and, for an unknown key, the
    keys allowed there (no dump of the schema or the config). A key of
    :data:`RENAMED_KEYS` under its old name is read first as the new one, with a warning
    line (:func:`renamed_keys`; ``layers``: the config's sources, as there)."""
    for line in renamed_keys(config, layers):
        print(line, file=sys.stderr, flush=True)
    schema = read_schema(schema_file)
    if next(_filling_validator(schema).iter_errors(config), None) is not None:
        raise ConfigError(config_errors(config, schema))


def read_schema(schema_file: str | os.PathLike) -> dict:
    """The config schema (YAML), read with PyYAML's C loader where it has one: every
    start of the workflow reads it."""
    with open(schema_file, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def section_defaults(schema: Mapping, section: str) -> dict:
    """The defaults the schema gives the keys of one top-level section (their one home)."""
    properties = schema["properties"][section]["properties"]
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


def _filling_validator(schema: Mapping):
    """A JSON-schema (2020-12) validator of ``schema`` that, while it validates, puts
    each default of the schema into the config where its key is missing (a copy of the
    default, so no two configs share a list)."""
    import copy

    import jsonschema

    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def properties(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for key, value in properties.items():
                if "default" in value and key not in instance:
                    instance[key] = copy.deepcopy(value["default"])
        yield from check_properties(validator, properties, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": properties})(schema)


def renamed_keys(config: dict, layers: Sequence[Mapping] = ()) -> list[str]:
    """Put each old key of :data:`RENAMED_KEYS` in ``config`` under its new name, in
    place, and return one warning line per old key found.

    ``config`` is ``layers`` merged in order (Snakemake's: the config files, then the
    ``--config`` values; none given: ``config`` is its only layer), so an overlay with
    the old key over a config file with the new one holds both: the last layer that
    sets either decides. A layer setting both is refused, naming both."""
    layers = list(layers) or [config]
    lines = []
    for (section, old), new in RENAMED_KEYS.items():
        sources = [s[section] for s in layers if isinstance(s.get(section), Mapping)]
        if any(old in s and new in s for s in sources):
            raise ConfigError(
                f"config {section}.{old} and {section}.{new} are both given; {old} is the "
                f"old name of {new}: give {section}.{new} only"
            )
        values = config.get(section)
        if not isinstance(values, dict) or old not in values:
            continue
        value = values.pop(old)
        setting = [s for s in sources if old in s or new in s]
        if not setting or old in setting[-1]:
            values[new] = value
        lines.append(
            f"Warning: config key {section}.{old} is now {section}.{new}; "
            "the old name is read until the next release."
        )
    return lines


def config_layers(files: Sequence[str | os.PathLike], values: Mapping) -> list[Mapping]:
    """A run's config sources in the order Snakemake merges them: each config file
    (YAML or JSON), then the ``--config`` values."""
    layers = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            layers.append(yaml.safe_load(handle) or {})
    return [*layers, values]


def config_errors(config: Mapping, schema: Mapping) -> str:
    """The schema's complaints about ``config``, one short line each."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            for key in unknown:
                name = f"{where}.{key}" if error.absolute_path else key
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                lines.append(
                    f"config key {name!r} is not allowed here; {hint}allowed keys: "
                    + ", ".join(allowed)
                )
        else:
            lines.append(
                f"config {where}: {error.message}" if where else f"config: {error.message}"
            )
    return "invalid config:\n  " + "\n  ".join(lines or ["(the schema refused it)"])


def models(config: Mapping) -> list[str]:
    """Every model of the run with predictions: the trained ones, then the combinations
    (the ensemble), family by family as the registry lists them."""
    combined = [m for f in FAMILIES.values() if f.combines for m in f.models(config)]
    return trained_models(config) + combined


def inference_files(config: Mapping, model: str) -> list[str]:
    """The files a model's inference reads: its folder's, and a combination's (the
    ensemble's) members'."""
    paths = layout.Layout(config["results_dir"])
    family = FAMILIES[layout.family(model)]
    files = [paths.model_file(model, name) for name in family.files]
    if family.combines:
        for member in ensemble_members(config):
            files += inference_files(config, member)
    return files


def model_folder(wanted: str) -> bool:
    """Whether ``predict_model`` is a model folder of its own (a path holding a
    model.json, such as a shipped model) rather than a model of the run."""
    return os.path.isfile(os.path.join(wanted, layout.CARD))


def check_predict_model(config: Mapping) -> None:
    """Refuse a ``predict_model`` that is no model folder and names no model of this
    run (listing them)."""
    wanted = str(config["predict_model"])
    if model_folder(wanted):
        return
    run = models(config)
    if wanted == "best" or wanted in run or any(m.split("/")[0] == wanted for m in run):
        return
    kind = "family" if wanted in FAMILIES else "model"
    raise ValueError(
        f"config predict_model: {wanted!r} is no {kind} of this run; trained: {run} "
        f"(or best, or a family: {', '.join(FAMILIES)}; or the folder of a trained model)"
    )


def choose_model(summary_csv: str | os.PathLike, wanted: str) -> str:
    """The summary row rule predict uses: ``best`` (the first row), a family (its best
    row) or ``family/name``; an unknown name is an error listing the rows."""
    with open(summary_csv, newline="", encoding="utf-8") as handle:
        names = [row["model"] for row in csv.DictReader(handle)]
    if wanted == "best" and names:
        return names[0]
    matches = [n for n in names if n == wanted or n.split("/")[0] == wanted]
    if not matches:
        raise ValueError(f"predict_model {wanted!r} is not a row of {summary_csv}: {names}")
    return matches[0]


def check_has_model(config: Mapping) -> None:
    """Refuse a config that trains nothing (no KNN descriptor, no gbm, no CNN variant,
    no model of any other family)."""
    if not trained_models(config):
        raise ValueError(
            "the config trains no model: knn.descriptors and gbm.descriptors are empty and no "
            "CNN variant is trained (cnn.variants / cnn.train); set at least one of them"
        )


def check_ranges(config: Mapping) -> None:
    """Refuse a [low, high] range of the config whose low end is above its high end."""
    for key in ("jpeg_quality", "resize_factor"):
        low, high = config["augment"][key]
        if low > high:
            raise ValueError(f"config augment.{key}: [{low}, {high}] is no range (low > high)")


def check_refit(config: Mapping) -> None:
    """With ``refit.model`` set, every model also learns from the validation images:
    refuse a model that is not of this run, and any model that would choose on those
    images (the report protocol), as each family of the registry says
    (``Family.on_validation``): a CNN variant selecting its epoch or stopping early, a
    KNN on one descriptor choosing k and voting (each validation image would find
    itself)."""
    wanted = config["refit"]["model"]
    if not wanted:
        return
    if wanted not in models(config):
        raise ValueError(
            f"config refit.model: {wanted!r} is no model of this run; choose from {models(config)}"
        )
    choosing, fixes = [], []
    for family in FAMILIES.values():
        found = family.on_validation(config)
        choosing += found
        fixes += [family.on_validation_fix] if found and family.on_validation_fix else []
    if choosing:
        raise ValueError(
            f"config refit: {choosing} choose on the validation images (report protocol), "
            f"which refit trains on; set {' and '.join(fixes)} "
            "(experiments/fast-refit.yaml does, over config.fast.yaml)"
        )


def typed_cli_values(value):
    """Nested ``--config`` values as YAML types.

    Snakemake parses ``--config knn='{k: [3, 5]}'`` with YAML's BaseLoader, which
    keeps every scalar a string (``'3'``); reading each string leaf again as YAML
    gives the types an overlay file would have.
    """
    if isinstance(value, Mapping):
        return {key: typed_cli_values(v) for key, v in value.items()}
    if isinstance(value, list):
        return [typed_cli_values(v) for v in value]
    if isinstance(value, str):
        try:
            typed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return value if isinstance(typed, Mapping) else typed  # "a: b" is a string leaf
    return value


def merge(base: dict, overrides: Mapping) -> None:
    """Merge ``overrides`` into ``base`` key by key (as ``--configfile`` does)."""
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value


def _alternatives(names) -> str:
    return "|".join(names)


# Snakemake's wildcard constraints, built from the vocabularies (and tested against them).
WILDCARDS = {
    "split": _alternatives(layout.SPLITS),
    "set": _alternatives(layout.SETS),
    "descriptor": _alternatives([r"hsv\d+", *FILE_DESCRIPTORS]),
    "family": _alternatives(FAMILIES),
    "variant": r"[A-Za-z0-9_]+",
    "name": r"[A-Za-z0-9_]+",
    "group": r"[a-z_]+",
}
