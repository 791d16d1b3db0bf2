"""``ts.utils.data`` against ``torch.utils.data``: batches, orders, lengths and collation
wherever they are deterministic; shuffling covers every sample and follows the seed."""

import collections
import warnings

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.utils import data as tud


def _plain(x):
    """Batches of either library as nested Python lists/dicts, tensors as (dtype name, values)."""
    if hasattr(x, "tolist") and hasattr(x, "dtype"):
        return (str(x.dtype).replace("torch.", ""), x.tolist())
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x).__name__ if not hasattr(x, "_fields") else "namedtuple", [_plain(v) for v in x]
    return x


def _both(torch, make):
    """``make(lib, data_module)`` for tinyseq and for torch."""
    return make(ts, tud), make(torch, torch.utils.data)


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("samples", [
    [1.5, 2.0, -3.25],
    [1, 2, 3],
    [True, False],
    [np.float32(1.0), np.float32(2.5)],
    [np.ones(3, dtype=np.int32), np.zeros(3, dtype=np.int32)],
    [(1, 2.0, "a"), (3, 4.0, "b")],
    [[1, 2], [3, 4]],
    [{"x": np.arange(2.0), "n": 1}, {"x": np.arange(2.0) + 5, "n": 2}],
    [Point(1, 2.0), Point(3, 4.0)],
    ["a", "b"],
])  # fmt: skip
def test_default_collate_matches_torch(samples):
    torch = pytest.importorskip("torch")
    assert _plain(tud.default_collate(samples)) == _plain(torch.utils.data.default_collate(samples))


def test_default_collate_stacks_tensors_keeping_dtype_and_device():
    batch = tud.default_collate([ts.ones(2, dtype=ts.float64, device="strict"), ts.zeros(2, device="strict")])
    assert batch.shape == (2, 2) and batch.dtype == ts.float64 and batch.device == "strict:0"


def test_default_collate_errors_match_torch():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        tud.default_collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers"):
        tud.default_collate([object()])


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (4, 4, False), (3, 5, True)])
def test_sequential_batches_match_torch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)

    def epoch(lib, d):
        loader = d.DataLoader(d.TensorDataset(lib.tensor(x), lib.tensor(y)), batch_size=batch_size,
                              drop_last=drop_last)  # fmt: skip
        return len(loader), [_plain(b) for b in loader]

    ours, theirs = _both(torch, epoch)
    assert ours == theirs


def test_loader_over_a_list_and_a_custom_dataset_match_torch():
    torch = pytest.importorskip("torch")

    def make(lib, d):
        class Squares(d.Dataset):
            def __len__(self):
                return 5

            def __getitem__(self, i):
                return {"x": lib.full((2,), float(i)), "y": i * i}

        return (
            [_plain(b) for b in d.DataLoader(list(range(7)), batch_size=3)],
            [_plain(b) for b in d.DataLoader(Squares(), batch_size=2)],
            [_plain(b) for b in d.DataLoader(Squares(), batch_size=None)],
            [_plain(b) for b in d.DataLoader(Squares(), batch_sampler=[[4, 0], [2]])],
            [_plain(b) for b in d.DataLoader(Squares(), sampler=[3, 1, 1], batch_size=2)],
            [_plain(b) for b in d.DataLoader([(np.ones(2), 1)] * 2, batch_size=None)],
        )

    ours, theirs = _both(torch, make)
    assert ours == theirs


def test_iterable_datasets_batch_in_order_like_torch():
    torch = pytest.importorskip("torch")

    def make(lib, d):
        class Stream(d.IterableDataset):
            def __iter__(self):
                return iter(range(7))

        return ([_plain(b) for b in d.DataLoader(Stream(), batch_size=3)],
                [_plain(b) for b in d.DataLoader(Stream(), batch_size=3, drop_last=True)],
                [_plain(b) for b in d.DataLoader(Stream(), batch_size=None)])  # fmt: skip

    ours, theirs = _both(torch, make)
    assert ours == theirs

    class Stream(tud.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified shuffle option"):
        tud.DataLoader(Stream(), shuffle=True)
    with pytest.raises(TypeError):
        len(tud.DataLoader(Stream()))


def test_shuffle_covers_every_sample_and_follows_the_seed():
    x = ts.arange(23)
    loader = tud.DataLoader(tud.TensorDataset(x, x * 10), batch_size=4, shuffle=True)
    assert len(loader) == 6
    ts.manual_seed(3)
    first, second = [[b.tolist() for b in batch] for batch in loader], [[b.tolist() for b in batch] for batch in loader]
    for epoch in (first, second):
        assert sorted(v for xb, _ in epoch for v in xb) == list(range(23))
        assert all(yb == [10 * v for v in xb] for xb, yb in epoch)
    assert first != second
    ts.manual_seed(3)
    assert [[b.tolist() for b in batch] for batch in loader] == first
    g = ts.Generator().manual_seed(5)
    a = [b[0].tolist() for b in tud.DataLoader(tud.TensorDataset(x), batch_size=5, shuffle=True, generator=g)]
    g.manual_seed(5)
    b = [b[0].tolist() for b in tud.DataLoader(tud.TensorDataset(x), batch_size=5, shuffle=True, generator=g)]
    assert a == b


def test_gathered_batches_equal_stacked_samples():
    # a TensorDataset is read a batch at a time; stacking its samples gives the same
    x, y = ts.randn(9, 3, dtype=ts.float64), ts.arange(9)
    ds = tud.TensorDataset(x, y)
    fast = list(tud.DataLoader(ds, batch_size=4, sampler=[8, 0, 3, 3, 5, 1]))
    slow = list(tud.DataLoader(ds, batch_size=4, sampler=[8, 0, 3, 3, 5, 1], collate_fn=tud.default_collate.__call__))
    assert len(fast) == len(slow) == 2
    for f, s in zip(fast, slow):
        assert isinstance(f, list) and [t.dtype for t in f] == [t.dtype for t in s]
        assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(f, s))


