"""The fast sequence engine: one layer direction as the lecture's unrolled graph.

Over a (T, B, I) input a direction records

    InputProjection(x, W_ih[, b_ih, b_hh]) -> gx (T, B, G*H)   x_t W_ih^T + b for every t: one GEMM
    SharedWeight(W_hh) -> W_hh                                  one per weight that the steps read
    LSTMStep / GRUStep / RNNStep(gx, h_{t-1}[, c_{t-1}], W_hh, ...) -> h_t[, c_t]     step t, reads gx[t] (steps.py)
    RecurrentOutput(h_0', ..., h_T-1') -> (T, B, P)             the step outputs, stacked

Every edge is a real dependency: step t reads its slice of gx, the previous
state and the shared weights, and returns a gradient for each of them. Per step
the graph holds one node (tagged t and its cell id) with those parents; the
step's saved state is (sequence, t, the cell kernel's saved arrays, row mask).

Speed comes from *when* those gradients are evaluated, not from hiding them.
Step t's gradient for W_hh is dgates_t^T h_{t-1}, for gx it is dgates_t in
slice t. The step returns such a term as a ``StepTerms`` (the steps it sums
over, and the buffers that hold their factors); the engine adds terms that
meet on the same edge by merging their step lists, and the consumer node
evaluates the whole sum when it runs, after every step (it was made before
them): SharedWeight computes dW_hh = sum_t dgates_t^T h_{t-1} =
DG^T H_prev as one GEMM, InputProjection reads dgates of all steps as the one
(T, B, G*H) buffer they were written into, instead of T small products or
T scattered slices. A term evaluated alone (``dense()``) is exactly that
step's gradient, which is what the gradient-flow drawings and anomaly mode see.

The steps write into (T, B, ...) buffers of one ``RecurrentSequence`` and
allocate nothing; the buffers that never leave the layer go back to the
``workspace`` once backward has released the graph, and the next call reuses
them (see Workspace).
"""

from __future__ import annotations

from ...autograd import Function, Terms, dense
from ...ops.fused.kernels import cell_kernels


class Workspace:
    """Spare arrays for the recurrent layers' internal buffers, kept from one call to the next.

    A training step of a recurrent layer needs several (T, B, G*H) buffers;
    taking fresh memory for them on every step costs more than it seems (on
    Linux, large arrays come from new pages that the kernel zero-fills on first
    touch: 5-8% of a step at batch 32, seq 50, hidden 256). Buffers that never
    leave the layer (activations, tanh(c), gate gradients, the W_hh^T copy)
    come back here once backward has released the graph that used them, and the
    next call takes them again. At most ``limit`` bytes are kept, two arrays of
    a shape at most; ``clear()`` drops them all (the module's ``workspace``)."""

    def __init__(self, limit=512 * 2**20):
        self.limit = limit
        self.spare: dict = {}  # (id(xp), shape, dtype) -> [arrays]
        self.nbytes = 0

    def take(self, xp, shape, dtype):
        """An array of ``shape`` and ``dtype`` (uninitialised), spare or new."""
        spare = self.spare.get((id(xp), shape, dtype))
        if spare:
            a = spare.pop()
            self.nbytes -= a.nbytes
            return a
        return xp.empty(shape, dtype=dtype)

    def give(self, xp, *arrays):
        """Keep these arrays (None skipped) for later calls; nothing else may use them."""
        for a in arrays:
            if a is None:
                continue
            spare = self.spare.setdefault((id(xp), a.shape, a.dtype), [])
            if len(spare) < 2 and self.nbytes + a.nbytes <= self.limit:
                spare.append(a)
                self.nbytes += a.nbytes

    def clear(self):
        self.spare.clear()
        self.nbytes = 0


workspace = Workspace()


class StepTerms(Terms):
    """A gradient kept as the list of steps of one sequence whose terms it sums.

    The subclass names the sum (``what``, see ``RecurrentSequence.sum_terms``):
    "gx" (step t's gate gradients in slice t of a (T, B, G*H) array), "w_hh",
    "b_hh" or "w_hr" (the sum over the steps of their weight-gradient terms).
    The list itself holds the steps' time indices: where two terms of one sum
    meet, the engine joins them with ``extend`` (see autograd.Terms). Steps make
    one per input per time step (see ``RecurrentSequence.start_backward``).
    """

    __slots__ = ("seq", "shape")
    what = None

    @property
    def dtype(self):
        return self.seq.hs.dtype

    def dense(self):
        """The value of the sum: an array of ``shape``."""
        return self.seq.sum_terms(self.what, self)

    def __add__(self, other):
        if other.__class__ is self.__class__ and other.seq is self.seq:
            return self.__class__.of(self.seq, [*self, *other])
        return self.dense() + other

    __iadd__ = __add__  # never grow a list that someone else may hold

    def __radd__(self, other):
        return other + self.dense()

    @classmethod
    def of(cls, seq, steps):
        terms = cls(steps)
        terms.seq, terms.shape = seq, seq.term_shapes[cls.what]
        return terms


