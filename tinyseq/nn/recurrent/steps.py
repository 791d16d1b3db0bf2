"""The step nodes of the sequence engine: one node per time step of a layer direction.

``_Step.unroll`` runs and records the steps of one ``RecurrentSequence`` (see
``sequence``): step t reads its slice of the input projection, the previous
state and the shared weights, writes its slice of the sequence's buffers, and
on the way back returns a dense gradient for the state and one-step StepTerms
for the projection and the shared weights.
"""

from __future__ import annotations

from ..._tensor import Tensor
from ...autograd import Function, check_versions, current_scope, is_anomaly_enabled, scope
from .sequence import RecurrentOutput


class _Step(Function):
    """Shared by the step nodes of a layer direction (see RecurrentSequence).

    Inputs: gx (the whole (T, B, G*H) projection; step t reads slice t), the
    previous state(s), then the shared weights in ``seq.shared`` order. Backward
    returns one-step StepTerms for gx and the shared weights, and dense
    gradients for the states.

    Steps run once per time step and per batch, so their code keeps to local
    names and plain branches; the masked (``lengths``) and projected cases take
    the longer paths. Their products use ``xp.dot``: for 2-D arrays it is matmul
    with less overhead per call (CuPy's matmul is a generalized ufunc, with
    Python-side dispatch)."""

    fresh_grads = True  # each returns new arrays (and StepTerms, made for the call)

    @classmethod
    def unroll(cls, gx, h, c, weights, seq, cell, ids):
        """Run every step of ``seq``, in time order (reversed for a reverse direction).

        gx: InputProjection's output; h, c: the initial states (c None but for
        an LSTM); weights: the SharedWeight outputs, in ``seq.shared`` order;
        cell, ids: the name and the id counter of the ``cell`` scope tag.
        Returns (RecurrentOutput's (T, B, P) stack of the step outputs, the last h,
        the last c).

        Each step is one node tagged (t=t, cell=(cell, id)), as ``with scope(...):
        cls.apply(...)`` would make it. The first step does go through ``apply``
        (device checks, grad mode, the parents of h_0 and c_0); the others record
        their node directly, since only the state parents change from step to
        step: ``apply`` and ``scope`` would cost about a tenth of a batch-1 LSTM's
        time. For the same reason the steps' outputs get no Tensor of their own
        (only the last one, returned): RecurrentOutput lists them as its parents."""
        be = gx._backend
        lstm = c is not None
        outs = [None] * seq.T  # step t's output: a tensor, or (node, 0) once the steps record themselves
        order = range(seq.T - 1, -1, -1) if seq.reverse else range(seq.T)
        prev = None  # the last node, once the steps record themselves
        for t in order:
            if prev is None:
                with scope(t=t, cell=(cell, next(ids))):
                    if lstm:
                        h, c = cls.apply(gx, h, c, *weights, seq=seq, t=t)
                    else:
                        h = cls.apply(gx, h, *weights, seq=seq, t=t)
                outs[t] = h
                if h._ctx is not None and not is_anomaly_enabled():  # else no graph, or checked step by step
                    prev = h._ctx
                    outs[t] = (prev, 0)
                    gx_parent, w_parents = prev.parents[0], prev.parents[3 if lstm else 2 :]
                    gxa, w = gx._data, [p._data for p in weights]
                    meta = prev.out_meta  # every step's outputs have the first one's shapes
                    plain = seq.plain and hasattr(cls, "_plain")  # the steps that have a short path
                    h, c = h._data, c._data if lstm else None
                    base = current_scope()
                continue
            fn = cls()
            fn.backend = be
            tags = base + (("t", t), ("cell", (cell, next(ids))))
            if lstm:
                h, c = fn._plain(h, c, seq, t) if plain else fn.forward(gxa, h, c, *w, seq=seq, t=t)
                fn.record([gx_parent, (prev, 0), (prev, 1), *w_parents], prev.generation + 1, meta, tags)
            else:
                h = fn._plain(h, seq, t) if plain else fn.forward(gxa, h, *w, seq=seq, t=t)
                fn.record([gx_parent, (prev, 0), *w_parents], prev.generation + 1, meta, tags)
            outs[t] = (fn, 0)
            prev = fn
        if prev is None:  # the steps made tensors
            return RecurrentOutput.apply(*outs, seq=seq), outs[order[-1]], c
        if lstm:  # h and c are arrays since the first step: their tensors
            c = Tensor._make(c, be, prev, 1)
        stacked = RecurrentOutput()
        stacked.backend = be
        y = stacked.forward(seq=seq)
        stacked.record(outs, prev.generation + 1, ((y.shape, y.dtype),), base)
        return Tensor._make(y, be, stacked, 0), Tensor._make(h, be, prev, 0), c

    def _begin(self, seq, t, h_prev):
        """Forward's start: (the slot of seq.hs that step t writes, its row mask or None)."""
        self.t = t
        if t == seq.first:
            seq.hs[t + 1 - seq.ahead] = h_prev  # H_prev for dW_hh starts with h_0
        return t + seq.ahead, (None if seq.masks is None else seq.masks[t])

    def _unpack(self, dh):
        """Backward's start: (seq, t, the cell's saved arrays, mask, the part of dh for
        the new state, the part carried to a kept state or None)."""
        seq, t, ks, m = self.saved
        if seq.dg is None:
            self._start_backward(seq)
        carry = None
        if m is not None:
            dh, carry = _split_grad(seq.xp, m, dh)
        return seq, t, ks, m, dh, carry

    def _start_backward(self, seq):
        """The first step that backward reaches checks, before any step uses them, that the
        inputs its consumers saved (x, W_ih, the shared weights) were not changed in place."""
        first = len(self.parents) - len(seq.shared)
        for i in (0, *range(first, len(self.parents))):
            node = self.parents[i][0]
            if node is not None and node.versions:
                check_versions(node)
        seq.start_backward(self)

    def _recurrent_grad(self, seq, dgh, carry):
        """dh_prev = dgh W_hh (+ the gradient of a kept state)."""
        if not self.needs(1):
            return None
        dh_prev = seq.xp.dot(dgh, seq.w_hh)
        if carry is not None:
            dh_prev += carry
        return dh_prev


