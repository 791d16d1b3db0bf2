"""Word-level language model on a text corpus: RNN/LSTM/GRU or Transformer, tied embeddings,
truncated backpropagation through time, plain SGD on p.data, gradient clipping, and a
whole-model checkpoint after each epoch."""

import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Vocabulary:
    def __init__(self):
        self.index = {}
        self.words = []

    def add(self, word):
        if word not in self.index:
            self.index[word] = len(self.words)
            self.words.append(word)
        return self.index[word]

    def __len__(self):
        return len(self.words)


class TextCorpus:
    """train.txt / valid.txt / test.txt of a folder as long id tensors (an <eos> after each line)."""

    def __init__(self, folder):
        self.vocab = Vocabulary()
        self.train = self.read(os.path.join(folder, "train.txt"))
        self.valid = self.read(os.path.join(folder, "valid.txt"))
        self.test = self.read(os.path.join(folder, "test.txt"))

    def read(self, path):
        chunks = []
        with open(path, encoding="utf8") as f:
            for line in f:
                ids = [self.vocab.add(w) for w in line.split() + ["<eos>"]]
                chunks.append(torch.tensor(ids).type(torch.int64))
        return torch.cat(chunks)


class RecurrentLM(nn.Module):
    """Embedding -> recurrent stack -> projection to the vocabulary."""

    def __init__(self, cell, ntokens, emsize, nhid, nlayers, dropout=0.5, tied=False):
        super().__init__()
        self.cell, self.ntokens, self.nhid, self.nlayers = cell, ntokens, nhid, nlayers
        self.drop = nn.Dropout(dropout)
        self.embed = nn.Embedding(ntokens, emsize)
        if cell in ("LSTM", "GRU"):
            self.rnn = getattr(nn, cell)(emsize, nhid, nlayers, dropout=dropout)
        else:
            self.rnn = nn.RNN(emsize, nhid, nlayers, nonlinearity=cell.split("_")[1].lower(), dropout=dropout)
        self.project = nn.Linear(nhid, ntokens)
        if tied:
            if nhid != emsize:
                raise ValueError("tied weights need nhid == emsize")
            self.project.weight = self.embed.weight
        scale = 0.1
        nn.init.uniform_(self.embed.weight, -scale, scale)
        nn.init.zeros_(self.project.bias)
        nn.init.uniform_(self.project.weight, -scale, scale)

    def forward(self, tokens, state):
        x = self.drop(self.embed(tokens))
        y, state = self.rnn(x, state)
        logits = self.project(self.drop(y))
        return F.log_softmax(logits.view(-1, self.ntokens), dim=1), state

    def begin_state(self, batch):
        w = next(self.parameters())
        if self.cell == "LSTM":
            return (w.new_zeros(self.nlayers, batch, self.nhid), w.new_zeros(self.nlayers, batch, self.nhid))
        return w.new_zeros(self.nlayers, batch, self.nhid)


class SinusoidalPositions(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=500):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pos = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        freq = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq)
        self.register_buffer("table", table.unsqueeze(0).transpose(0, 1))

    def forward(self, x):
        return self.dropout(x + self.table[: x.size(0), :])


class TransformerLM(nn.Module):
    def __init__(self, ntokens, d_model, nhead, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.ntokens, self.d_model = ntokens, d_model
        self.positions = SinusoidalPositions(d_model, dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, nhid, dropout)
        self.encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.embed = nn.Embedding(ntokens, d_model)
        self.project = nn.Linear(d_model, ntokens)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.zeros_(self.project.bias)
        nn.init.uniform_(self.project.weight, -0.1, 0.1)

    def forward(self, tokens, state=None):
        mask = nn.Transformer.generate_square_subsequent_mask(len(tokens)).to(tokens.device)
        x = self.positions(self.embed(tokens) * math.sqrt(self.d_model))
        y = self.encoder(x, mask.to(x.dtype))
        return F.log_softmax(self.project(y).view(-1, self.ntokens), dim=-1), None

    def begin_state(self, batch):
        return None


def batchify(data, bsz, device):
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous().to(device)


def get_batch(source, i, bptt):
    n = min(bptt, len(source) - 1 - i)
    return source[i : i + n], source[i + 1 : i + 1 + n].reshape(-1)


def detach_state(state):
    if isinstance(state, torch.Tensor):
        return state.detach()
    return None if state is None else tuple(detach_state(s) for s in state)


def main(args):
    """Train for ``args.epochs`` epochs; returns the list of training losses (one per batch)."""
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if args.cuda else "cpu")
    corpus = TextCorpus(args.data)
    train_data = batchify(corpus.train, args.batch_size, device)
    val_data = batchify(corpus.valid, 2, device)
    ntokens = len(corpus.vocab)
    if args.model == "Transformer":
        model = TransformerLM(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers, args.dropout)
    else:
        model = RecurrentLM(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied)
    if args.init_state is not None:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in args.init_state.items()})
    if args.double:
        model = model.double()
    model = model.to(device)
    criterion = nn.NLLLoss()
    losses = []
    lr = args.lr

    def evaluate(data):
        model.eval()
        total = 0.0
        state = model.begin_state(2)
        with torch.no_grad():
            for i in range(0, data.size(0) - 1, args.bptt):
                x, y = get_batch(data, i, args.bptt)
                out, state = model(x, state)
                state = detach_state(state)
                total += len(x) * criterion(out, y).item()
        return total / (len(data) - 1)

    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.time()
        state = model.begin_state(args.batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            x, y = get_batch(train_data, i, args.bptt)
            model.zero_grad()
            state = detach_state(state)
            out, state = model(x, state)
            loss = criterion(out, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
            if batch % args.log_interval == 0 and batch > 0:
                print(f"| epoch {epoch} | batch {batch} | loss {loss.item():5.2f} | {time.time() - start:.2f} s")
        val_loss = evaluate(val_data)
        print(f"| end of epoch {epoch} | valid loss {val_loss:5.2f} | valid ppl {math.exp(val_loss):8.2f}")
        with open(args.save, "wb") as f:
            torch.save(model, f)
        lr /= 2.0
    allowed = [RecurrentLM, TransformerLM, SinusoidalPositions, nn.modules.rnn.LSTM, nn.modules.rnn.GRU,
               nn.modules.rnn.RNN, nn.modules.sparse.Embedding, nn.modules.linear.Linear, nn.modules.dropout.Dropout,
               nn.modules.transformer.TransformerEncoder, nn.modules.transformer.TransformerEncoderLayer,
               nn.modules.container.ModuleList, nn.modules.activation.MultiheadAttention,
               nn.modules.linear.NonDynamicallyQuantizableLinear, nn.modules.normalization.LayerNorm, F.relu, set]
    with open(args.save, "rb") as f:
        with torch.serialization.safe_globals(allowed):
            model = torch.load(f, map_location=device)
    return losses, evaluate(val_data)
