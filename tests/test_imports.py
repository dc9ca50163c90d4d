"""The package's shape: stages as packages, no import cycle, no borrowed private names, short modules.

Read with ast, nothing imported. Every import counts, also one made inside a function: a
cycle through a lazy import is still a knot a reader has to untie. Only an import under
`if TYPE_CHECKING:` is left out, since it never runs.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipeline"
MAX_LINES = 450
MAX_TOP_LEVEL_MODULES = 8


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def all_imports(nodes: list[ast.AST]):
    """Every import statement, at any depth (functions, classes, blocks), except TYPE_CHECKING blocks."""
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif _is_type_checking(node):
            yield from all_imports(node.orelse)
        else:
            yield from all_imports(list(ast.iter_child_nodes(node)))


def _base(name: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = name if _is_package(name) else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The pipeline modules this statement loads (a package's __init__ counts as the package)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    base = _base(name, node)
    found = {base} if base in MODULES else set()
    found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}  # from . import db
    return {t for t in found if not name.startswith(f"{t}.")}  # a parent package is loaded before its modules


def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(encoding="utf-8"), str(MODULES[name]))


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    graph = {}
    for name in modules or MODULES:
        graph[name] = set().union(*(_targets(name, n) for n in all_imports(_tree(name).body))) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_graph_is_read():
    graph = import_graph()
    assert "pipeline.store.db" in graph["pipeline.ingest.release_load"]
    assert "pipeline.llm.errors" in graph["pipeline.llm.batch"]
    assert "pipeline.llm" in graph["pipeline.properties.custom.prompt"]
    assert "pipeline.model.fitting" in graph["pipeline.cli.commands"]  # imported inside a command: counted


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    """The checker itself: a lazy import that closes a loop is a cycle."""
    a = "from . import b\n"
    b = "def later():\n    from . import a\n    return a\n"
    fake = {}
    for mod, text in (("a", a), ("b", b)):
        path = tmp_path / f"{mod}.py"
        path.write_text(text)
        fake[f"pipeline.{mod}"] = path
    saved = dict(MODULES)
    MODULES.update(fake)
    try:
        assert find_cycle(import_graph(fake)) is not None
    finally:
        MODULES.clear()
        MODULES.update(saved)


def test_no_cycle_among_all_imports():
    cycle = find_cycle(import_graph())
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_no_module_imports_another_modules_private_names():
    borrowed = []
    for name in MODULES:
        for node in all_imports(_tree(name).body):
            if isinstance(node, ast.ImportFrom) and _targets(name, node):
                borrowed += [f"{name}: {a.name}" for a in node.names
                             if a.name.startswith("_") and not a.name.startswith("__")]
    assert not borrowed, f"private names imported across modules: {borrowed}"


def test_no_module_reads_a_private_attribute_of_another_pipeline_module():
    borrowed = []
    for name in MODULES:
        tree = _tree(name)
        aliases = set()
        for node in all_imports(tree.body):
            if isinstance(node, ast.ImportFrom) and _targets(name, node):
                aliases |= {a.asname or a.name for a in node.names
                            if f"{_base(name, node)}.{a.name}" in MODULES}
        borrowed += [f"{name}:{n.lineno} {n.value.id}.{n.attr}" for n in ast.walk(tree)
                     if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases
                     and n.attr.startswith("_") and not n.attr.startswith("__")]
    assert not borrowed, f"private attributes read across modules: {borrowed}"


def test_the_top_level_holds_few_modules():
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= MAX_TOP_LEVEL_MODULES, f"modules directly in pipeline/: {loose}"


def test_the_stages_are_packages():
    for stage in ("ingest", "properties", "model", "answers", "store", "cli"):
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_no_module_over_450_lines():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