def _keep(xp, out, m, new, old):
    """out = new for rows whose sequence goes on at this step, old for finished ones."""
    out[...] = xp.where(m, new, old)
    return out


def _split_grad(xp, m, g):
    """(part of g for the new state, part carried to the kept one)."""
    return xp.where(m, g, 0), xp.where(m, 0, g)


class RNNStep(_Step):
    """Step t of a vanilla RNN direction: (gx, h_prev (B, H), W_hh) -> h (B, H),
    h = nonlinearity(gx[t] + h_prev W_hh^T)."""

    def forward(self, gx, h_prev, *weights, seq, t):
        xp = seq.xp
        slot, m = self._begin(seq, t, h_prev)
        rec = xp.dot(h_prev, seq.w_hh_t, out=seq.scratch)
        if m is None:
            h, ks = seq.cell_forward(xp, seq.gx[t], seq.nonlinearity, out=seq.hs[slot], rec=rec)
        else:
            h_new, ks = seq.cell_forward(xp, seq.gx[t], seq.nonlinearity, rec=rec)
            h = _keep(xp, seq.hs[slot], m, h_new, h_prev)
        self.saved = (seq, t, ks, m)
        return h

    def _plain(self, h_prev, seq, t):
        """Forward of any step but the first, without masks (unroll calls it directly)."""
        self.t = t
        h, ks = seq.cell_forward(seq.xp, seq.gx[t], seq.nonlinearity, out=seq.hs[t + seq.ahead],
                                 rec=seq.xp.dot(h_prev, seq.w_hh_t, out=seq.scratch))  # fmt: skip
        self.saved = (seq, t, ks, None)
        return h

    def backward(self, dh):
        seq, t, ks, m = self.saved
        if m is None and seq.dg is not None:  # as below, without masks: the common case
            xp = seq.xp
            d = seq.cell_backward(xp, ks, dh, seq.nonlinearity, out=seq.dg[t])
            gx, w_hh = seq.plain_terms(t)
            return gx, xp.dot(d, seq.w_hh) if self.parents[1][0] is not None else None, w_hh
        seq, t, ks, m, dh, carry = self._unpack(dh)
        d = seq.cell_backward(seq.xp, ks, dh, seq.nonlinearity, out=seq.dg[t])
        gx, shared = seq.terms_at(t)
        return (gx, self._recurrent_grad(seq, d, carry)) + shared


