"""Sequence data helpers on small hand-checkable inputs, plus their bad-argument errors."""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.data import DataLoader, TensorDataset, batchify, bptt_chunks, pad_sequences, sliding_window


@pytest.fixture
def strict():
    pytest.importorskip("tinyseq.devices.strict")
    return "strict"


# -- sliding_window -------------------------------------------------------------------------
def test_sliding_window_1d_worked_example():
    x, y = sliding_window(np.arange(6.0), window=3)
    assert x.shape == (3, 3, 1) and y.shape == (3, 1, 1)
    assert x.dtype == ts.float64 and y.dtype == ts.float64  # numpy input keeps its dtype
    assert x.numpy()[..., 0].tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert y.numpy()[..., 0].tolist() == [[3], [4], [5]]


def test_sliding_window_multivariate_horizon_and_stride():
    series = np.arange(20).reshape(10, 2)  # step t is [2t, 2t+1]
    x, y = sliding_window(series, window=3, horizon=2, stride=2)
    assert x.shape == (3, 3, 2) and y.shape == (3, 2, 2) and x.dtype == ts.int64
    assert x.numpy()[:, :, 0].tolist() == [[0, 2, 4], [4, 6, 8], [8, 10, 12]]
    assert y.numpy()[:, :, 0].tolist() == [[6, 8], [10, 12], [14, 16]]
    assert y.numpy()[:, :, 1].tolist() == [[7, 9], [11, 13], [15, 17]]
    x, y = sliding_window(series, window=8, horizon=2)  # exactly long enough: one pair
    assert x.shape == (1, 8, 2) and y.numpy()[0, :, 0].tolist() == [16, 18]


def test_sliding_window_lists_tensors_and_dtype(strict):
    x, y = sliding_window([1.0, 2.0, 3.0, 4.0], window=2)
    assert x.dtype == ts.float32 and y.numpy().ravel().tolist() == [3.0, 4.0]
    t = ts.arange(8.0, device=strict, requires_grad=True)
    x, y = sliding_window(t, window=4, horizon=1, stride=3, dtype=ts.float64)
    assert x.device == "strict:0" and x.dtype == ts.float64 and not x.requires_grad
    assert x.numpy()[..., 0].tolist() == [[0, 1, 2, 3], [3, 4, 5, 6]]
    assert y.numpy().ravel().tolist() == [4, 7]


def test_sliding_window_bad_arguments():
    s = np.zeros(5)
    with pytest.raises(ValueError, match=r"sliding_window: a series of length 5 \(shape \(5,\)\) is too short for "
                                         r"window=5 plus horizon=1; it needs at least 6 steps"):  # fmt: skip
        sliding_window(s, window=5)
    with pytest.raises(ValueError, match="sliding_window: window must be a positive integer, got 0"):
        sliding_window(s, window=0)
    with pytest.raises(ValueError, match="sliding_window: horizon must be a positive integer, got -1"):
        sliding_window(s, window=2, horizon=-1)
    with pytest.raises(ValueError, match="sliding_window: stride must be a positive integer, got 1.5"):
        sliding_window(s, window=2, stride=1.5)
    with pytest.raises(ValueError, match=r"sliding_window: series must have shape \(T,\) or \(T, F\), got \(2, 3, 4\)"):
        sliding_window(np.zeros((2, 3, 4)), window=1)
    with pytest.raises(ValueError, match=r"got \(\)"):
        sliding_window(np.float64(3.0), window=1)


# -- language modelling ---------------------------------------------------------------------
def test_batchify_makes_contiguous_streams_and_drops_the_rest():
    b = batchify(np.arange(11), 3)
    assert b.shape == (3, 3) and b.dtype == ts.int64
    assert b.numpy().tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert batchify([0, 1, 2, 3, 4, 5, 6], 2).numpy().tolist() == [[0, 3], [1, 4], [2, 5]]
    assert batchify(np.arange(4, dtype=np.int32), 1).numpy().tolist() == [[0], [1], [2], [3]]


def test_batchify_bad_arguments():
    with pytest.raises(ValueError, match="batchify: 3 tokens cannot fill batch_size=4 streams"):
        batchify(np.arange(3), 4)
    with pytest.raises(ValueError, match="batchify: batch_size must be a positive integer, got 0"):
        batchify(np.arange(3), 0)
    with pytest.raises(ValueError, match=r"batchify: ids must be a 1-D stream of shape \(N,\), got \(2, 2\)"):
        batchify(np.zeros((2, 2)), 1)


