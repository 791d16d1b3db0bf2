"""The import graph of ``tinyseq``: no cycles, and no module imports above its layer.

Every module under ``tinyseq/`` is parsed (nothing is imported) and every import
of a tinyseq module is an edge, wherever it sits: at module level or inside a
function. A function-level import only defers the cycle to the first call, so it
counts as much as one at the top of the file. Imports under ``if TYPE_CHECKING:``
never run and are left out. A module that stores into another one's namespace or
objects (``autograd.Tensor = Tensor``) makes that module depend on it, as an
import back would.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tinyseq"

# Layers, low to high: a module may import its own layer and the layers below.
# A module's layer is that of the longest dotted prefix of its name listed here.
# tinyseq/__init__.py is the public surface, above everything; a package's
# __init__ may also import its own subpackages, whatever their layer.
LAYERS = {
    "tinyseq.backend": 0,  # devices and their array modules; a device kind's module loads by name
    "tinyseq.backends": 0,  # PyTorch's torch.backends switches
    "tinyseq.devices": 1,  # devices beyond cpu/cuda, each registering itself with the backend
    "tinyseq.cuda": 1,
    "tinyseq.random": 1,  # ts.Generator  # ts.cuda: device queries
    "tinyseq.accelerator": 1,
    "tinyseq.autograd": 2,
    "tinyseq.post_hooks": 2,
    "tinyseq._tensor": 3,
    "tinyseq.dtypes": 3,
    "tinyseq.factories": 3,
    "tinyseq.ops": 4,
    "tinyseq.gradcheck": 5,
    "tinyseq.data": 5,  # sequence data over tensors (padding, windows, batches): below nn, which pads
    "tinyseq.utils": 5,  # utils.data: PyTorch's Dataset / DataLoader
    "tinyseq.nn": 6,
    "tinyseq.optim": 7,
    "tinyseq.module_checkpoint": 7,  # whole modules as data: rebuilds nn modules
    "tinyseq.serialization": 7,
    "tinyseq.onnx": 7,
    "tinyseq.distributed": 7,
    "tinyseq.nn.parallel": 8,  # DistributedDataParallel: nn over distributed
    "tinyseq.viz": 8,
    "tinyseq": 9,  # the public surface
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import / ImportFrom node that can run, without walking into ``if TYPE_CHECKING:``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif _type_checking(node):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def _resolve(name: str) -> str | None:
    """The deepest tinyseq module that ``import name`` runs, or None for a foreign one."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


class Edge(NamedTuple):
    src: str  # the module that depends ...
    dst: str  # ... on this one
    file: Path  # where the dependency is written
    line: int
    how: str

    def __str__(self):
        return f"{self.file.relative_to(ROOT)}:{self.line} {self.how}"


def _path(name: str) -> str:
    return str(MODULES[name].relative_to(ROOT))


def _imported(src: str, node: ast.Import | ast.ImportFrom):
    """(module run, name bound, module owning what the name holds) for each name the statement binds."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            bound = alias.asname or alias.name.partition(".")[0]
            yield _resolve(alias.name), bound, _resolve(alias.name if alias.asname else bound)
        return
    base = node.module
    if node.level:
        base = src if is_package(src) else src.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        base = f"{base}.{node.module}" if node.module else base
    for alias in node.names:
        # `from pkg import name`: the submodule pkg.name when there is one, else pkg itself
        target = _resolve(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
        yield target, alias.asname or alias.name, target


def _set_root(target: ast.AST) -> ast.Name | None:
    """The name at the root of an attribute store (``a`` of ``a.b.c = ...``), or None for a plain store."""
    if not isinstance(target, ast.Attribute):
        return None
    while isinstance(target, ast.Attribute):
        target = target.value
    return target if isinstance(target, ast.Name) else None


def edges() -> list[Edge]:
    """Every dependency of a tinyseq module on another: each import, and each store into another
    module's namespace or objects (``autograd.Tensor = Tensor`` makes autograd depend on the setter)."""
    out = []
    for src, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        owners = {}
        for node in _imports(tree):
            for target, bound, owner in _imported(src, node):
                if owner is not None:
                    owners[bound] = owner
                if target is not None and target != src:
                    out.append(Edge(src, target, path, node.lineno, f"imports {_path(target)}"))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if not isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                continue
            for target in targets:
                root = _set_root(target)
                owner = owners.get(root.id) if root is not None else None
                if owner is not None and owner != src:
                    how = f"sets {ast.unparse(target)}, so {_path(owner)} depends on {_path(src)}"
                    out.append(Edge(owner, src, path, node.lineno, how))
    return out


def _layer_key(name: str) -> str:
    while name not in LAYERS:
        name = name.rpartition(".")[0]
    return name


def layer(name: str) -> int:
    return LAYERS[_layer_key(name)]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's, with an explicit stack)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_every_module_has_a_layer():
    assert {"tinyseq", "tinyseq.backend", "tinyseq.autograd", "tinyseq._tensor", "tinyseq.nn"} <= set(MODULES)
    unlisted = [m for m in MODULES if m != "tinyseq" and _layer_key(m) == "tinyseq"]
    assert not unlisted, f"give these modules a layer in LAYERS: {unlisted}"


def shortest_cycle(graph: dict[str, set[str]], start: str) -> list[str]:
    """The shortest path start -> ... -> start (breadth first), as its modules; [] when none."""
    parent, todo = {}, [start]
    while todo:
        nxt = []
        for node in todo:
            for child in sorted(graph[node]):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if child not in parent:
                    parent[child] = node
                    nxt.append(child)
        todo = nxt
    return []


def test_no_import_cycles():
    graph = {m: set() for m in MODULES}
    first = {}
    for edge in edges():
        graph[edge.src].add(edge.dst)
        first.setdefault((edge.src, edge.dst), edge)
    report = {}
    for component in cycles(graph):
        for start in component:  # the shortest cycle through each module of the tangle
            ring = shortest_cycle(graph, start)
            i = ring.index(min(ring))
            ring = ring[i:] + ring[:i]
            steps = [first[a, b] for a, b in zip(ring, ring[1:] + ring[:1])]
            report[tuple(ring)] = " -> ".join(ring + ring[:1]) + ":\n" + "\n".join(f"    {e}" for e in steps)
    assert not report, "import cycles:\n" + "\n".join(report[k] for k in sorted(report))


def test_no_module_imports_above_its_layer():
    bad = []
    for edge in edges():
        if edge.src == "tinyseq" or layer(edge.dst) <= layer(edge.src):
            continue
        if is_package(edge.src) and edge.dst.startswith(edge.src + "."):
            continue  # a package's __init__ gathers its own subpackages
        bad.append(f"{edge} (layer {layer(edge.src)} -> {layer(edge.dst)})")
    assert not bad, "dependencies above the dependent module's layer:\n" + "\n".join(bad)
