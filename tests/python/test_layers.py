"""The package's layers (docs/architecture.md): a module imports only from its own layer
or lower ones, and the rooms of one layer (training, scoring, mining, ...) do not import
each other. Run alone: `.venv/bin/pytest tests/python/test_layers.py`."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python_scoring"

# lowest first; a name is a module or a subpackage of python_scoring
LAYERS = [
    ["errors"],
    # files: tabular files read as Arrow (load, bank jobs); privacy: the pseudonymisation salt
    ["project", "progress", "files", "privacy"],
    ["registry", "artifacts", "contract", "tracking"],
    ["warehouse", "dbt_runner"],  # dbt in-process prepares and releases the engines
    ["features"],
    # scaffold reads via load; report reads the warehouse only; serving scores as scoring
    # does, by calling it
    ["training", "scoring", "mining", "load", "synthetic", "scaffold", "report", "serving"],
    ["jobs"],
    ["cli"],
]
LEVEL = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}
# rooms that must not import each other: each job of its own, over the shared lower layers
INDEPENDENT = {"training", "scoring", "mining", "load", "synthetic", "report"}


def _room(module: str) -> str:
    return module.removeprefix("python_scoring.").split(".")[0]


def _imports(path: Path) -> set[str]:
    """python_scoring modules a file imports (at the top or inside functions; relative
    imports resolved against the file's package)."""
    found = set()
    package = ["python_scoring", *path.relative_to(PACKAGE).parent.parts]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(package[: len(package) - node.level + 1])
            if node.module:
                found.add(f"{base}.{node.module}")
            else:  # from .. import room
                found |= {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("python_scoring"):
            if node.module == "python_scoring":
                found |= {f"python_scoring.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("python_scoring.")}
    return found


def test_every_room_has_a_layer():
    rooms = {
        p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    assert rooms - {"__init__"} == set(LEVEL)


def test_no_import_runs_up_the_layers_or_across_a_layer():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        room = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for module in _imports(path):
            other = _room(module)
            if other == room:
                continue
            if LEVEL[other] > LEVEL[room] or {room, other} <= INDEPENDENT:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not wrong, "\n".join(wrong)
