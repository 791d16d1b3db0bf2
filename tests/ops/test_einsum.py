"""``ts.einsum`` against ``torch.einsum`` (values and gradients, float64) and gradchecks."""

import numpy as np
import pytest

import tinyseq as ts

CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("iji->j", [(3, 2, 3)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,kl->ijkl", [(2, 3), (2, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij->...ji", [(2, 3, 4)]),
    ("b i d, b j d -> b i j", [(2, 3, 4), (2, 5, 4)]),
    ("ij,ij->ij", [(1, 3), (4, 3)]),
    ("ik,k->i", [(3, 4), (1,)]),
    ("abc,cd,da->b", [(2, 3, 4), (4, 5), (5, 2)]),
    ("iJ,Jk->ik", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("equation, shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_torch(equation, shapes):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [ts.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ts.einsum(equation, *ours), torch.einsum(equation, *theirs)
    assert out.shape == tuple(ref.shape) and out.dtype == ts.float64
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(out.shape)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("equation, shapes", CASES[::2], ids=[c[0] for c in CASES[::2]])
def test_einsum_gradcheck(equation, shapes):
    rng = np.random.default_rng(1)
    inputs = [ts.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert ts.gradcheck(lambda *xs: ts.einsum(equation, *xs), inputs)


def test_einsum_takes_a_list_and_only_grads_what_needs_it():
    a, b = ts.randn(2, 3, requires_grad=True), ts.randn(3, 4)
    out = ts.einsum("ij,jk->ik", [a, b])
    out.sum().backward()
    assert a.grad.shape == (2, 3) and b.grad is None
    np.testing.assert_allclose(out.numpy(), (a @ b).detach().numpy(), rtol=1e-6)


def test_einsum_errors_name_the_problem():
    a = ts.ones(2, 3)
    with pytest.raises(ValueError, match="einsum: the equation 'ij,jk' names 2 operands but 1 were given"):
        ts.einsum("ij,jk", a)
    with pytest.raises(ValueError, match=r"einsum: subscripts 'ijk' in 'ijk->i' do not fit .* shape \(2, 3\)"):
        ts.einsum("ijk->i", a)
    with pytest.raises(ValueError, match=r"einsum: subscript 'j' has sizes 3 and 4"):
        ts.einsum("ij,jk", a, ts.ones(4, 2))
    with pytest.raises(ValueError, match="einsum: output subscript 'z'"):
        ts.einsum("ij->z", a)
    with pytest.raises(ValueError, match="einsum: invalid subscripts"):
        ts.einsum("i1->i", a)
    with pytest.raises(TypeError, match="einsum: the first argument must be the equation string"):
        ts.einsum(a, "ij")