TERMS = {what: type(f"StepTerms_{what}", (StepTerms,), {"__slots__": (), "what": what})
         for what in ("gx", "w_hh", "b_hh", "w_hr")}  # fmt: skip


class RecurrentSequence:
    """Buffers shared by the nodes of one layer direction over one input.

    kind "lstm" | "gru" | "rnn"; T steps of B rows; gate blocks G*H wide; states
    P wide (P = proj_size, or H). Time-indexed device arrays:

    gx  (T, B, G*H)   every step's input projection (InputProjection's output);
                      step t turns its slice into its activations in place (they
                      are what its backward needs; the steps are gx's only readers)
    hs  (T+1, B, P)   states: step t reads hs[t] and writes hs[t+1] (forward in
                      time) or reads hs[t+1] and writes hs[t] (reverse)
    cs, tcs (T, B, H) LSTM: step t's cell state and its tanh (kept for backward)
    gh  (T, B, 3H)    GRU: step t's h W_hh^T + b_hh (kept for backward)
    dg  (T, B, G*H)   gate gradients written by the steps' backward (GRU: x side;
                      dgh: h side); the factors of their StepTerms
    hf  (T, B, H), dhp (T, B, P)   LSTM with a projection: h before W_hr, and the
                      gradient of h after it
    masks (T, B, 1) bool or None: a row keeps its state where its mask is False.

    A step writes its slice of each buffer and nothing else, so a step allocates
    nothing on the way forward. The gradient buffers live from the first step
    that backward reaches until the last node that sums terms over them
    (``consumers``: InputProjection and the SharedWeight nodes that were
    recorded) has run; the forward buffers until the last of those is released.
    """

    def __init__(self, kind, reverse=False, bias=True, proj=False, masks=None, nonlinearity="tanh"):
        self.kind, self.reverse, self.bias, self.proj = kind, reverse, bias, proj
        self.masks, self.nonlinearity = masks, nonlinearity
        self.plain = masks is None and not proj  # RNN and LSTM steps' short path: no masks, no projection
        self.dg = self.dgh = self.dhp = self.hf = self.cs = self.tcs = self.gh = None
        # the sums a step sends terms to, besides gx: the shared inputs it reads, in its input order
        self.shared = ("w_hh",) + (("b_hh",) if kind == "gru" and bias else ()) + (("w_hr",) if proj else ())
        self.consumers = self.waiting = self.released = 0

    def start(self, backend, T, B, w_hh, b_hh, w_hr):
        """Allocate the buffers of a forward pass (arrays: W_hh (G*H, P), the GRU's b_hh, W_hr)."""
        xp = self.xp = backend.xp
        G, P = w_hh.shape
        dtype = w_hh.dtype
        take = workspace.take
        self.T, self.B = T, B
        self.gx = take(xp, (T, B, G), dtype)
        self.w_hh, self.b_hh, self.w_hr = w_hh, b_hh, w_hr
        # h @ W^T runs T times: against a contiguous copy of W^T it is a plain (not
        # transposed) GEMM, which BLAS runs without repacking W for small batches:
        # 2x faster at batch 1, ~20% at batch 32. The copy pays off from a few steps.
        self.w_hh_t, self.w_hh_copied = w_hh.T, T >= 8 or T * B >= 128
        if self.w_hh_copied:
            self.w_hh_t = backend.transpose_into(take(xp, (P, G), dtype), w_hh)
        self.w_hr_t = None if w_hr is None else backend.transpose_into(xp.empty(w_hr.shape[::-1], dtype), w_hr)
        self.hs = xp.empty((T + 1, B, P), dtype=dtype)
        self.term_shapes = {"gx": (T, B, G), "w_hh": (G, P), "b_hh": (G,)}
        if self.kind == "lstm":
            H = G // 4
            self.cs = xp.empty((T, B, H), dtype=dtype)  # c_n is a view of it: never recycled
            self.tcs = take(xp, (T, B, H), dtype)
        elif self.kind == "gru":
            self.gh = take(xp, (T, B, G), dtype)
        if w_hr is not None:
            self.hf = take(xp, (T, B, w_hr.shape[1]), dtype)
            self.term_shapes["w_hr"] = w_hr.shape
        self.scratch = xp.empty((B, G), dtype=dtype)
        self.first = T - 1 if self.reverse else 0
        self.ahead = 0 if self.reverse else 1  # step t writes hs[t + ahead], reads hs[t + 1 - ahead]
        self.cell_forward, self.cell_backward = cell_kernels(backend, self.kind + "_cell")

    def h_prev_all(self):
        """(T, B, P): the state each step read, by time index."""
        return self.hs[1:] if self.reverse else self.hs[:-1]

    def start_backward(self, step):
        """Called by the first step that backward reaches (the last one in time): allocate the
        gradient buffers and note which inputs want gradients (every step has the same ones)."""
        shape, dtype, xp = self.gx.shape, self.gx.dtype, self.xp
        self.dg = workspace.take(xp, shape, dtype)
        if self.kind == "gru":
            self.dgh = workspace.take(xp, shape, dtype)
        if self.proj:
            self.dhp = workspace.take(xp, (self.T,) + self.hs.shape[1:], dtype)
        first = len(step.parents) - len(self.shared)
        want = [(0, "gx")] + [(first + i, w) for i, w in enumerate(self.shared)]
        self.gx_make, *self.shared_make = [(TERMS[w], self.term_shapes[w]) if step.needs(i) else None for i, w in want]
        self.plain_make = (*(self.gx_make or (None, None)), *(self.shared_make[0] or (None, None)))
        self.waiting = self.consumers

    def terms_at(self, t):
        """Step t's gradients for gx and for the shared inputs (a tuple), as one-step StepTerms.
        (Made when the step's backward runs: nothing that lives on may hold them, or the
        sequence and its terms would hold each other.)"""
        gx = self.gx_make
        if gx is not None:
            cls, shape = gx
            gx = cls((t,))
            gx.seq = self
            gx.shape = shape
        shared = []
        for made in self.shared_make:
            if made is not None:
                cls, shape = made
                made = cls((t,))
                made.seq = self
                made.shape = shape
            shared.append(made)
        return gx, tuple(shared)

    def plain_terms(self, t):
        """terms_at for the steps' short path, whose only shared input is W_hh: (gx term,
        W_hh term), either None when not wanted. (Without terms_at's loops: this runs per step.)"""
        G, g_shape, W, w_shape = self.plain_make
        if G is not None:
            G = G((t,))
            G.seq = self
            G.shape = g_shape
        if W is not None:
            W = W((t,))
            W.seq = self
            W.shape = w_shape
        return G, W

    def sum_terms(self, what, ts):
        """Evaluate the sum of the steps ``ts``' terms of ``what`` (see StepTerms)."""
        xp, T = self.xp, self.T
        full = len(ts) == T  # every step sends one term per backward pass, so this means all of them
        steps = None if full else sorted(ts)
        if what == "gx":
            if full:
                return self.dg  # the steps wrote their slices into it: no copy, no sum
            out = xp.zeros_like(self.dg)
            out[steps] = self.dg[steps]
            return out
        # (xp.dot: for 2-D arrays it is matmul, without its slow path for a single row (T*B = 1))
        pick = (lambda a: a) if full else (lambda a: a[steps])
        if what == "w_hh":  # dW_hh = sum_t dgates_t^T h_{t-1} = DG^T H_prev: one GEMM
            dg = pick(self.dg if self.dgh is None else self.dgh)
            h = pick(self.h_prev_all())
            return xp.dot(dg.reshape(-1, dg.shape[-1]).T, h.reshape(-1, h.shape[-1]))
        if what == "b_hh":  # column sums as a matrix-vector product: several times faster than sum(0)
            dg = pick(self.dgh).reshape(-1, self.dgh.shape[-1])
            return xp.dot(xp.ones(dg.shape[0], dtype=dg.dtype), dg)
        dhp, hf = pick(self.dhp), pick(self.hf)  # "w_hr": sum_t dh_t^T hf_t
        return xp.dot(dhp.reshape(-1, dhp.shape[-1]).T, hf.reshape(-1, hf.shape[-1]))

    def consumed(self):
        """A consumer has summed its terms; after the last, the gradient buffers go back."""
        self.waiting -= 1
        if self.waiting == 0:
            workspace.give(self.xp, self.dg, self.dgh, self.dhp)
            self.dg = self.dgh = self.dhp = None

    def release(self):
        """A consumer's graph was freed; after the last, so are the internal forward buffers."""
        self.released += 1
        if self.released == self.consumers and self.gx is not None:
            w_hh_t = self.w_hh_t if self.w_hh_copied else None  # not a view of the parameter itself
            workspace.give(self.xp, self.gx, w_hh_t, self.tcs, self.gh, self.hf)
            self.gx = self.w_hh_t = self.tcs = self.gh = self.hf = None


