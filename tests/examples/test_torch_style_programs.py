"""Programs written as a PyTorch user writes them, run unchanged on ``torch`` and on
``tinyseq`` (passed in as the module named ``torch``), from the same initial weights:
their losses must agree to 1e-10 (relative) in float64 and 1e-5 in float32.

They use the surface such programs lean on: ``torch.device``, dtype names,
``torch.utils.data``, ``p.data.add_(p.grad, alpha=-lr)``, ``weight.new_zeros``,
``.type(...)``, tied weights, truncated BPTT with detached states, ``torch.onnx``
imported at the top.
"""

import importlib

import numpy as np
import pytest


# -- program 1: a word-level LSTM language model, plain SGD through .data -----------------------
def language_model(torch, corpus_ids, vocab, copy_weights=None, steps=10, dtype="float64"):
    nn = torch.nn
    onnx = importlib.import_module(torch.__name__ + ".onnx")  # programs import it even when they never export
    assert hasattr(onnx, "export")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_default_dtype(getattr(torch, dtype))

    class RNNModel(nn.Module):
        def __init__(self, ntoken, ninp, nhid, nlayers):
            super().__init__()
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers)
            self.decoder = nn.Linear(nhid, ntoken)
            self.decoder.weight = self.encoder.weight  # tied weights
            self.nlayers, self.nhid = nlayers, nhid

        def forward(self, input, hidden):
            emb = self.encoder(input)
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(output).view(-1, self.decoder.out_features)
            return torch.nn.functional.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))

    def batchify(data, bsz):
        nbatch = data.size(0) // bsz
        data = data.narrow(0, 0, nbatch * bsz)
        return data.view(bsz, -1).t().contiguous().to(device)

    def repackage_hidden(h):
        if isinstance(h, torch.Tensor):
            return h.detach()
        return tuple(repackage_hidden(v) for v in h)

    def get_batch(source, i, bptt):
        seq_len = min(bptt, len(source) - 1 - i)
        return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].reshape(-1)

    ids = torch.tensor(corpus_ids, dtype=torch.long)
    train_data = batchify(ids, 4)
    model = RNNModel(vocab, 8, 8, 2).to(device)
    if copy_weights is not None:
        model.load_state_dict(copy_weights)
    if steps == 0:
        return [], model
    criterion = nn.NLLLoss()
    lr, clip, bptt = 5.0, 0.25, 5
    losses = []
    model.train()
    hidden = model.init_hidden(4)
    for i in range(0, train_data.size(0) - 1, bptt):
        data, targets = get_batch(train_data, i, bptt)
        hidden = repackage_hidden(hidden)
        model.zero_grad()
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
        if len(losses) == steps:
            break
    return losses, model


# -- program 2: an LSTM reading images row by row, from a DataLoader -------------------------------
def row_classifier(torch, images, labels, copy_weights=None, steps=10, dtype="float64"):
    nn = torch.nn
    F = torch.nn.functional
    from_data = torch.utils.data
    device = torch.device("cpu")

    class RowLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(input_size=6, hidden_size=10, num_layers=1, batch_first=True)
            self.fc = nn.Linear(10, 3)

        def forward(self, x):
            h0 = torch.zeros(1, x.size(0), 10, dtype=x.dtype, device=x.device)
            c0 = torch.zeros(1, x.size(0), 10, dtype=x.dtype, device=x.device)
            out, _ = self.lstm(x, (h0, c0))
            return self.fc(out[:, -1, :])

    dt = getattr(torch, dtype)
    dataset = from_data.TensorDataset(torch.tensor(images).type(dt), torch.tensor(labels).long())
    loader = from_data.DataLoader(dataset, batch_size=8, shuffle=False, num_workers=0)
    model = RowLSTM().to(device).to(dt)
    if copy_weights is not None:
        model.load_state_dict(copy_weights)
    if steps == 0:
        return [], model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    losses, correct = [], 0
    for _epoch in range(3):
        for _batch_idx, (data, target) in enumerate(loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data.view(-1, 6, 6))
            loss = F.cross_entropy(output, target)
            loss.backward()
            optimizer.step()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
            losses.append(loss.item())
            if len(losses) == steps:
                return losses, model
    return losses, model


def _state(model):
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


@pytest.fixture
def libs():
    torch = pytest.importorskip("torch")
    ts = importlib.import_module("tinyseq")
    yield torch, ts
    torch.set_default_dtype(torch.float32)
    ts.set_default_dtype(ts.float32)


TOL = {"float64": 1e-10, "float32": 1e-5}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_language_model_program_matches_torch(libs, dtype):
    torch, ts = libs
    rng = np.random.default_rng(0)
    vocab = 11
    ids = [(i * 3 + int(rng.random() < 0.1)) % vocab for i in range(1400)]  # a learnable cycle, some noise
    torch.manual_seed(0)
    _, init = language_model(torch, ids, vocab, steps=0, dtype=dtype)
    torch.manual_seed(0)
    want, _ = language_model(torch, ids, vocab, steps=10, dtype=dtype)
    got, _ = language_model(ts, ids, vocab, copy_weights=_state(init), steps=60, dtype=dtype)
    assert len(got) == 60 and len(want) == 10
    np.testing.assert_allclose(got[:10], want, rtol=TOL[dtype])
    assert np.mean(got[-5:]) < 0.5 * got[0]  # it trains


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_row_classifier_program_matches_torch(libs, dtype):
    torch, ts = libs
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 40)
    images = rng.standard_normal((40, 36)) * 0.3 + labels[:, None] * 0.5
    torch.manual_seed(0)
    _, init = row_classifier(torch, images, labels, steps=0, dtype=dtype)
    torch.manual_seed(0)
    want, _ = row_classifier(torch, images, labels, dtype=dtype)
    got, _ = row_classifier(ts, images, labels, copy_weights=_state(init), dtype=dtype)
    assert len(got) == len(want) == 10
    np.testing.assert_allclose(got, want, rtol=TOL[dtype])
