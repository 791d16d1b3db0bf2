"""The import graph of ``tinyseq``: no cycles, and no module imports above its layer.

Every module under ``tinyseq/`` is parsed (nothing is imported) and every import
of a tinyseq module is an edge, wherever it sits: at module level or inside a
function. A function-level import only defers the cycle to the first call, so it
counts as much as one at the top of the file. Imports under ``if TYPE_CHECKING:``
never run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

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
    "tinyseq.cuda": 1,  # ts.cuda: device queries
    "tinyseq.accelerator": 1,
    "tinyseq.autograd": 2,
    "tinyseq.tensor": 3,
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


def edges() -> list[tuple[str, str, int]]:
    """(importer, imported, line) for every import of a tinyseq module by a tinyseq module."""
    out = []
    for src, path in MODULES.items():
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = src if is_package(src) else src.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module
                # `from pkg import name`: the submodule pkg.name when there is one, else pkg itself
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            for target in dict.fromkeys(_resolve(t) for t in targets):
                if target is not None and target != src:
                    out.append((src, target, node.lineno))
    return out


def _layer_key(name: str) -> str:
    while name not in LAYERS:
        name = name.rpartition(".")[0]
    return name


def layer(name: str) -> int:
    return LAYERS[_layer_key(name)]


def where(src: str, dst: str, line: int) -> str:
    return f"{MODULES[src].relative_to(ROOT)}:{line} imports {MODULES[dst].relative_to(ROOT)}"


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
    assert {"tinyseq", "tinyseq.backend", "tinyseq.autograd", "tinyseq.tensor", "tinyseq.nn"} <= set(MODULES)
    unlisted = [m for m in MODULES if m != "tinyseq" and _layer_key(m) == "tinyseq"]
    assert not unlisted, f"give these modules a layer in LAYERS: {unlisted}"


def test_no_import_cycles():
    graph = {m: set() for m in MODULES}
    lines = {}
    for src, dst, line in edges():
        graph[src].add(dst)
        lines.setdefault((src, dst), line)
    report = []
    for component in cycles(graph):
        inside = sorted((s, d) for s in component for d in graph[s] if d in component)
        report.append("cycle among " + ", ".join(component) + ":\n" + "\n".join(
            "    " + where(s, d, lines[s, d]) for s, d in inside))  # fmt: skip
    assert not report, "\n".join(report)


def test_no_module_imports_above_its_layer():
    bad = []
    for src, dst, line in edges():
        if src == "tinyseq" or layer(dst) <= layer(src):
            continue
        if is_package(src) and dst.startswith(src + "."):
            continue  # a package's __init__ gathers its own subpackages
        bad.append(f"{where(src, dst, line)} (layer {layer(src)} -> {layer(dst)})")
    assert not bad, "imports above the importer's layer:\n" + "\n".join(bad)
