"""The shape of the house (docs/design.md): library layers that import one way only, no cycle, thin entry
points, tools apart, small modules and functions, every third-party import declared."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from pathlib import Path

import pytest
import tomllib

PACKAGE = Path(__file__).resolve().parents[2] / "lstm_imdb"
ENTRY_POINTS = {"train", "pretrain", "evaluate", "predict", "export", "baseline", "summarize"}
# what each library layer may import from the project (besides itself)
LAYERS = {
    "utils": set(),
    "data": {"utils"},
    "models": {"utils", "data"},
    "runs": {"utils"},
    "inference": {"utils", "data", "models", "runs"},
    "training": {"utils", "data", "models", "runs", "inference"},
}
MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_ROOT_FILES = 350, 80, 10


def modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def project_imports(path: Path) -> set[str]:
    """Every `lstm_imdb...` module this file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lstm_imdb")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lstm_imdb"):
            known = modules()
            for a in node.names:  # `from lstm_imdb.runs import folder` imports a module
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in known else node.module)
    return found


def kind(module: str) -> str:
    """`utils`, `data`, ... for library modules; `entry`, `cli`, `tools` or `package` otherwise."""
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in LAYERS:
        return parts[1]
    if parts[1] == "tools":
        return "tools"
    return "cli" if parts[1] == "cli" else "entry"


def test_library_layers_import_one_way_and_never_the_commands_or_tools():
    wrong = []
    for module, path in modules().items():
        layer = kind(module)
        for imported in project_imports(path):
            target = kind(imported)
            if layer in LAYERS and target not in (layer, "package") and target not in LAYERS[layer]:
                wrong.append(f"{module} -> {imported}")
            if layer in ("entry", "cli") and target == "tools":
                wrong.append(f"{module} -> {imported}")
    assert not wrong, "imports against the layers of docs/design.md:\n" + "\n".join(wrong)


def test_no_import_cycle():
    graph = {m: {i for i in project_imports(p) if i != m} for m, p in modules().items()}
    # a package's __init__ importing its own modules is how packages work: not a cycle
    graph = {
        m: {i for i in deps if not m.startswith(i + ".") or i == "lstm_imdb"} for m, deps in graph.items()
    }
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_modules_and_functions_stay_small_and_the_root_holds_the_commands():
    too_long = [
        f"{m}: {len(p.read_text().splitlines())} lines"
        for m, p in modules().items()
        if len(p.read_text().splitlines()) > MAX_MODULE_LINES
    ]
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{module}.{node.name}: {lines} lines")
    assert not too_long, "\n".join(too_long)
    root = {p.stem for p in PACKAGE.glob("*.py")}
    assert root == ENTRY_POINTS | {"__init__", "cli"} and len(root) <= MAX_ROOT_FILES


def test_every_third_party_import_is_a_declared_dependency():
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    declared = {
        d.split("==")[0].split("[")[0].lower().replace("_", "-") for d in pyproject["project"]["dependencies"]
    }
    providers = importlib.metadata.packages_distributions()
    missing = set()
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                    else []
                )
            )
            for name in names:
                top = name.split(".")[0]
                if top == "lstm_imdb" or top in sys.stdlib_module_names:
                    continue
                dists = {d.lower().replace("_", "-") for d in providers.get(top, [top])}
                if not dists & declared:
                    missing.add(f"{top} ({', '.join(sorted(dists))})")
    assert not missing, f"imported but not in pyproject.toml's dependencies: {sorted(missing)}"


@pytest.mark.parametrize("module", sorted(ENTRY_POINTS))
def test_entry_points_read_top_to_bottom(module):
    """Thin: a docstring, imports, at most a few short functions; the work is in the library."""
    path = PACKAGE / f"{module}.py"
    assert len(path.read_text().splitlines()) <= 100
    tree = ast.parse(path.read_text())
    assert not [n for n in tree.body if isinstance(n, ast.ClassDef)], "classes belong in the library"


def test_importing_a_module_only_defines_things():
    """No statement at a module's top level but imports, definitions and assignments: the allocator,
    the config resolvers and the plotting backend are set by `lstm_imdb.cli` when a command starts."""
    acting = []
    for module, path in modules().items():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            main_guard = isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
            # the one exception: the package checks that its dependencies are there (a clear way out)
            dependency_check = module == "lstm_imdb" and ast.unparse(node) == "_require_dependencies()"
            if isinstance(node, ast.Expr | ast.For | ast.While | ast.With | ast.If | ast.Try) and not (
                docstring or main_guard or dependency_check
            ):
                acting.append(f"{module}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert not acting, "statements that act at import:\n" + "\n".join(acting)


def test_startup_registers_the_resolvers_once():
    from omegaconf import OmegaConf

    from lstm_imdb.cli import startup

    startup()
    startup()  # idempotent: every command and the notebooks may call it
    assert OmegaConf.has_resolver("fast_precision") and OmegaConf.has_resolver("lstm_imdb_root")
