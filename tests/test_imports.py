"""The package's shape: no cycle among module-level imports, and no module over 450 lines.

Read with ast, nothing imported: an import inside a function (the CLI's lazy imports) or under
`if TYPE_CHECKING:` does not count, since it cannot run while a module is half initialised.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipeline"
MAX_LINES = 450


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _module_level(body: list[ast.stmt]):
    """Import statements run when the module loads: top level, and inside if/try/with blocks."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level(block)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The pipeline modules this statement loads (a package's __init__ counts as the package)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    if node.level:
        package = name if _is_package(name) else name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    found = {base} if base in MODULES else set()
    found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}  # from . import db
    return {t for t in found if not name.startswith(f"{t}.")}  # a parent package is loaded before its modules


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = set().union(*(_targets(name, n) for n in _module_level(tree.body))) - {name}
    return graph


def test_the_graph_is_read():
    graph = import_graph()
    assert "pipeline.db" in graph["pipeline.loader"]
    assert "pipeline.llm.errors" in graph["pipeline.llm.batch"]
    assert "pipeline.llm" in graph["pipeline.custom_properties.prompt"]
    assert "pipeline.fitting" not in graph["pipeline.cli"]  # imported inside commands only


def test_no_cycle_among_module_level_imports():
    try:
        tuple(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_no_module_over_450_lines():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