class _SumsTerms(Function):
    """A node that sums the StepTerms of one sequence's steps (their consumer)."""

    fresh_grads = True  # every gradient is a new product, so the leaves keep them uncopied

    def release(self):
        # Backward runs this node after every step of its sequence, so when the graph
        # is not retained, nothing reads the sequence's internal buffers after it.
        seq = self.saved[0] if self.saved else None
        super().release()
        if seq is not None:
            seq.release()


class InputProjection(_SumsTerms):
    """x_t W_ih^T + b for every step at once.

    x (T, B, I), W_ih (G*H, I)[, b_ih (G*H,)[, b_hh (G*H,)]] -> gx (T, B, G*H), as one
    (T*B, I) @ (I, G*H) GEMM (b_hh is here for RNN and LSTM; a GRU's sits inside
    r * (...) in its steps). Backward: dx = DG W_ih, dW_ih = DG^T X, db = column
    sums of DG, with DG (T, B, G*H) all steps' gate gradients."""

    saved_inputs = (0, 1)

    def uses_saved_input(self, i):  # x for dW_ih, W_ih for dx
        return self.needs(1 - i)

    def forward(self, x, w_ih, *biases, seq):
        T, B, I = x.shape
        x2 = x.reshape(T * B, I)
        self.xp.matmul(x2, w_ih.T, out=seq.gx.reshape(T * B, -1))
        if biases:
            seq.gx += biases[0] if len(biases) == 1 else biases[0] + biases[1]  # one pass over gx
        self.saved = (seq, x2, w_ih)
        return seq.gx

    def backward(self, g):
        seq, x2, w_ih = self.saved
        need, dot = self.needs, self.xp.dot  # dot: see RecurrentSequence.sum_terms
        dg = dense(g).reshape(x2.shape[0], -1)
        grads = [
            dot(dg, w_ih).reshape(seq.T, seq.B, -1) if need(0) else None,
            dot(dg.T, x2) if need(1) else None,
        ]
        if len(self.parents) > 2:
            ones = self.xp.ones(dg.shape[0], dtype=dg.dtype)
            db = dot(ones, dg) if any(need(i) for i in range(2, len(self.parents))) else None
            grads.append(db if need(2) else None)
            if len(self.parents) > 3:  # both biases sit in one sum: the same gradient, as two arrays
                grads.append((db.copy() if need(2) else db) if need(3) else None)
        seq.consumed()
        return tuple(grads)