def test_bptt_chunks_shift_targets_by_one_and_carry_across_chunks():
    data = batchify(np.arange(14), 2)  # columns 0..6 and 7..13
    chunks = bptt_chunks(data, 3)
    assert len(chunks) == 2
    got = [(x.numpy().tolist(), y.numpy().tolist()) for x, y in chunks]
    assert got[0] == ([[0, 7], [1, 8], [2, 9]], [[1, 8], [2, 9], [3, 10]])
    assert got[1] == ([[3, 10], [4, 11], [5, 12]], [[4, 11], [5, 12], [6, 13]])
    # a shorter last chunk; every step but the last is an input exactly once
    chunks = list(bptt_chunks(batchify(np.arange(8), 1), 3))
    assert [x.shape for x, _ in chunks] == [(3, 1), (3, 1), (1, 1)]
    assert np.concatenate([x.numpy() for x, _ in chunks]).ravel().tolist() == list(range(7))
    assert np.concatenate([y.numpy() for _, y in chunks]).ravel().tolist() == list(range(1, 8))
    assert len(bptt_chunks(batchify(np.arange(8), 1), 3)) == 3
    feats = np.arange(24.0).reshape(4, 2, 3)  # (T, B, F) works too
    x, y = next(iter(bptt_chunks(feats, 2)))
    assert x.shape == y.shape == (2, 2, 3) and y.numpy()[0, 1].tolist() == [9.0, 10.0, 11.0]


def test_bptt_chunks_bad_arguments():
    with pytest.raises(ValueError, match=r"bptt_chunks: data must have shape \(T, B, ...\) as batchify .* got \(5,\)"):
        bptt_chunks(np.arange(5), 2)
    with pytest.raises(ValueError, match="bptt_chunks: seq_len must be a positive integer, got 0"):
        bptt_chunks(np.zeros((5, 2)), 0)
    with pytest.raises(ValueError, match=r"bptt_chunks: data of shape \(1, 2\) has fewer than 2 steps"):
        bptt_chunks(np.zeros((1, 2)), 3)


# -- padding --------------------------------------------------------------------------------
def test_pad_sequences_time_major_and_batch_first():
    padded, lengths = pad_sequences([[1, 2, 3], [4], [5, 6]])
    assert padded.numpy().tolist() == [[1, 4, 5], [2, 0, 6], [3, 0, 0]]
    assert lengths.dtype == ts.int64 and lengths.device == "cpu" and lengths.numpy().tolist() == [3, 1, 2]
    seqs = [np.ones((2, 2), dtype=np.float32), np.full((3, 2), 2.0, dtype=np.float32)]
    padded, lengths = pad_sequences(seqs, batch_first=True, padding_value=-1)
    assert padded.shape == (2, 3, 2) and padded.dtype == ts.float32
    assert padded.numpy()[:, :, 0].tolist() == [[1, 1, -1], [2, 2, 2]]
    assert lengths.numpy().tolist() == [2, 3]
    padded, lengths = pad_sequences([np.zeros((0, 2)), np.ones((1, 2))])  # an empty sequence is fine
    assert padded.shape == (1, 2, 2) and lengths.numpy().tolist() == [0, 1]


def test_pad_sequences_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 3)) for n in (4, 1, 6)]
    for batch_first in (False, True):
        padded, _ = pad_sequences(seqs, batch_first=batch_first, padding_value=0.5)
        ref = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=batch_first,
                                              padding_value=0.5)  # fmt: skip
        np.testing.assert_array_equal(padded.numpy(), ref.numpy())


def test_pad_sequences_is_differentiable():
    a = ts.tensor([[1.0], [2.0]], dtype=ts.float64, requires_grad=True)
    b = ts.tensor([[3.0]], dtype=ts.float64, requires_grad=True)
    padded, _ = pad_sequences([a, b])
    assert padded.shape == (2, 2, 1)
    (padded * ts.tensor([[[1.0], [10.0]], [[100.0], [1000.0]]], dtype=ts.float64)).sum().backward()
    assert a.grad.numpy().ravel().tolist() == [1.0, 100.0] and b.grad.numpy().ravel().tolist() == [10.0]
    assert ts.gradcheck(lambda x, y: pad_sequences([x, y], batch_first=True)[0], [a, b])


def test_pad_sequences_on_a_device(strict):
    padded, lengths = pad_sequences([ts.ones(2, device=strict), ts.ones(1, device=strict)])
    assert padded.device == "strict:0" and padded.numpy().tolist() == [[1, 1], [1, 0]]
    assert lengths.device == "cpu"