class LSTMStep(_Step):
    """Step t of an LSTM direction: (gx, h_prev (B, P), c_prev (B, H), W_hh[, W_hr])
    -> (h (B, P), c (B, H)).

    gates = gx[t] + h_prev W_hh^T, then the fused cell; h = (o * tanh(c)) W_hr^T
    with a projection."""

    saved_inputs = (2,)  # c_0, which the first step's cell keeps (later steps keep internal buffers)

    def forward(self, gx, h_prev, c_prev, *weights, seq, t):
        xp = seq.xp
        if seq.plain and t != seq.first:
            return self._plain(h_prev, c_prev, seq, t)
        slot, m = self._begin(seq, t, h_prev)
        rec = xp.dot(h_prev, seq.w_hh_t, out=seq.scratch)
        c = seq.cs[t]
        if m is None and seq.w_hr is None:
            h, c, ks = seq.cell_forward(xp, seq.gx[t], c_prev, h_out=seq.hs[slot], c_out=c, rec=rec,
                                        tc_out=seq.tcs[t])  # fmt: skip
        else:
            hf = None if seq.hf is None else seq.hf[t]
            hf, c, ks = seq.cell_forward(xp, seq.gx[t], c_prev, h_out=hf, c_out=c, rec=rec, tc_out=seq.tcs[t])
            h = seq.hs[slot]
            if m is None:  # a projection, then: h = hf W_hr^T, straight into the buffer
                xp.dot(hf, seq.w_hr_t, out=h)
            else:
                if seq.w_hr is not None:
                    hf = xp.dot(hf, seq.w_hr_t)
                _keep(xp, h, m, hf, h_prev)
                _keep(xp, c, m, c, c_prev)
        self.saved = (seq, t, ks, m)
        return h, c

    def _plain(self, h_prev, c_prev, seq, t):
        """Forward of any step but the first, without masks or a projection: the common
        case, with the least bookkeeping (unroll calls it directly)."""
        xp = seq.xp
        self.t = t
        h, c, ks = seq.cell_forward(xp, seq.gx[t], c_prev, h_out=seq.hs[t + seq.ahead], c_out=seq.cs[t],
                                    rec=xp.dot(h_prev, seq.w_hh_t, out=seq.scratch), tc_out=seq.tcs[t])  # fmt: skip
        self.saved = (seq, t, ks, None)
        return h, c

    def backward(self, dh, dc):
        seq, t, ks, m = self.saved
        if seq.plain and seq.dg is not None:  # as below, without masks or projection
            xp = seq.xp
            d, dc_prev = seq.cell_backward(xp, ks, dh, dc, out=seq.dg[t])
            parents = self.parents
            dh_prev = xp.dot(d, seq.w_hh) if parents[1][0] is not None else None
            gx, w_hh = seq.plain_terms(t)
            return gx, dh_prev, dc_prev if parents[2][0] is not None else None, w_hh
        seq, t, ks, m, dh, carry = self._unpack(dh)
        xp = seq.xp
        c_carry = None
        if m is not None:
            dc, c_carry = _split_grad(xp, m, dc)
        if seq.proj:
            seq.dhp[t] = dh
            dh = dh @ seq.w_hr
        d, dc_prev = seq.cell_backward(xp, ks, dh, dc, out=seq.dg[t])
        if c_carry is not None:
            dc_prev += c_carry
        dh_prev = self._recurrent_grad(seq, d, carry)
        gx, shared = seq.terms_at(t)
        return (gx, dh_prev, dc_prev if self.needs(2) else None) + shared


class GRUStep(_Step):
    """Step t of a GRU direction: (gx, h_prev (B, H), W_hh[, b_hh]) -> h (B, H), with
    gh = h_prev W_hh^T + b_hh computed here and gx[t] from the input node."""

    saved_inputs = (1,)  # h_0, which the first step's cell keeps

    def forward(self, gx, h_prev, *weights, seq, t):
        xp = seq.xp
        slot, m = self._begin(seq, t, h_prev)
        gh = xp.dot(h_prev, seq.w_hh_t, out=seq.gh[t])
        if m is None:
            h, ks = seq.cell_forward(xp, seq.gx[t], gh, h_prev, h_out=seq.hs[slot], b_hh=seq.b_hh)
        else:
            h_new, ks = seq.cell_forward(xp, seq.gx[t], gh, h_prev, b_hh=seq.b_hh)
            h = _keep(xp, seq.hs[slot], m, h_new, h_prev)
        self.saved = (seq, t, ks, m)
        return h

    def backward(self, dh):
        seq, t, ks, m, dh, carry = self._unpack(dh)
        _, dgh, dh_direct = seq.cell_backward(seq.xp, ks, dh, dgx=seq.dg[t], dgh=seq.dgh[t])
        carry = dh_direct if carry is None else dh_direct + carry
        gx, shared = seq.terms_at(t)
        return (gx, self._recurrent_grad(seq, dgh, carry)) + shared
