"""The package's layers, read from its source: no import circle and no arrow upwards.

Layers, bottom up: errors -> space_kinds -> architecture, io, layout, data_kinds, private_folder, tables -> spaces, data ->
settings -> search, models, draw -> training -> tracking -> pipeline -> commands -> cli -> warm (the launcher). The search never sees a network or a tracking call; models and
data never log; tracking never imports training (it rebuilds a model from model.pt alone).
Imports inside functions count too: a lazy import is still a dependency.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nasrl"

# What each part may not import (besides itself).
EVERY_PART = {"errors", "space_kinds", "tables", "architecture", "io", "layout", "data_kinds", "private_folder", "own_data", "spaces",
              "data", "settings", "search", "models", "draw", "training", "tracking", "pipeline", "commands", "cli",
              "planning"}
FORBIDDEN = {
    # the package's errors: below everything
    "errors": EVERY_PART - {"errors"},
    # the registry of space kinds: names its kinds' code as text, imported by the layer that uses it
    "space_kinds": EVERY_PART - {"errors", "space_kinds"},
    # the published results tables that ship with nasrl, found by name: import only the errors
    "tables": EVERY_PART - {"tables", "errors"},
    "architecture": {"io", "layout", "spaces", "data", "settings", "search", "models", "training", "tracking",
                     "pipeline", "cli"},
    "io": {"layout", "spaces", "data", "settings", "search", "models", "training", "tracking", "pipeline", "cli"},
    # the dataset and space kinds every layer checks against: imports nothing of nasrl
    "data_kinds": {"architecture", "io", "layout", "spaces", "data", "settings", "search", "models", "training",
                   "tracking", "pipeline", "cli"},
    # private folders and files (warm start's socket, the GPU leases): imports nothing of nasrl
    "private_folder": {"architecture", "io", "layout", "data_kinds", "spaces", "data", "settings", "search", "models",
                       "draw", "training", "tracking", "pipeline", "commands", "cli"},
    # data of one's own read and hashed without torch, for the settings' plan check and the data modules
    "own_data": {"architecture", "io", "layout", "spaces", "data", "settings", "search", "models", "training",
                 "tracking", "pipeline", "cli"},
    "layout": {"spaces", "data", "settings", "search", "models", "training", "tracking", "pipeline", "cli"},
    "spaces": {"data", "settings", "search", "models", "training", "tracking", "pipeline", "cli"},
    "data": {"spaces", "settings", "search", "models", "training", "tracking", "pipeline", "cli"},
    # the settings models: every config section, its ranges and defaults, for all the parts above
    "settings": {"data", "search", "models", "training", "tracking", "pipeline", "cli"},
    "search": {"data", "models", "training", "tracking", "pipeline", "cli"},
    "models": {"data", "search", "training", "tracking", "pipeline", "cli"},
    "training": {"search", "tracking", "pipeline", "cli"},
    "tracking": {"search", "training", "pipeline", "cli"},
    "pipeline": {"commands", "cli"},
    # diagrams: from an architecture value alone, so tracking and the workflow can draw any run
    "draw": {"data", "settings", "search", "training", "tracking", "pipeline", "commands", "cli"},
    # the scheduling simulation of `nasrl plan-cluster`: numpy alone, nothing of nasrl below or above
    "planning": EVERY_PART - {"planning"},
    # what the user verbs do (show, describe's sizes, architecture arguments): read anything below
    "commands": {"cli"},
    # the CLI runs inside a warm-start worker; the launcher above it decides where (src/nasrl/warm/)
    "cli": {"warm"},
}
for _banned in FORBIDDEN.values():  # warm start sits above the CLI: whatever may not import cli, nor warm
    if "cli" in _banned:
        _banned.add("warm")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("nasrl")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nasrl") and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        # "from nasrl.x import y" names module nasrl.x.y when y is a module, else nasrl.x
        edges[name] = {m for m in imports_of(path) if m in modules and m != name}
    return edges


def part(module: str) -> str:
    return module.split(".")[1] if "." in module else "nasrl"


def test_the_graph_is_read_from_the_source():
    edges = graph()
    assert "nasrl.search.reinforce" in edges["nasrl.search.registry"]
    assert "nasrl.spaces" in edges["nasrl.search.reinforce"]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_arrow_upwards(layer):
    wrong = sorted(f"{a} -> {b}" for a, targets in graph().items() if part(a) == layer
                   for b in targets if part(b) in FORBIDDEN[layer])
    assert not wrong, f"imports against the layering: {wrong}"


def test_no_import_circle():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_no_circle_between_parts():
    """Parts (spaces, search, tracking ...) import each other one way only."""
    edges = graph()
    arrows = {(part(a), part(b)) for a, targets in edges.items() for b in targets if part(a) != part(b)}
    both_ways = sorted(f"{a} <-> {b}" for a, b in arrows if (b, a) in arrows and a < b)
    assert not both_ways, f"parts that import each other: {both_ways}"
