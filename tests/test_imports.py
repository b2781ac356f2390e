"""The import graph of src/mmrft: packages import only packages below them, modules form no cycle.

A small ``ast`` walk over every module (imports inside functions count too: a lazy import is
still a dependency; only ``if TYPE_CHECKING:`` blocks are skipped, they never run). Run this
file directly to print the package graph.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mmrft"

LAYERS: list[set[str]] = [
    {"registry", "progress"},  # leaf utilities
    {"dataclass_yaml"},
    {"data"},  # the standard sample format, loaders, streams
    {"algorithms", "models"},  # pure RL math; model families and loading
    {"rollout"},  # engines over models
    {"rewards"},
    {"tasks"},  # a task names its reward
    {"config"},  # checks registry names, so above every registry
    {"report"},
    {"eval", "plan"},
    {"trainer"},  # the loop evaluates held-out problems with eval.harness
    {"build"},  # the composition root: config -> components, passed into trainer and eval
    {"cli"},
    {"__main__"},  # python -m mmrft (and torchrun -m mmrft)
]
"""Bottom to top. A package imports only packages on lower layers; a new package goes here."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imported(path: Path, known: set[str]) -> set[str]:
    """The mmrft modules ``path`` imports at run time (``from pkg import submodule`` resolved)."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("mmrft")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mmrft"):
            for alias in node.names:  # mmrft uses absolute imports only
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
    return out


def package(module: str) -> str:
    """``mmrft.trainer.rl`` -> ``trainer``; top-level modules are their own package."""
    return module.split(".")[1] if "." in module else module


def module_graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: imported(p, set(mods)) - {m} for m, p in mods.items()}


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, deps in module_graph().items():
        for dep in deps:
            a, b = package(mod), package(dep)
            if a != b and b != "mmrft":
                graph[a].add(b)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(pkg: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if pkg in layer)


def test_every_package_has_a_layer():
    packages = {package(m) for m in modules()} - {"mmrft", "__main__"}
    placed = set().union(*LAYERS)
    assert packages <= placed, f"add {sorted(packages - placed)} to LAYERS in {__file__}"


def test_no_package_imports_a_package_above_it():
    upward = [
        f"{mod} imports {dep} ({package(dep)} is not below {package(mod)})"
        for mod, deps in sorted(module_graph().items())
        for dep in sorted(deps)
        if package(dep) not in (package(mod), "mmrft")
        and layer_of(package(dep)) >= layer_of(package(mod))
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle_between_modules():
    assert cycles(module_graph()) == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_cycles_finds_exactly_the_cycles(graph, expected):
    assert cycles(graph) == expected


def test_the_walk_sees_lazy_imports_and_skips_type_checking(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from mmrft.config import Config\n"
        "def f():\n    from mmrft.trainer import rl\n"
    )
    assert imported(src, {"mmrft.trainer.rl"}) == {"mmrft.trainer.rl"}


if __name__ == "__main__":
    for pkg, deps in sorted(package_graph().items()):
        print(f"{pkg:14s} -> {', '.join(sorted(deps))}")
