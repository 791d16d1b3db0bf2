"""The cells' equations, composed from primitive ops: the readable twin of the fused ops.

As PyTorch states them (gate order as its weight rows):

    RNN:   h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)                  (or relu)
    LSTM:  i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh)
           c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
           h' = sigmoid(o) * tanh(c')                         (then h' W_hr^T with a projection)
    GRU:   r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
           z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
           n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
           h' = (1 - z) * n + z * h

The convolutional cells use the same equations on feature maps (B, C, H, W), with
the products W x turned into convolutions (optional peephole terms on the LSTM).
One graph node per operation: what ``ts.viz.draw(detail="op")`` shows, and what
the fused ops (``tinyseq.ops.fused``) are tested against, to 1e-12 in float64.
"""

from __future__ import annotations

from ... import ops
from .. import functional as F

# What the drawer prints on the nodes of the equations (ts.viz.draw(detail="op")): the
# lecture's names for the gates and states. Fused steps are drawn with the same labels.
GATE_LABELS = {
    "i": "i = σ(·)  input",
    "f": "f = σ(·)  forget",
    "g": "g = tanh(·)  c̃",
    "o": "o = σ(·)  output",
    "f*c": "f · c",
    "i*g": "i · g",
    "c": "c = f·c + i·g",
    "tanh c": "tanh(c)",
    "h": "h = o · tanh(c)",
    "r": "r = σ(·)  reset",
    "z": "z = σ(·)  update",
    "r*hn": "r · (h W_hnᵀ + b_hn)",
    "n": "n = tanh(·)  new",
    "z*h": "z · h",
    "h_gru": "h = (1 − z)·n + z·h",
    "h_tanh": "h = tanh(·)",
    "h_relu": "h = relu(·)",
}


def named(t, key):
    """Give the node that made ``t`` its name in the equations (``GATE_LABELS[key]``); returns ``t``.

    One attribute on the node: the drawer shows it, nothing else reads it."""
    fn = t._ctx
    if fn is not None:
        fn.label = GATE_LABELS[key]
    return t


def rnn_cell(pre, nonlinearity="tanh"):
    """pre (B, H) = x W_ih^T + b_ih + h W_hh^T + b_hh (or any shape) -> h' of its shape."""
    return named(pre.tanh(), "h_tanh") if nonlinearity == "tanh" else named(pre.relu(), "h_relu")


def lstm_cell(gates, c, w_hr=None):
    """gates (B, 4H) = x W_ih^T + b_ih + h W_hh^T + b_hh, c (B, H) -> (h', c').

    h' is (B, H), or (B, P) through the projection ``w_hr`` (P, H)."""
    i, f, g, o = gates.chunk(4, dim=-1)
    i, f, g, o = named(i.sigmoid(), "i"), named(f.sigmoid(), "f"), named(g.tanh(), "g"), named(o.sigmoid(), "o")
    c = named(named(f * c, "f*c") + named(i * g, "i*g"), "c")
    h = named(o * named(c.tanh(), "tanh c"), "h")
    if w_hr is not None:
        h = h @ w_hr.T
    return h, c


def gru_cell(gx, gh, h):
    """gx (B, 3H) = x W_ih^T + b_ih, gh (B, 3H) = h W_hh^T + b_hh, h (B, H) -> h' (B, H)."""
    x_r, x_z, x_n = gx.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = named((x_r + h_r).sigmoid(), "r")
    z = named((x_z + h_z).sigmoid(), "z")
    n = named((x_n + named(r * h_n, "r*hn")).tanh(), "n")
    return named((1 - z) * n + named(z * h, "z*h"), "h_gru")


# -- the convolutional cells: maps (B, C, H, W), products as "same" convolutions -------------
def conv(x, weight, bias=None):
    return F.conv2d(x, weight, bias, padding="same")


def conv_lstm_cell(xg, hg, c, peep):
    """xg, hg (B, 4h, H, W) gate pre-activations of frame and state (hg None: zero
    state); c (B, h, H, W) or None (zero); peep: (w_ci, w_cf, w_co) (h, 1, 1) or None.
    -> (h', c'), with i = σ(i + w_ci ∘ c), f = σ(f + w_cf ∘ c), o = σ(o + w_co ∘ c')."""
    i, f, g, o = ops.chunk(xg if hg is None else xg + hg, 4, dim=1)
    if peep is not None and c is not None:
        i = i + peep[0] * c
        f = f + peep[1] * c
    # with c = 0, c' is i * g itself
    c_new = named(named(ops.sigmoid(i), "i") * named(ops.tanh(g), "g"), "c" if c is None else "i*g")
    if c is not None:
        c_new = named(named(named(ops.sigmoid(f), "f") * c, "f*c") + c_new, "c")
    if peep is not None:
        o = o + peep[2] * c_new
    return named(named(ops.sigmoid(o), "o") * named(ops.tanh(c_new), "tanh c"), "h"), c_new


def conv_gru_cell(xg, hg, h, bias_hn):
    """xg (B, 3h, H, W) frame part incl. bias; hg the state part or None (h == 0);
    bias_hn (h, 1, 1) or None -> h' (B, h, H, W)."""
    xr, xz, xn = ops.chunk(xg, 3, dim=1)
    if hg is None:
        # h = 0: the state convolution is zero; only b_hn survives inside the reset product
        r, z = named(ops.sigmoid(xr), "r"), named(ops.sigmoid(xz), "z")
        n = named(ops.tanh(xn + r * bias_hn) if bias_hn is not None else ops.tanh(xn), "n")
        return named(n - z * n, "h_gru")
    hr, hz, hn = ops.chunk(hg, 3, dim=1)
    r, z = named(ops.sigmoid(xr + hr), "r"), named(ops.sigmoid(xz + hz), "z")
    if bias_hn is not None:
        hn = hn + bias_hn
    n = named(ops.tanh(xn + named(r * hn, "r*hn")), "n")
    return named(n + z * (h - n), "h_gru")  # = (1 - z) n + z h
