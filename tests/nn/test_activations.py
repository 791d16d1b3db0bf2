"""LeakyReLU, ELU, Softplus, LogSigmoid, SiLU: values and gradients vs PyTorch (float64),
over the whole line (0, the thresholds and +-800 included); gradchecks; reprs."""

import numpy as np
import pytest

import tinyseq as ts

F = ts.nn.functional
X = np.concatenate([np.linspace(-6, 6, 49), [0.0, -800.0, 800.0, -40.0, 40.0, 20.0, 10.0, 10.5]])

CASES = [
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {}), ("elu", {"alpha": 0.5}),
    ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 21.0}), ("logsigmoid", {}), ("silu", {}),
]  # fmt: skip


@pytest.mark.parametrize("name, kw", CASES)
def test_activation_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    x, px = ts.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    out, ref = getattr(F, name)(x, **kw), getattr(torch.nn.functional, name)(px, **kw)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-300)
    w = np.random.default_rng(0).standard_normal(X.shape)
    (out * ts.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), px.grad.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name, kw", CASES)
def test_activation_gradcheck(name, kw):
    x = ts.tensor(np.random.default_rng(1).uniform(-3, 3, (4, 5)), requires_grad=True)
    assert ts.gradcheck(lambda x: getattr(F, name)(x, **kw), x)


@pytest.mark.parametrize(
    "module, args",
    [("LeakyReLU", ()), ("LeakyReLU", (0.3,)), ("ELU", (0.7,)), ("Softplus", (2.0, 15.0)), ("LogSigmoid", ()),
     ("SiLU", ())],
)  # fmt: skip
def test_activation_modules_like_torch(module, args):
    torch = pytest.importorskip("torch")
    ours, ref = getattr(ts.nn, module)(*args), getattr(torch.nn, module)(*args)
    assert repr(ours) == repr(ref)
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(ours(ts.tensor(x)).numpy(), ref(torch.tensor(x)).numpy(), rtol=1e-12)
