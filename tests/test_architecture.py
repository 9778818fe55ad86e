"""The engine's shape: imports flow one way through its layers, with no cycle, and importing the
package is cheap.

The rule (README, "Engine API"; recsys_core/__init__.py): every module of ``recsys_core`` belongs
to one layer, in this order,

    foundation (errors, validation, persistence, threads, memory, version)
    -> data -> retrieval -> models -> evaluation -> serving -> runs -> tuning
    -> cli (and __main__)
    -> the package's own __init__ (the Engine API, re-exporting lazily),

and may import only modules of its own layer or of lower ones -- imports inside functions count,
since they run just the same. Inside a layer the imports must not form a cycle; an import of one's
own enclosing package (``from . import MODEL_REGISTRY`` in models/base.py) is not counted as an
edge of a cycle, because Python has always run that package's ``__init__`` before the module.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "recsys_core"

LAYERS = ("foundation", "data", "retrieval", "models", "evaluation", "serving", "runs", "tuning",
          "cli", "api")
FOUNDATION = {"errors", "validation", "persistence", "threads", "memory", "version"}
#: Imports no engine module may make, at any depth (the engine has no user interface).
FORBIDDEN = ("streamlit",)


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name inside the package, None when it has none."""
    parts = module.split(".")
    if parts == [PACKAGE]:
        return "api"
    top = parts[1]
    if top in FOUNDATION and len(parts) == 2:
        return "foundation"
    if top == "__main__":
        return "cli"
    return top if top in LAYERS[1:-1] else None


def engine_modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package under ``root``."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path, modules: dict[str, Path]):
    """(line, imported name) for every import in the file, at any depth; names of the package are
    resolved to the module imported (``from . import kernels`` names the submodule)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if sub in modules else target


def engine_edges(root: Path = ROOT):
    """(importer, imported, file, line) for every import of one engine module by another."""
    modules = engine_modules(root)
    edges = []
    for module, path in modules.items():
        for line, name in imports_of(module, path, modules):
            while name not in modules and "." in name:  # a name inside a module: the module
                name = name.rpartition(".")[0]
            if name in modules and name != module:
                edges.append((module, name, path.relative_to(root), line))
    return modules, edges


def architecture_problems(root: Path = ROOT) -> list[str]:
    """Every breach of the layer rule, as readable lines (empty when the engine follows it)."""
    modules, edges = engine_edges(root)
    problems = [f"{name}: belongs to no layer (add it to one in tests/test_architecture.py)"
                for name in modules if layer_of(name) is None]
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for importer, imported, file, line in edges:
        low, high = layer_of(imported), layer_of(importer)
        if low and high and rank[low] > rank[high]:
            problems.append(f"{file}:{line}: {importer} ({high}) imports {imported} ({low}), "
                            "a higher layer")
        if not importer.startswith(imported + "."):  # one's own package ran first: no cycle
            graph[importer].add(imported)
    for path in (root / PACKAGE).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for name in names:
                if name.split(".")[0] in FORBIDDEN:
                    problems.append(f"{path.relative_to(root)}:{node.lineno}: imports {name}")
    problems += [f"import cycle: {' -> '.join(cycle + [cycle[0]])}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_cycle_in(graph, set(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _cycle_in(graph, component: set[str]) -> list[str]:
    start = min(component)
    path, seen = [start], {start}
    while True:  # every member of a strongly connected component has a successor inside it
        nxt = min(n for n in graph[path[-1]] if n in component)
        if nxt in seen:
            return path[path.index(nxt):]
        path.append(nxt)
        seen.add(nxt)


def test_engine_imports_flow_down_the_layers_without_cycles():
    assert architecture_problems() == []


def test_the_checker_sees_upward_imports_cycles_and_stray_modules(tmp_path):
    files = {
        "__init__.py": "",
        "errors.py": "",
        "data/__init__.py": "",
        "data/dataset.py": "def f():\n    from ..models import base\n",  # upward, in a function
        "models/__init__.py": "from .base import Recommender\n",
        "models/base.py": "from . import Recommender\nfrom .a import x\n",  # own package: fine
        "models/a.py": "from .b import y\n",
        "models/b.py": "from recsys_core.models.a import x\nimport streamlit\n",  # a <-> b
        "helpers.py": "",  # in no layer
    }
    for name, text in files.items():
        (tmp_path / PACKAGE / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / PACKAGE / name).write_text(text)
    problems = "\n".join(architecture_problems(tmp_path))
    assert "recsys_core.data.dataset (data) imports recsys_core.models.base (models)" in problems
    assert "import cycle: recsys_core.models.a -> recsys_core.models.b -> recsys_core.models.a" \
        in problems
    assert "recsys_core.helpers: belongs to no layer" in problems
    assert "imports streamlit" in problems
    assert problems.count("import cycle") == 1


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_importing_the_package_loads_no_model_numba_or_umap():
    out = _run("import sys, recsys_core\n"
               "print(sorted(m for m in sys.modules if m.split('.')[0] in "
               "('numba', 'umap', 'sklearn', 'streamlit') or m == 'recsys_core.models'))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_engine_api_names_resolve_to_their_objects():
    import recsys_core

    for name, module in recsys_core._API.items():
        assert getattr(recsys_core, name) is getattr(sys.modules[module], name), name
    with pytest.raises(AttributeError):
        recsys_core.no_such_name  # noqa: B018


def test_command_line_help_works():
    out = subprocess.run([sys.executable, "-m", PACKAGE, "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "train" in out.stdout and "recommend" in out.stdout
