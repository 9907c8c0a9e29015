"""rnnkit.core is the bottom layer: it imports nothing from rnnkit but rnnkit.errors."""

import ast
from pathlib import Path

import rnnkit.core

CORE = Path(rnnkit.core.__file__).parent


def rnnkit_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n == "rnnkit" or n.startswith("rnnkit.")}


def test_core_imports_only_errors_and_itself():
    modules = sorted(CORE.glob("*.py"))
    assert {p.stem for p in modules} >= {"suggest", "checks", "files", "state", "plotting"}
    for path in modules:
        outside = {n for n in rnnkit_imports(path)
                   if n != "rnnkit.errors" and not n.startswith("rnnkit.core")}
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_the_training_engine_does_not_import_io():
    train = CORE.parent / "train"
    for path in sorted(train.glob("*.py")):
        assert not {n for n in rnnkit_imports(path) if n.startswith("rnnkit.io")}, path.name
