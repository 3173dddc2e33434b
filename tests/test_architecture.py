"""The layout's rules, checked on the source: imports point one way and never in a circle.

Every module of ``bot`` and ``index`` is parsed (not imported); every import counts, the ones
inside functions and ``if TYPE_CHECKING:`` blocks too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGES = ("bot", "index")
MAX_MODULES = 12  # .py files in one package folder, __init__.py included
NOT_IN_CORE = ("bot", "click", "telegram")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Absolute names this module imports; ``from pkg import mod`` names the module itself."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(target)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> every name it imports (project modules and third-party ones)."""
    files = module_files(root)
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the graph's own nodes, as a path that returns to its start."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b", "numpy"}, "b": {"c"}, "c": set()}) is None


def test_imports_inside_functions_and_relative_ones_count(tmp_path):
    pkg = tmp_path / "index" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "index" / "__init__.py").write_text("")
    (tmp_path / "index" / "top.py").write_text("")
    (pkg / "__init__.py").write_text("from . import mod\n")
    (pkg / "mod.py").write_text("def f():\n    from ..top import x\n    import click\n")
    (tmp_path / "bot").mkdir()
    graph = import_graph(tmp_path)
    assert graph["index.sub"] == {"index.sub.mod"}
    assert graph["index.sub.mod"] == {"index.top", "click"}


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_front_ends_use_only_the_public_api():
    bad = {(mod, name) for mod, names in import_graph().items() if mod.startswith("bot")
           for name in names if name.startswith("index.")}
    assert not bad, f"bot imports inside index (use `from index import ...`): {sorted(bad)}"


def test_public_api_names_exist():
    import index

    assert sorted(index.__all__) == sorted(index._EXPORTS)  # one list, kept in step
    subpackages = {p.parent.name for p in (ROOT / "index").glob("*/__init__.py")}
    for name in index.__all__:
        assert name not in subpackages, f"{name} would be shadowed by the sub-package"
        assert getattr(index, name) is not None, name


def test_core_never_imports_front_ends():
    bad = {(mod, name) for mod, names in import_graph().items()
           if mod == "index" or mod.startswith("index.")
           for name in names if name.split(".")[0] in NOT_IN_CORE}
    assert not bad, f"index imports a front end or its library: {sorted(bad)}"


def top_level_names(path: Path) -> set[str]:
    """Names a module defines itself (functions, classes, assignments), not ones it imports."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def test_names_come_from_their_owner():
    """No re-export shims: a name is imported from the module that defines it (the public
    API, ``index``, excepted)."""
    files = module_files()
    owned = {name: top_level_names(path) for name, path in files.items()}
    users = {**files, **{f"tests.{p.stem}": p for p in (ROOT / "tests").rglob("*.py")},
             **{f"benchmarks.{p.stem}": p for p in (ROOT / "benchmarks").glob("*.py")}}
    bad = []
    for mod, path in users.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                target = ".".join(base[:len(base) - (node.level - 1)]
                                  + ([node.module] if node.module else []))
            else:
                target = node.module
            if target in owned and target != "index":
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {a.name} from {target}"
                        for a in node.names
                        if a.name not in owned[target] and f"{target}.{a.name}" not in files]
    assert not bad, "imported from a module that does not define it: " + "; ".join(bad)


def test_package_folders_stay_small():
    folders = {path.parent for path in module_files().values()}
    big = {str(f.relative_to(ROOT)): n for f in folders
           if (n := len(list(f.glob("*.py")))) > MAX_MODULES}
    assert not big, f"package folders with more than {MAX_MODULES} modules: {big}"
