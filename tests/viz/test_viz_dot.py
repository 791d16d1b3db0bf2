"""Reading back the DOT text that ts.viz.draw writes: helpers for the viz tests, and their own test."""

import re

_NODE = re.compile(r"^\t+(\w+) \[(.*)\]$")
_EDGE = re.compile(r"^\t+(\w+)(?::\w+)? -> (\w+)(?::\w+)?(?: \[(.*)\])?$")  # a port (n:ne) is dropped
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^ \]]+)')
_CLUSTER = re.compile(r'subgraph (cluster_\w+) \{\n\t+graph \[label="((?:[^"\\]|\\.)*)"(.*)\]')


def attrs(text):
    return {k: v[1:-1] if v.startswith('"') else v for k, v in _ATTR.findall(text or "")}


def nodes(src):
    """name -> attributes of every node statement."""
    out = {}
    for line in src.splitlines():
        m = _NODE.match(line)
        if m and m.group(1) not in ("graph", "node", "edge") and "->" not in line:
            out[m.group(1)] = attrs(m.group(2))
    return out


def edges(src):
    """[(src, dst, attributes)] of every edge statement."""
    out = []
    for line in src.splitlines():
        m = _EDGE.match(line)
        if m:
            out.append((m.group(1), m.group(2), attrs(m.group(3))))
    return out


def clusters(src):
    """[(label, attributes)] of every cluster, in order."""
    return [(m.group(2), attrs(m.group(3))) for m in _CLUSTER.finditer(src)]


def labelled(src, first_line):
    """Names of the nodes whose label's first line is ``first_line``."""
    return [n for n, a in nodes(src).items() if a.get("label", "").split("\\n")[0] == first_line]


def step_name(label, row):
    """(full step name, row) for a cluster label: a row is named on its first step only
    ("layer 0 →   t=0", then "t=1" ...); the full name is "layer 0 → · t=1"."""
    head, sep, t = label.rpartition("t=")
    if not sep:
        return None, row
    head = head.strip()
    row = head or row
    return (f"{row} · t={t.split()[0]}" if row else f"t={t.split()[0]}"), row


def step_names(src):
    """Full names of the step clusters, in order (the cluster of elided steps has none)."""
    out, row = [], ""
    for label, _ in clusters(src):
        name, row = step_name(label, row)
        if name:
            out.append(name)
    return out


def members(src):
    """full step name (see step_name) -> names of the nodes declared inside that cluster."""
    out = {}
    label = row = None
    row = ""
    for line in src.splitlines():
        if line.startswith("\tsubgraph cluster_"):
            label = ""
        elif label == "" and line.startswith("\t\tgraph [label="):
            label, row = step_name(attrs(line[len("\t\tgraph [") : -1])["label"], row)
            label = label or "…"
            out[label] = []
        elif line == "\t}":
            label = None
        elif label:
            m = _NODE.match(line)
            if m:
                out[label].append(m.group(1))
    return out


def test_the_readers_on_a_drawing():
    import tinyseq as ts

    w = ts.randn(2, 2, requires_grad=True)
    h = ts.randn(1, 2)
    for t in range(2):
        with ts.viz.step(t):
            h = (h @ w).tanh()
    src = ts.viz.draw(h, params={"w": w}).source
    assert [label for label, _ in clusters(src)] == ["t=0", "t=1"]
    assert weights(src) == {"w": "(2, 2)"}
    inside = members(src)
    assert sorted(nodes(src)[n]["label"] for n in inside["t=1"]) == ["MatMul · w", "Tanh"]
    (mm0,) = [n for n in inside["t=0"] if nodes(src)[n]["label"] == "MatMul · w"]
    (h0,) = labelled(src, "h₀")
    assert (h0, mm0) in {(s, d) for s, d, _ in edges(src)}

def weights(src):
    """name -> shape text of the parameters listed in the rows' weight nodes."""
    out = {}
    for a in nodes(src).values():
        lines = a.get("label", "").split("\\n")
        if lines[0] == "shared by every step:":
            for line in lines[1:]:
                name, _, shape = line.partition("  ")
                out[name] = shape
    return out
