"""No import cycle among pdlib's modules, counting imports inside functions (issue 35: one idea per room).

`python tests/test_imports.py` prints the cycles (each strongly connected component of the import graph)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: the pdlib modules it imports}, every import statement of pdlib/**/*.py (inside functions too).
    `from pdlib.x import y` is pdlib.x.y when that is a module, else pdlib.x; a package's __init__ importing its
    own submodules is not an edge."""
    files = {}
    for path in sorted((root / "pdlib").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def module(name: str) -> str:
        while name not in files:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for name in names:
                if name == "pdlib" or name.startswith("pdlib."):
                    dep = module(name)
                    if dep != mod and not (path.name == "__init__.py" and dep.startswith(mod + ".")):
                        graph[mod].add(dep)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def describe(graph: dict[str, set[str]], cycles: list[list[str]]) -> str:
    if not cycles:
        return f"no import cycle among {len(graph)} pdlib modules ({sum(map(len, graph.values()))} imports)"
    return "\n".join(f"cycle: {'; '.join(f'{a} -> {b}' for a in c for b in sorted(graph[a]) if b in c)}"
                     for c in cycles)


def test_pdlib_modules_import_one_another_without_a_cycle():
    graph = import_graph()
    assert {"pdlib.scoring", "pdlib.scoring.videos", "pdlib.cli"} <= set(graph)
    assert "pdlib.scoring.conformal" in graph["pdlib.scoring.videos"]  # a from-import of a submodule's name
    cycles = import_cycles(graph)
    assert not cycles, describe(graph, cycles)


if __name__ == "__main__":
    g = import_graph()
    print(describe(g, import_cycles(g)))