class SharedWeight(_SumsTerms):
    """A weight that every step of a sequence reads: W -> W, unchanged.

    Each step lists this node's output among its inputs and sends it its term
    of the weight's gradient (``what``: "w_hh" dgates_t^T h_{t-1}; "b_hh" the
    GRU's h-side gate gradients summed over the batch; "w_hr" dh_t^T hf_t).
    Backward evaluates dW = sum over the ``steps`` steps of those terms, as one GEMM."""

    saved_inputs = (0,)  # every step's backward reads W
    view = True  # the output is the weight itself

    def forward(self, w, seq, what):
        self.saved = (seq,)
        self.what, self.steps = what, seq.T
        return w

    def backward(self, g):
        seq = self.saved[0]
        dw = dense(g)
        seq.consumed()
        return dw


class RecurrentOutput(Function):
    """The step outputs h_t (B, P), given in time order, stacked into one (T, B, P) tensor.

    A copy of the steps' state buffer, which their backward reads: so that the
    output, h_n and the buffer never share memory (an in-place change of one
    must not reach another, as in PyTorch). The per-step gradients are views."""

    def forward(self, *hs, seq):
        return (seq.hs[: seq.T] if seq.reverse else seq.hs[1:]).copy()

    def backward(self, g):
        return tuple(g)  # g[0], g[1], ...: one view per step