def test_pad_sequences_bad_arguments():
    with pytest.raises(ValueError, match="pad_sequences: got no sequences"):
        pad_sequences([])
    with pytest.raises(ValueError, match=r"same trailing shape, dtype and device; got \(2, 3\) float64 on cpu, "
                                         r"\(1, 4\) float64 on cpu"):  # fmt: skip
        pad_sequences([np.zeros((2, 3)), np.zeros((1, 4))])
    with pytest.raises(ValueError, match=r"got \(2,\) float32 on cpu, \(1,\) float64 on cpu"):
        pad_sequences([np.zeros(2, np.float32), np.zeros(1)])
    with pytest.raises(ValueError, match=r"got \(\) float64"):
        pad_sequences([np.float64(1.0)])


# -- DataLoader -------------------------------------------------------------------------------
def _epoch(loader):
    return [tuple(t.numpy().tolist() for t in batch) if isinstance(batch, tuple) else batch.numpy().tolist()
            for batch in loader]  # fmt: skip


def test_dataloader_in_order_batches_and_drop_last():
    x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    loader = DataLoader((x, y), batch_size=2)
    assert len(loader) == 3
    batches = list(loader)
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    assert batches[0][0].dtype == ts.float64 and batches[0][1].dtype == ts.int64
    assert [b[1].numpy().tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert batches[2][0].numpy().tolist() == [[8.0, 9.0]]
    loader = DataLoader(y, batch_size=2, drop_last=True)
    assert len(loader) == 2 and _epoch(loader) == [[0, 1], [2, 3]]


def test_dataloader_shuffle_covers_every_sample_and_follows_manual_seed():
    x = np.arange(23)
    loader = DataLoader((x, x * 10), batch_size=4, shuffle=True)
    ts.manual_seed(7)
    first, second = _epoch(loader), _epoch(loader)
    for epoch in (first, second):
        xs = [v for batch in epoch for v in batch[0]]
        assert sorted(xs) == list(range(23))
        assert all(b[1] == [10 * v for v in b[0]] for b in epoch)  # fields stay aligned
    assert first != second  # a new order each epoch
    assert [v for b in first for v in b[0]] != list(range(23))
    ts.manual_seed(7)
    assert _epoch(loader) == first and _epoch(loader) == second


def test_dataloader_over_tensors_datasets_and_samples(strict):
    t = ts.arange(12, device=strict).reshape(6, 2)
    batches = list(DataLoader(TensorDataset(t, ts.arange(6, device=strict)), batch_size=4, shuffle=True))
    assert batches[0][0].device == "strict:0" and batches[0][0].shape == (4, 2)
    assert sorted(v for b in batches for v in b[1].numpy().tolist()) == list(range(6))
    ds = TensorDataset(np.arange(3.0), np.arange(3))
    assert len(ds) == 3 and [v.item() for v in ds[1]] == [1.0, 1]
    samples = [(np.full(2, i, dtype=np.float32), i) for i in range(5)]  # a list of samples, as PyTorch's datasets
    xb, yb = next(iter(DataLoader(samples, batch_size=3)))
    assert xb.shape == (3, 2) and xb.dtype == ts.float32 and yb.numpy().tolist() == [0, 1, 2]
    dicts = [{"x": ts.ones(2) * i, "n": float(i)} for i in range(4)]
    batch = next(iter(DataLoader(dicts, batch_size=4, collate_fn=None)))
    assert batch["x"].shape == (4, 2) and batch["n"].dtype == ts.float32
    joined = next(iter(DataLoader(samples, batch_size=2, collate_fn=lambda s: [i for _, i in s])))
    assert joined == [0, 1]


def test_dataloader_bad_arguments():
    with pytest.raises(ValueError, match=r"DataLoader: every array needs the same first dimension \(the sample "
                                         r"count\), got \(3,\), \(4,\)"):  # fmt: skip
        DataLoader((np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive integer, got 0"):
        DataLoader(np.zeros(3), batch_size=0)
    with pytest.raises(TypeError, match="DataLoader: expected a tensor, an array, a tuple of them, or a dataset"):
        DataLoader(42)
    with pytest.raises(ValueError, match=r"DataLoader: arrays need a sample dimension, got shape \(\)"):
        DataLoader(np.zeros(()))
    with pytest.raises(ValueError, match=r"TensorDataset: every array needs the same first dimension"):
        TensorDataset(np.zeros(2), np.zeros((3, 1)))
