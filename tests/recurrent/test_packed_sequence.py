"""PyTorch's packed sequences (ts.nn.utils.rnn): packing, unpacking and recurrent layers
fed a PackedSequence give PyTorch's data, batch sizes, indices, states and gradients."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.nn.utils import rnn

LENGTHS = {"sorted": [5, 3, 3, 1], "unsorted": [2, 5, 1, 4]}


def _padded(lib, lengths, batch_first, seed=0):
    T, B = max(lengths), len(lengths)
    x = np.random.default_rng(seed).standard_normal((T, B, 3))
    for b, n in enumerate(lengths):
        x[n:, b] = 0.0
    if batch_first:
        x = x.transpose(1, 0, 2).copy()
    return lib.tensor(x, requires_grad=True)


@pytest.mark.parametrize("order", sorted(LENGTHS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_match_torch(order, batch_first):
    torch = pytest.importorskip("torch")
    tu = torch.nn.utils.rnn
    lengths = LENGTHS[order]
    x, px = _padded(ts, lengths, batch_first), _padded(torch, lengths, batch_first)
    enforce = order == "sorted"
    ours = rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce)
    ref = tu.pack_padded_sequence(px, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce)
    np.testing.assert_array_equal(ours.data.numpy(), ref.data.detach().numpy())
    assert ours.batch_sizes.tolist() == ref.batch_sizes.tolist()
    for a, b in ((ours.sorted_indices, ref.sorted_indices), (ours.unsorted_indices, ref.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    back, lens = rnn.pad_packed_sequence(ours, batch_first=batch_first, padding_value=-1.0, total_length=6)
    pback, plens = tu.pad_packed_sequence(ref, batch_first=batch_first, padding_value=-1.0, total_length=6)
    np.testing.assert_array_equal(back.numpy(), pback.detach().numpy())
    assert lens.tolist() == plens.tolist() == lengths
    w = np.random.default_rng(1).standard_normal(back.shape)
    (back * ts.tensor(w)).sum().backward()
    (pback * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), px.grad.numpy())


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("order", sorted(LENGTHS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_layers_on_packed_sequences_match_torch(kind, order, batch_first):
    torch = pytest.importorskip("torch")
    tu = torch.nn.utils.rnn
    lengths = LENGTHS[order]
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first).double()
    ours = getattr(ts.nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x, px = _padded(ts, lengths, batch_first), _padded(torch, lengths, batch_first)
    h0 = np.random.default_rng(2).standard_normal((4, len(lengths), 4))
    state = (ts.tensor(h0), ts.tensor(h0 * 0.5)) if kind == "LSTM" else ts.tensor(h0)
    pstate = (torch.tensor(h0), torch.tensor(h0 * 0.5)) if kind == "LSTM" else torch.tensor(h0)
    enforce = order == "sorted"
    out, hn = ours(rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce), state)
    pout, phn = ref(tu.pack_padded_sequence(px, torch.tensor(lengths), batch_first=batch_first,
                                            enforce_sorted=enforce), pstate)  # fmt: skip
    assert isinstance(out, rnn.PackedSequence) and out.batch_sizes.tolist() == pout.batch_sizes.tolist()
    np.testing.assert_allclose(out.data.numpy(), pout.data.detach().numpy(), rtol=1e-12, atol=1e-12)
    hn, phn = (hn if kind == "LSTM" else (hn,)), (phn if kind == "LSTM" else (phn,))
    for a, b in zip(hn, phn):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(3).standard_normal(out.data.shape)
    ((out.data * ts.tensor(w)).sum() + sum(h.sum() for h in hn)).backward()
    ((pout.data * torch.tensor(w)).sum() + sum(h.sum() for h in phn)).backward()
    np.testing.assert_allclose(x.grad.numpy(), px.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_pack_sequence_pad_sequence_and_errors():
    seqs = [ts.tensor([1.0, 2.0, 3.0]), ts.tensor([4.0]), ts.tensor([5.0, 6.0])]
    assert rnn.pad_sequence(seqs, batch_first=True).tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 0]]
    packed = rnn.pack_sequence(seqs, enforce_sorted=False)
    assert packed.data.tolist() == [1, 5, 4, 2, 6, 3] and packed.batch_sizes.tolist() == [3, 2, 1]
    x = ts.randn(4, 3, 2)
    with pytest.raises(ValueError, match=r"must be sorted in decreasing order.*\[1, 4, 2\].*enforce_sorted=False"):
        rnn.pack_padded_sequence(x, [1, 4, 2])
    with pytest.raises(ValueError, match=r"pack_padded_sequence: lengths must be in \[1, 4\], got \[5, 1, 1\]"):
        rnn.pack_padded_sequence(x, [5, 1, 1])
    with pytest.raises(ValueError, match=r"pack_padded_sequence: 2 lengths for a batch of 3"):
        rnn.pack_padded_sequence(x, [2, 1])
    with pytest.raises(ValueError, match="total_length=2 is less than the longest length 4"):
        rnn.pad_packed_sequence(rnn.pack_padded_sequence(x, [4, 2, 1]), total_length=2)
    with pytest.raises(TypeError, match="LSTM: a PackedSequence carries its lengths"):
        ts.nn.LSTM(2, 3)(rnn.pack_padded_sequence(x, [4, 2, 1]), lengths=[4, 2, 1])


def test_packed_sequences_stay_on_the_device():
    """On the strict test device (arrays that refuse to mix with host arrays): packing,
    a layer and unpacking, forward and backward, keep everything on the device."""
    import tinyseq.devices.strict  # noqa: F401  (registers "strict")

    x = ts.randn(4, 3, 2, device="strict", requires_grad=True)
    layer = ts.nn.LSTM(2, 3).to("strict")
    out, (h, c) = layer(rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False))
    padded, lengths = rnn.pad_packed_sequence(out, batch_first=True)
    (padded.sum() + h.sum() + c.sum()).backward()
    assert out.data.device == padded.device == x.grad.device == "strict:0"
    assert lengths.device == "cpu" and lengths.tolist() == [2, 4, 1] and padded.shape == (3, 4, 3)
