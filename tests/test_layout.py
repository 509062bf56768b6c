"""The layers: config -> Problem + Solver -> compiled run -> rows -> reports. A lower module never
imports a higher one, and data/ and reports/ run without JAX."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gamebench"
# module (or package prefix) -> the gamebench modules it may import
ALLOWED = {
    "gamebench.paths": set(),
    "gamebench.reuse": {"gamebench.paths", "gamebench.files"},
    "gamebench.files": set(),
    "gamebench.params": set(),
    "gamebench.argtypes": set(),
    "gamebench.game": set(),
    "gamebench.data": {"gamebench.files", "gamebench.data", "gamebench.paths"},
    "gamebench.io": {"gamebench.files", "gamebench.paths"},
    "gamebench.reports": {"gamebench.io", "gamebench.files", "gamebench.reports"},
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "gamebench":
            names |= {f"gamebench.{a.name}" for a in node.names}  # from gamebench import io
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return {n for n in names if n.startswith("gamebench.")}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_lower_layer_imports_nothing_above_it(layer):
    paths = [
        p
        for p in PACKAGE.rglob("*.py")
        if _module(p) == layer or _module(p).startswith(layer + ".")
    ]
    assert paths
    for path in paths:
        for name in _imports(path):
            assert any(name == a or name.startswith(a + ".") for a in ALLOWED[layer]), (path, name)


def test_data_reports_and_declarations_import_no_jax():
    code = "import sys, gamebench.reports, gamebench.data, gamebench.params, gamebench.files; "
    code += "import gamebench.reports.__main__; sys.exit('jax' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_repeated_run_path_imports_only_the_standard_library():
    """gamebench.reuse runs before anything heavy: a repeated run costs a Python start-up."""
    code = "import sys, gamebench.reuse, gamebench.launch; "
    code += "heavy = {'jax', 'numpy', 'pandas', 'hydra', 'omegaconf', 'matplotlib'} & set(sys.modules); "
    code += "print(sorted(heavy), file=sys.stderr); sys.exit(1 if heavy else 0)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
