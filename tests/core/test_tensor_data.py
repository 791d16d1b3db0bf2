"""``Tensor.data``: the same storage as a tensor outside the graph, as in PyTorch."""

import numpy as np
import pytest

import tinyseq as ts


def test_data_is_a_detached_tensor_sharing_storage():
    p = ts.nn.Parameter(ts.ones(3))
    d = p.data
    assert isinstance(d, ts.Tensor) and not isinstance(d, ts.nn.Parameter)
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    d[0] = 5.0
    assert p.tolist() == [5.0, 1.0, 1.0]


def test_sgd_step_through_data_matches_torch():
    torch = pytest.importorskip("torch")
    w0 = np.random.default_rng(0).standard_normal((4, 3))
    x0 = np.random.default_rng(1).standard_normal((5, 4))
    ours, theirs = ts.nn.Parameter(ts.tensor(w0)), torch.nn.Parameter(torch.tensor(w0))
    for _ in range(3):
        for w, lib in ((ours, ts), (theirs, torch)):
            w.grad = None
            (lib.tensor(x0) @ w).tanh().sum().backward()
            w.data.add_(w.grad, alpha=-0.1)  # the classic hand-written update, outside any no_grad
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


def test_assigning_data_replaces_the_storage():
    p = ts.nn.Parameter(ts.zeros(2, 2))
    p.data = ts.ones(3, dtype=ts.float64)
    assert p.shape == (3,) and p.dtype == ts.float64 and p.requires_grad and p.tolist() == [1.0, 1.0, 1.0]
    p.data.mul_(2.0)
    assert p.tolist() == [2.0, 2.0, 2.0]


def test_assigning_data_other_than_a_tensor_names_the_type():
    p = ts.ones(2)
    with pytest.raises(TypeError, match="data: assigned value must be a Tensor, got list"):
        p.data = [1.0, 2.0]


def test_writes_through_data_are_not_seen_by_the_graph():
    # as in PyTorch: .data has its own version counter, so the guard against in-place
    # changes of saved tensors cannot see (and does not refuse) these writes
    x = ts.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data.mul_(10.0)
    y.backward()
    assert x.grad.tolist() == [20.0, 40.0]


def test_grad_data_updates_the_gradient():
    x = ts.ones(2, requires_grad=True)
    (x * 3.0).sum().backward()
    x.grad.data.zero_()
    assert x.grad.tolist() == [0.0, 0.0]


def test_numpy_asarray_reads_a_tensor():
    t = ts.tensor([[1.0, 2.0]])
    assert np.asarray(t).tolist() == [[1.0, 2.0]]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


def test_numpy_asarray_refuses_device_tensors():
    with pytest.raises(TypeError, match=r"can't convert a strict:0 tensor of shape \(2,\) to a NumPy array"):
        np.asarray(ts.ones(2, device="strict"))


def test_library_code_reads_raw_arrays_as_underscore_data():
    # Inside tinyseq a tensor's array is ``t._data``; ``t.data`` builds a new tensor each time
    # (PyTorch's attribute) and is not an array. This scan catches code that still reads
    # ``t.data`` as an array; what is allowed: array memory pointers (``arr.data.ptr``, and
    # the fake CuPy's), the ``data`` attributes of PackedSequence and bptt_chunks, imports,
    # ts.data, and docstrings.
    import re
    from pathlib import Path

    root = Path(ts.__file__).resolve().parent
    allowed = re.compile(
        r"\.data\.ptr|ctypes\.data|StrictArray\.data|self\.data\b|sequence\.data\b|(ts|tinyseq|utils)\.data\b|``[^`]*\.data"
    )
    found = []
    for path in list(root.rglob("*.py")) + list((root.parent / "tinyseq_gpu").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.lstrip().startswith(("from ", "import ")) and re.search(r"\.data\b", allowed.sub("", line)):
                found.append(f"{path.relative_to(root.parent)}:{n}: {line.strip()}")
    assert not found, "read the raw array as ._data:\n" + "\n".join(found)
