"""The CUDA kernels' arithmetic and plumbing, checked without a GPU.

The elementwise kernels of ``tinyseq_gpu.kernels`` are short C bodies; the
emulator of ``kernel_emulator`` (tests/support) runs each body with numpy over
all indices at once (same statements, same order, same index arithmetic),
and the module's Python side (allocation, ``*_out`` views, saved values,
fallbacks) runs as it would on a GPU, on the strict device. Every recurrent layer case and the cross-entropy
cases must then match the CPU. The real compilation and launch are checked by
``tests/devices/test_gpu.py`` on a GPU.
"""

import numpy as np
import pytest
from device_cases import CASES, check
from kernel_emulator import ElementwiseEmulator, xent_forward

import tinyseq as ts
from tinyseq_gpu import kernels


def _emulated(name, dtype=None):
    if name == "xent_fwd":
        return xent_forward
    ins, outs, body = kernels._SPECS[name]
    return ElementwiseEmulator(ins, outs, body, f"tinyseq_{name}")


@pytest.fixture
def emulated_strict(monkeypatch):
    """The strict device with the kernel table of a GPU, its kernels emulated."""
    monkeypatch.setattr(kernels, "kernel", _emulated)
    be = ts.get_backend("strict")
    monkeypatch.setattr(be, "kernels", kernels.kernel_table())
    return be


_RECURRENT = ("RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell")
_KERNEL_CASES = [c for c in CASES if c.module and c.module[0] in _RECURRENT]
_KERNEL_CASES += [c for c in CASES if c.name.startswith("cross_entropy") or c.name == "nll_loss"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", _KERNEL_CASES, ids=repr)
def test_kernel_table_matches_cpu(emulated_strict, case, dtype):
    check(case, "strict", dtype)


def test_kernels_run_on_the_device(emulated_strict):
    calls = []
    real = kernels.kernel
    kernels_called = lambda name, dtype=None: calls.append(name) or real(name, dtype)  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "kernel", kernels_called)
        lstm = ts.nn.LSTM(3, 4).double().to("strict")
        out, _ = lstm(ts.randn(5, 2, 3, dtype=ts.float64, device="strict"))
        ts.nn.functional.cross_entropy(out.reshape(-1, 4), ts.zeros(10, dtype=ts.int64, device="strict")).backward()
    assert {"lstm_fwd", "lstm_bwd", "xent_fwd", "xent_bwd"} <= set(calls)


def test_emulator_would_catch_an_index_slip(emulated_strict, monkeypatch):
    ins, outs, body = kernels._SPECS["lstm_fwd"]
    slipped = body.replace("gates[k + n_h]", "gates[k + 2 * n_h]", 1)
    assert slipped != body
    monkeypatch.setitem(kernels._SPECS, "lstm_fwd", (ins, outs, slipped))
    case = next(c for c in CASES if c.name == "LSTM")
    with pytest.raises(AssertionError, match="LSTM output 0: .* elements differ"):
        check(case, "strict", "float64")


def test_other_dtypes_take_the_array_code():
    xp = np
    gates = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float16)
    c = np.zeros((2, 2), dtype=np.float16)
    h, c2, _ = kernels.lstm_cell_forward(xp, gates.copy(), c)
    h_ref, c_ref, _ = ts.ops.fused.kernels.lstm_cell_forward(xp, gates.copy(), c)
    assert h.dtype == np.float16 and np.array_equal(h, h_ref) and np.array_equal(c2, c_ref)


def test_table_covers_every_fused_name():
    table = kernels.kernel_table()
    assert set(ts.ops.fused.kernels._CPU_KERNELS) | {"softmax_xent"} == set(table)
    for name, (fwd, bwd) in table.items():
        assert fwd.__doc__ and bwd.__doc__, name