def test_samplers_match_torch_where_deterministic():
    torch = pytest.importorskip("torch")

    def make(lib, d):
        return (list(d.SequentialSampler(range(5))),
                list(d.BatchSampler(d.SequentialSampler(range(7)), 3, False)),
                list(d.BatchSampler(range(7), 3, True)), len(d.BatchSampler(range(7), 3, False)),
                len(d.RandomSampler(range(5))),
                len(d.RandomSampler(range(5), replacement=True, num_samples=12)))  # fmt: skip

    ours, theirs = _both(torch, make)
    assert ours == theirs


def test_random_samplers_draw_what_they_promise():
    g = ts.Generator().manual_seed(0)
    assert sorted(tud.RandomSampler(range(6), generator=g)) == list(range(6))
    over = list(tud.RandomSampler(range(4), num_samples=10, generator=g))
    assert len(over) == 10 and sorted(over[:4]) == sorted(over[4:8]) == list(range(4))
    drawn = list(tud.RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2}
    assert sorted(tud.SubsetRandomSampler([5, 7, 9], generator=g)) == [5, 7, 9]
    weighted = list(tud.WeightedRandomSampler([0.0, 1.0, 3.0], 400, generator=g))
    assert 0 not in weighted and 2.0 < weighted.count(2) / weighted.count(1) < 4.5
    assert sorted(tud.WeightedRandomSampler([1.0, 1.0, 0.0, 1.0], 3, replacement=False, generator=g)) == [0, 1, 3]
    with pytest.raises(ValueError, match="WeightedRandomSampler: cannot draw 3 samples without replacement"):
        tud.WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.33, 0.33, 0.34], [0.5, 0.5], [1.0]])
def test_random_split_lengths_match_torch(lengths):
    torch = pytest.importorskip("torch")
    for n in (10, 11):
        if isinstance(lengths[0], int) and sum(lengths) != n:
            continue
        ours = ts.utils.data.random_split(range(n), lengths, generator=ts.Generator().manual_seed(1))
        theirs = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(1))
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        assert sorted(i for s in ours for i in s) == list(range(n))


def test_random_split_follows_its_generator_and_refuses_bad_lengths():
    def split():
        return [list(s) for s in tud.random_split(range(8), [5, 3], generator=ts.Generator().manual_seed(9))]

    assert split() == split() and split()[0] != [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"random_split: the lengths \[1, 2\] sum to 3, not to the dataset's length 4"):
        tud.random_split(range(4), [1, 2])
    with pytest.warns(UserWarning, match="length of split at index 1 is 0"):
        tud.random_split(range(2), [1.0, 0.0])


def test_subset_and_concat_index_like_torch():
    torch = pytest.importorskip("torch")

    def make(lib, d):
        a, b = d.TensorDataset(lib.arange(4)), d.TensorDataset(lib.arange(10, 13))
        both = a + b
        sub = d.Subset(both, [6, 0, 4])
        return (len(both), [_plain(both[i]) for i in (0, 3, 4, 6, -1, -7)], len(sub), [_plain(s) for s in sub],
                _plain(d.Subset(a, [3, 1, 2])[[0, 2]]), both.cumulative_sizes)  # fmt: skip

    ours, theirs = _both(torch, make)
    assert ours == theirs
    with pytest.raises(IndexError, match="ConcatDataset: index 7 is out of range for length 7"):
        (tud.TensorDataset(ts.arange(4)) + tud.TensorDataset(ts.arange(3)))[7]


def test_loader_argument_errors_match_torch():
    torch = pytest.importorskip("torch")
    for kwargs in ({"batch_sampler": [[0]], "batch_size": 2}, {"sampler": [0], "shuffle": True},
                   {"batch_size": 0}, {"batch_size": None, "drop_last": True}):  # fmt: skip
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.DataLoader(range(4), **kwargs)
        with pytest.raises(ValueError) as ours:
            tud.DataLoader(range(4), **kwargs)
        first_words = str(theirs.value).split(",")[0].split(":")[0][:30]
        assert first_words.split()[0] in str(ours.value), (kwargs, str(ours.value), str(theirs.value))


def test_workers_and_pinning_are_accepted_with_one_note():
    from tinyseq.utils.data import dataloader

    dataloader._warned.clear()
    with pytest.warns(UserWarning, match="DataLoader: num_workers=2 has no effect"):
        loader = tud.DataLoader(range(5), batch_size=2, num_workers=2, persistent_workers=True, prefetch_factor=2)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the note comes once per process, not per loader
        tud.DataLoader(range(5), num_workers=4)
    with pytest.warns(UserWarning, match="pin_memory=True has no effect"):
        tud.DataLoader(range(5), pin_memory=True)
    assert tud.get_worker_info() is None


def test_ts_data_keeps_its_loader_and_shares_tensor_dataset():
    assert ts.data.TensorDataset is tud.TensorDataset
    batch = next(iter(ts.data.DataLoader(tud.TensorDataset(np.arange(4.0), np.arange(4)), batch_size=2)))
    assert isinstance(batch, tuple) and batch[0].dtype == ts.float64
