"""The op registry is the one place an op is declared: one Function and one registry line
make ``ts.<name>``, the Tensor method, the ``ts.__all__`` entry and a device case."""

import device_cases
import pytest

import tinyseq as ts
from tinyseq.autograd import Function
from tinyseq.ops import registry


class Cube(Function):
    saved_inputs = (0,)

    def forward(self, a):
        self.saved = (a,)
        return a * a * a

    def backward(self, g):
        (a,) = self.saved
        return g * 3 * a * a


def cube(x, ignored=None):
    """Elementwise x**3 (``ignored``: so that a binary operator can run it)."""
    return Cube.apply(x if isinstance(x, ts.Tensor) else ignored)


@pytest.fixture
def registered_cube():
    registry.op("cube_for_test", cube, method=True, operators=("__xor__", "__rxor__"))
    try:
        yield
    finally:
        registry.remove("cube_for_test")
        device_cases.OP_CASES.pop("cube_for_test", None)


def test_one_function_and_one_registry_line_make_a_public_op(registered_cube):
    assert ts.cube_for_test is cube
    assert ts.ops.cube_for_test is cube
    assert "cube_for_test" in ts.__all__
    x = ts.tensor([1.0, -2.0], requires_grad=True)
    assert x.cube_for_test().tolist() == [1.0, -8.0]
    assert (x ^ 0).tolist() == [1.0, -8.0] == (0 ^ x).tolist()  # operators, the reflected one swapped
    x.cube_for_test().sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]

    # the device cases list it, and without a case of its own it fails
    case = next(c for c in device_cases.op_cases() if "cube_for_test" in c.ops)
    with pytest.raises(AssertionError, match="'cube_for_test' is registered .* has no device case"):
        device_cases.check(case, "strict")
    device_cases.OP_CASES["cube_for_test"] = ([device_cases.R(3, 4)], lambda a: a.cube_for_test())
    case = next(c for c in device_cases.op_cases() if "cube_for_test" in c.ops)
    device_cases.check(case, "strict")


def test_removing_an_op_unwires_it_everywhere(registered_cube):
    registry.remove("cube_for_test")
    assert not hasattr(ts, "cube_for_test") and not hasattr(ts.ops, "cube_for_test")
    assert "cube_for_test" not in ts.__all__
    assert not hasattr(ts.Tensor, "cube_for_test") and "__xor__" not in ts.Tensor.__dict__
    registry.op("cube_for_test", cube)  # for the fixture to remove


def test_an_op_cannot_replace_what_it_did_not_define():
    with pytest.raises(ValueError, match=r"op 'tensor': tinyseq.tensor is already defined, and not by this op"):
        registry.op("tensor", cube)
    with pytest.raises(ValueError, match=r"op 'shape_for_test': Tensor.shape is already defined"):
        registry.op("shape_for_test", cube, operators=("shape",))
    assert "tensor" not in registry.OPS and "shape_for_test" not in registry.OPS
    assert not hasattr(ts, "shape_for_test") and "shape_for_test" not in ts.__all__
    assert ts.tensor is not cube and isinstance(ts.Tensor.__dict__["shape"], property)


def test_every_registered_op_is_public_where_it_says():
    for entry in registry.OPS.values():
        if entry.function:
            assert getattr(ts, entry.name) is entry.fn and entry.name in ts.__all__, entry.name
        if entry.method:
            assert hasattr(ts.Tensor, entry.name), entry.name
        for dunder in entry.operators:
            assert dunder in ts.Tensor.__dict__, (entry.name, dunder)


def test_every_registered_op_has_a_device_case_and_every_case_an_op():
    covered = {name for c in device_cases.op_cases() if c.inputs for name in c.ops}
    assert sorted(set(registry.OPS) - covered) == []
    named = {n for key in device_cases.OP_CASES for n in ((key,) if isinstance(key, str) else key)}
    assert sorted(named - set(registry.OPS)) == []
