"""The house's structure, counted: imports go down the floors README "Layout" names, no import circle, and no
module over 300 lines."""

import ast
from pathlib import Path

import seqexp

SRC = Path(seqexp.__file__).parent
FLOORS = {"base": 0, "models": 1, "plots": 1, "data": 2, "tasks": 3, "run": 4, "tools": 5, "entry": 6}
"""errors, constraints, interrupts; models (torch modules) and plots (figures, matplotlib only); data (its batches
carry models.packing's length order); the heads; run plumbing; tools; the entry points (python -m seqexp.X)."""
ENTRY_SHIMS = {"seqexp.data.download", "seqexp.data.cache.__main__"}
"""Command lines kept where users know them (python -m seqexp.data.download): they import run/'s parser."""


def floor(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("errors", "constraints", "interrupts"):
        return "base"
    return parts[1] if parts[1] in FLOORS else "entry"


def imports() -> dict[str, set[str]]:
    """Module -> the seqexp modules it imports at module level (``from seqexp.run import page`` counts as
    ``seqexp.run.page`` when that is a module)."""
    graph = {}
    for path in SRC.rglob("*.py"):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
        found = set()
        for node in ast.parse(path.read_text()).body:
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seqexp"):
                names = [f"{node.module}.{a.name}" for a in node.names]
                names = [n if _is_module(n) else node.module for n in names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("seqexp")]
            found |= set(names)
        graph[module] = found
    return graph


def _is_module(name: str) -> bool:
    path = SRC.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_imports_go_down_the_floors():
    upward = [f"{m} -> {d}" for m, deps in imports().items() if m not in ENTRY_SHIMS for d in deps
              if FLOORS[floor(d)] > FLOORS[floor(m)] or (floor(d) != floor(m) and FLOORS[floor(d)] == FLOORS[floor(m)])]
    assert upward == []


def test_no_import_circle():
    graph = imports()
    packages = {m for m in graph if (SRC.parent.joinpath(*m.split(".")) / "__init__.py").is_file()}
    # a module imports its package's __init__ first: that is Python's order, not a circle
    edges = {m: {d for d in deps if not (d in packages and m.startswith(d + "."))} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for dep in sorted(edges.get(module, ())):
            if state.get(dep) == 1:
                return [*path, module, dep]
            if dep not in state and (circle := visit(dep, [*path, module])):
                return circle
        state[module] = 2
        return None

    circles = [c for m in sorted(edges) if m not in state and (c := visit(m, []))]
    assert circles == []


def test_no_module_is_over_300_lines():
    long = {".".join(p.relative_to(SRC.parent).with_suffix("").parts) for p in SRC.rglob("*.py")
            if len(p.read_text().splitlines()) > 300}
    assert long == set(), f"modules over 300 lines, to split by job: {sorted(long)}"
