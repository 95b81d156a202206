"""deepfake.sources: the package modules a script loads, every import form, transitively."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

from deepfake.sources import package_modules

# the rules' scripts that run through deepfake.smk (all of them, today)
SMK_SCRIPTS = sorted(
    p for p in (REPO / "scripts").glob("*.py") if "from deepfake.smk import" in p.read_text()
)


def fake_package(root: Path, files: dict[str, str]) -> Path:
    """``root/deepfake/<name>`` for each file (``""`` for an empty module) and an empty
    ``__init__.py`` unless given; returns ``root``."""
    package = root / "deepfake"
    package.mkdir(parents=True)
    for name, text in ({"__init__.py": ""} | files).items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def loaded(root: Path, script_text: str, name: str = "script.py") -> set[str]:
    """What ``package_modules`` finds for a script beside the package, as paths
    relative to the package (``"x.py"``, ``"sub/__init__.py"``)."""
    script = root / name
    script.write_text(textwrap.dedent(script_text))
    package = root / "deepfake"
    return {Path(p).relative_to(package).as_posix() for p in package_modules(script)}


MODULES = {name: "" for name in ("a.py", "b.py", "c.py", "d.py", "unused.py")}


FORMS = [
    ("import deepfake\n", {"__init__.py"}),
    ("import deepfake.a\n", {"__init__.py", "a.py"}),
    ("import deepfake.a as alias\n", {"__init__.py", "a.py"}),
    ("import os, deepfake.a, deepfake.b as bee\n", {"__init__.py", "a.py", "b.py"}),
    ("from deepfake import a\n", {"__init__.py", "a.py"}),
    ("from deepfake import a as alias\n", {"__init__.py", "a.py"}),
    ("from deepfake import a, b as bee\n", {"__init__.py", "a.py", "b.py"}),
    ("from deepfake import (\n    a,\n    b as bee,\n)\n", {"__init__.py", "a.py", "b.py"}),
    ("from deepfake.a import name\n", {"__init__.py", "a.py"}),
    ("from deepfake.a import name as other\n", {"__init__.py", "a.py"}),
    # a name of the package that is no module: its __init__.py only
    ("from deepfake import SPLITS\n", {"__init__.py"}),
    ("from deepfake import SPLITS, c\n", {"__init__.py", "c.py"}),
    ("from deepfake import *\n", {"__init__.py"}),
    # imports wherever they stand
    ("def main():\n    from deepfake.a import f\n    return f()\n", {"__init__.py", "a.py"}),
    (
        "class C:\n    def m(self):\n        import deepfake.b as bee\n",
        {"__init__.py", "b.py"},
    ),
    (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from deepfake.c import T\n",
        {"__init__.py", "c.py"},
    ),
    ("try:\n    import deepfake.d\nexcept ImportError:\n    pass\n", {"__init__.py", "d.py"}),
    ("if __name__ == '__main__':\n    from deepfake import a\n", {"__init__.py", "a.py"}),
    # not the package: nothing
    ("import os\nimport deepfakes\nfrom deepfaker import a\n", set()),
    ("import numpy.deepfake\n", set()),
    # a relative import in a script outside the package fails at run time
    ("from . import a\n", set()),
    # no such module: its package only
    ("import deepfake.missing\n", {"__init__.py"}),
]


@pytest.mark.parametrize(("script", "expected"), FORMS, ids=[" ".join(s.split()) for s, _ in FORMS])
def test_every_import_form(tmp_path, script, expected):
    root = fake_package(tmp_path, MODULES)
    assert loaded(root, script) == expected


def test_relative_imports_inside_the_package(tmp_path):
    root = fake_package(
        tmp_path,
        MODULES
        | {
            "a.py": "from . import b\nfrom .c import name\n",
            "b.py": "from .sub import leaf as renamed\n",
            "sub/__init__.py": "from .. import d\n",
            "sub/leaf.py": "from . import other\n",
            "sub/other.py": "def f():\n    from .. import SPLITS\n",
        },
    )
    assert loaded(root, "from deepfake import a\n") == {
        "__init__.py",
        "a.py",
        "b.py",
        "c.py",
        "d.py",
        "sub/__init__.py",
        "sub/leaf.py",
        "sub/other.py",
    }


def test_a_subpackage_loads_each_init_on_the_way(tmp_path):
    root = fake_package(
        tmp_path, {"sub/__init__.py": "import deepfake.a\n", "sub/mod.py": "", "a.py": ""}
    )
    assert loaded(root, "import deepfake.sub.mod\n") == {
        "__init__.py",
        "sub/__init__.py",
        "sub/mod.py",
        "a.py",
    }
    assert loaded(root, "from deepfake.sub import name\n") == {
        "__init__.py",
        "sub/__init__.py",
        "a.py",
    }


def test_the_packages_init_and_what_it_imports(tmp_path):
    """Any import of the package runs its __init__.py, whose imports count too, lazy
    ones (inside a function it calls) included."""
    root = fake_package(
        tmp_path,
        MODULES
        | {
            "__init__.py": "def _setup():\n    from deepfake.c import f\n\n_setup()\n",
            "c.py": "from deepfake import d as dee\n",
        },
    )
    assert loaded(root, "from deepfake import SPLITS\n") == {"__init__.py", "c.py", "d.py"}
    assert loaded(root, "import deepfake.a\n") == {"__init__.py", "a.py", "c.py", "d.py"}


def test_imports_are_followed_transitively_and_cycles_end(tmp_path):
    root = fake_package(
        tmp_path,
        MODULES
        | {
            "a.py": "import deepfake.b\n",
            "b.py": "from deepfake import c as see\n",
            "c.py": "def lazy():\n    from deepfake.a import f\n",  # back to a
        },
    )
    assert loaded(root, "import deepfake.a\n") == {"__init__.py", "a.py", "b.py", "c.py"}


def test_a_script_inside_the_package(tmp_path):
    root = fake_package(tmp_path, MODULES | {"cli.py": "from . import a\nfrom .b import f\n"})
    modules = package_modules(root / "deepfake" / "cli.py")
    assert [Path(p).name for p in modules] == ["__init__.py", "a.py", "b.py"]


def test_sorted_paths_beside_the_script(tmp_path):
    root = fake_package(tmp_path, MODULES)
    (root / "script.py").write_text("from deepfake import c, a\n")
    assert package_modules(root / "script.py") == [
        str(root / "deepfake" / name) for name in ("__init__.py", "a.py", "c.py")
    ]
    assert package_modules(str(root / "script.py")) == package_modules(root / "script.py")


def test_a_module_that_does_not_parse_is_named(tmp_path):
    root = fake_package(tmp_path, MODULES | {"b.py": "def broken(:\n"})
    with pytest.raises(SyntaxError) as caught:
        loaded(root, "import deepfake.b\n")
    assert caught.value.filename == str(root / "deepfake" / "b.py")


def names(script: Path) -> set[str]:
    return {os.path.basename(p) for p in package_modules(script)}


@pytest.mark.parametrize("script", SMK_SCRIPTS, ids=lambda p: p.name)
def test_every_script_that_imports_smk_gets_its_thread_caps(script):
    """smk.py imports threads.py (``from deepfake import threads as thread_caps``) and
    __init__.py imports it too, inside a function it calls."""
    assert len(SMK_SCRIPTS) >= 20
    assert {"__init__.py", "smk.py", "threads.py"} <= names(script)


def test_code_inputs_follow_imports():
    names_ = names(REPO / "scripts" / "train_cnn.py")
    assert {"networks.py", "train.py", "backend.py", "__init__.py", "layout.py"} <= names_
    # its model's inputs are descriptors; the KNN's code is not the CNN's
    assert "descriptors.py" in names_ and "knn_search.py" not in names_
    assert "knn_model.py" not in names_
    # the shared model job reaches no family's model code (its rules declare their own)
    names_ = names(REPO / "scripts" / "model.py")
    assert {"model_job.py", "descriptors.py", "descriptor_model.py"} <= names_
    assert not {"knn_model.py", "knn_search.py", "gbm_model.py", "networks.py"} & names_
    names_ = names(REPO / "scripts" / "deepfake" / "knn_model.py")
    assert {"knn_search.py", "descriptors.py"} <= names_ and "networks.py" not in names_
    # descriptors and ingest reach no model code
    for script in ("descriptors.py", "ingest.py"):
        assert not {"networks.py", "feeder.py", "train.py"} & names(REPO / "scripts" / script)
