"""Which modules of the package a script uses: declared as its rule's inputs, so that
editing a module reruns exactly the rules whose code uses it (Snakemake tracks the
``script:`` file only). Standard library only: Snakemake imports it at parse time."""

from __future__ import annotations

import ast
import functools
import os
from pathlib import Path


def package_modules(script: str | os.PathLike) -> list[str]:
    """The files of the package (``deepfake/``, beside ``script`` or holding it) that
    running ``script`` can load, sorted: what it imports and, transitively, what those
    modules import.

    Every ``import`` statement counts, wherever it stands (inside functions, lazy ones
    included, and ``if TYPE_CHECKING:`` or ``try:`` blocks): ``import deepfake.x [as
    y]``, ``from deepfake import x, y as z``, ``from deepfake.x import name`` and
    relative imports inside the package (``from . import x``, ``from .x import y``).
    Importing a module loads the ``__init__.py`` of each package above it, so those count
    too, with what they import; a name imported from a package that is no module of it
    (``from deepfake import SPLITS``) counts as that ``__init__.py`` only. A module
    imported by a name computed at run time (``importlib.import_module(name)``) is not
    seen. A script that imports nothing of the package gets an empty list.

    Declared as a rule's inputs, so that editing a module reruns exactly the rules
    whose code uses it (Snakemake tracks the ``script:`` file only).
    """
    script = Path(script)
    package = script.parent if script.parent.name == "deepfake" else script.parent / "deepfake"
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        for module in _imports(path, package):
            for file in _files(module, package):
                if file not in seen:
                    seen.add(file)
                    todo.append(file)
    return sorted(str(p) for p in seen)


def _imports(path: Path, package: Path) -> frozenset[tuple[str, ...]]:
    """The dotted names (as tuples) of the package's modules that ``path`` imports, and
    of the names its ``from ... import`` statements take from the package (modules or
    not: :func:`_files` tells). A text is parsed once (the workflow asks for every
    rule's script, and most share their modules)."""
    return _parsed_imports(path.read_bytes(), path, package)


@functools.lru_cache(maxsize=1024)
def _parsed_imports(source: bytes, path: Path, package: Path) -> frozenset[tuple[str, ...]]:
    tree = ast.parse(source, filename=str(path))
    here = _package_of(path, package)  # where relative imports start; None: outside
    names: set[tuple[str, ...]] = set()
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            names.update(tuple(alias.name.split(".")) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = tuple(node.module.split("."))
            elif here is not None and node.level <= len(here):
                base = here[: len(here) - node.level + 1]
                base += tuple(node.module.split(".")) if node.module else ()
            else:  # a relative import outside a package fails at run time
                continue
            names.add(base)
            names.update(base + (alias.name,) for alias in node.names if alias.name != "*")
    return frozenset(name for name in names if name[0] == package.name)


def _statements(nodes: list[ast.stmt]):
    """Every statement of ``nodes`` and of the blocks inside them (functions, classes,
    branches, loops, ``with``, ``try`` and ``match``), without the expressions, where
    no import can stand: a tenth of :func:`ast.walk`'s nodes, read at each start of the
    workflow."""
    for node in nodes:
        yield node
        for block in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(node, block, None) or [])
        for part in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):
            yield from _statements(part.body)


def _package_of(path: Path, package: Path) -> tuple[str, ...] | None:
    """The dotted name of the package that holds ``path`` (``("deepfake",)`` for
    ``deepfake/x.py`` and ``deepfake/__init__.py``); None for a file outside it."""
    try:
        parts = path.resolve().relative_to(package.resolve().parent).parts
    except ValueError:
        return None
    return parts[:-1] if parts[0] == package.name else None


def _files(module: tuple[str, ...], package: Path) -> list[Path]:
    """The files that importing ``module`` (``("deepfake", "x")``) loads: the
    ``__init__.py`` of each package on the way and the module's own file; a last part
    that is no module (a name defined in its package) adds nothing of its own."""
    files = []
    folder = package.parent
    for i, part in enumerate(module):
        folder = folder / part
        if (folder / "__init__.py").is_file():
            files.append(folder / "__init__.py")
        elif i == len(module) - 1 and folder.with_suffix(".py").is_file():
            files.append(folder.with_suffix(".py"))
        else:
            break
    return files
