"""A fused recurrent step, drawn as the lecture's equations (``draw(detail="op")``).

A fused step is one graph node whose backward is written by hand. Drawn at
detail="op", it expands into the nodes that the composed cell
(``tinyseq.nn.recurrent.equations``, ``fused=False``) records for the same step, with
the same labels, so both paths give the same picture. Nothing is re-run:
the expansion is a drawing of the equations, wired to the step's inputs.

A template is a list of ``(name, label, sources)``: ``label`` is a key of
``GATE_LABELS`` or an op name (drawn as ``OP_LABELS`` shows it); a source is
an input position of the fused node (an int) or an earlier name. ``outputs``
names the node behind each output of the fused node.
"""

from __future__ import annotations

from ..nn.recurrent.equations import GATE_LABELS

# A composed cell's node carries its label; the drawing places it by its key.
GATE_KEYS = {label: key for key, label in GATE_LABELS.items()}

# How detail="op" labels the primitive ops that carry no gate name.
OP_LABELS = {"MatMul": "matmul", "Add": "+", "Sub": "−", "Mul": "×", "Sigmoid": "σ", "Tanh": "tanh", "Relu": "relu"}


def _lstm_gates(pre, c_prev):
    return [
        ("i", "i", [pre]), ("f", "f", [pre]), ("g", "g", [pre]), ("o", "o", [pre]),
        ("fc", "f*c", ["f", c_prev]), ("ig", "i*g", ["i", "g"]), ("c", "c", ["fc", "ig"]),
        ("tc", "tanh c", ["c"]), ("h", "h", ["o", "tc"]),
    ]  # fmt: skip


def _gru_gates(gx, gh, h_prev):
    return [
        ("ar", "Add", [gx, gh]), ("r", "r", ["ar"]), ("az", "Add", [gx, gh]), ("z", "z", ["az"]),
        ("rh", "r*hn", ["r", gh]), ("an", "Add", [gx, "rh"]), ("n", "n", ["an"]),
        ("omz", "Sub", ["z"]), ("m", "Mul", ["omz", "n"]), ("zh", "z*h", ["z", h_prev]), ("h", "h_gru", ["m", "zh"]),
    ]  # fmt: skip


def _pre_cell(n, w_ih, w_hh, b_ih, b_hh):
    """x W_ih^T + b_ih + h W_hh^T + b_hh, as ``_Cell._pre`` composes it (x at 0, h at 1)."""
    nodes = [("mx", "MatMul", [0, w_ih])]
    last = "mx"
    if n > b_ih:
        nodes.append(("bx", "Add", ["mx", b_ih]))
        last = "bx"
    nodes += [("mh", "MatMul", [1, w_hh]), ("pre", "Add", [last, "mh"])]
    if n > b_hh:
        nodes.append(("pre2", "Add", ["pre", b_hh]))
        return nodes, "pre2"
    return nodes, "pre"


def template(fn, n_inputs: int):
    """(nodes, outputs) for a fused recurrent node, or None for any other node."""
    name = fn.name
    if name == "LSTMStep":  # (gx, h_prev, c_prev, W_hh[, W_hr]) -> (h, c)
        nodes = [("mh", "MatMul", [1, 3]), ("pre", "Add", [0, "mh"]), *_lstm_gates("pre", 2)]
        if n_inputs > 4:
            nodes.append(("proj", "MatMul", ["h", 4]))
            return nodes, ("proj", "c")
        return nodes, ("h", "c")
    if name == "GRUStep":  # (gx, h_prev, W_hh[, b_hh]) -> h
        nodes = [("mh", "MatMul", [1, 2])]
        gh = "mh"
        if n_inputs > 3:
            nodes.append(("gh", "Add", ["mh", 3]))
            gh = "gh"
        return nodes + _gru_gates(0, gh, 1), ("h",)
    if name == "RNNStep":  # (gx, h_prev, W_hh) -> h
        act = "h_relu" if getattr(fn, "nonlinearity", "tanh") == "relu" else "h_tanh"
        return [("mh", "MatMul", [1, 2]), ("pre", "Add", [0, "mh"]), ("h", act, ["pre"])], ("h",)
    if name == "LSTMCellOp":  # (x, h, c, W_ih, W_hh[, b_ih, b_hh]) -> (h, c)
        nodes, pre = _pre_cell(n_inputs, 3, 4, 5, 6)
        return nodes + _lstm_gates(pre, 2), ("h", "c")
    if name == "GRUCellOp":  # (x, h, W_ih, W_hh[, b_ih, b_hh]) -> h
        nodes = [("mx", "MatMul", [0, 2]), ("mh", "MatMul", [1, 3])]
        gx, gh = "mx", "mh"
        if n_inputs > 4:
            nodes += [("bx", "Add", ["mx", 4]), ("bh", "Add", ["mh", 5])]
            gx, gh = "bx", "bh"
        return nodes + _gru_gates(gx, gh, 1), ("h",)
    if name == "RNNCellOp":  # (x, h, W_ih, W_hh[, b_ih, b_hh]) -> h
        nodes, pre = _pre_cell(n_inputs, 2, 3, 4, 5)
        act = "h_relu" if getattr(fn, "nonlinearity", "tanh") == "relu" else "h_tanh"
        return nodes + [("h", act, [pre])], ("h",)
    if name == "ConvLSTMCellOp":  # (xg[, hg][, c]) -> (h, c), as equations.conv_lstm_cell composes it
        has_h, has_c = getattr(fn, "has", (n_inputs > 1, n_inputs > 2))
        nodes, pre = [], 0
        if has_h:
            nodes.append(("pre", "Add", [0, 1]))
            pre = "pre"
        nodes += [("i", "i", [pre]), ("g", "g", [pre])]
        if has_c:
            nodes += [("ig", "i*g", ["i", "g"]), ("f", "f", [pre]), ("fc", "f*c", ["f", n_inputs - 1]),
                      ("c", "c", ["fc", "ig"])]  # fmt: skip
        else:
            nodes.append(("c", "c", ["i", "g"]))
        return nodes + [("o", "o", [pre]), ("tc", "tanh c", ["c"]), ("h", "h", ["o", "tc"])], ("h", "c")
    return None


def label_of(key: str) -> str:
    """The text of a template node's label key."""
    return GATE_LABELS.get(key) or OP_LABELS.get(key, key)
