"""Import direction and import cycles, read from the source (nothing is imported).

The core imports no app; the agent and the aggregator never import each other nor the
demo; and no two modules import each other, directly or round a loop, when loaded
(imports inside functions and under ``if TYPE_CHECKING:`` run later or never, so they
cannot catch a half-initialised module and are left out of the cycle check).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fieldproof", "edge_agent", "aggregator", "demo")
# What each top-level package must never import, anywhere in it.
FORBIDDEN = {
    "fieldproof": frozenset({"edge_agent", "aggregator", "demo"}),
    "edge_agent": frozenset({"aggregator", "demo"}),
    "aggregator": frozenset({"edge_agent", "demo"}),
}


@dataclass(frozen=True, slots=True)
class Import:
    target: str
    line: int
    at_load: bool  # runs when the module is loaded


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _walk(body: Sequence[ast.stmt], at_load: bool) -> Iterator[tuple[ast.stmt, bool]]:
    """Every import statement under ``body``, with whether it runs at load time."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, at_load
        elif isinstance(node, ast.If):
            yield from _walk(node.body, at_load and not _is_type_checking(node.test))
            yield from _walk(node.orelse, at_load)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(node.body, False)
        else:
            # Class bodies and try/with/for blocks at module level run at load time.
            nested: list[ast.stmt] = []
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    nested.append(child)
                elif isinstance(child, ast.ExceptHandler):
                    nested.extend(child.body)
            yield from _walk(nested, at_load)


def _resolve(name: str) -> str | None:
    """The deepest module of ours that ``name`` names (a package for its attributes)."""
    while name not in MODULES:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str) -> list[Import]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node, at_load in _walk(tree.body, True):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # ``from pkg import sub`` loads the submodule; ``from mod import name`` the module.
            names = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source
                for alias in node.names
            ]
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.append(Import(target, node.lineno, at_load))
    return found


IMPORTS = {module: _imports(module) for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_every_package_is_found() -> None:
    assert {module.split(".")[0] for module in MODULES} == set(PACKAGES)
    assert len(MODULES) > 50


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_direction(package: str) -> None:
    wrong = [
        f"{module}:{item.line} imports {item.target}"
        for module, items in IMPORTS.items()
        if module.split(".")[0] == package
        for item in items
        if item.target.split(".")[0] in FORBIDDEN[package]
    ]
    assert wrong == []


def test_no_import_cycle_at_load_time() -> None:
    graph = {
        module: {item.target for item in items if item.at_load} for module, items in IMPORTS.items()
    }
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_loop() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
