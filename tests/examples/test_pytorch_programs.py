"""PyTorch programs run unchanged with ``import tinyseq as torch``.

Each program in tests/examples/pytorch_programs/ is written against ``torch`` in the style of PyTorch's
public examples (a word-level language model with TBPTT, tied weights and checkpoints; an
LSTMCell sine-wave predictor trained with L-BFGS; a row-by-row LSTM image classifier with a
DataLoader). The test runs it twice: as written, and with its imports renamed from ``torch``
to ``tinyseq`` (nothing else changes), from the same initial weights and data, and compares
the losses: 1e-10 relative in float64, 1e-5 in float32.
"""

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

PROGRAMS = Path(__file__).parent / "pytorch_programs"
# PyTorch warns about nested tensors when a TransformerEncoder layer is not batch-first.
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor")


def renamed_imports(source: str) -> str:
    """``import torch`` -> ``import tinyseq as torch``; ``torch.x`` -> ``tinyseq.x`` in imports."""
    source = re.sub(r"^import torch$", "import tinyseq as torch", source, flags=re.M)
    source = re.sub(r"^import torch\.([\w.]+) as ", r"import tinyseq.\1 as ", source, flags=re.M)
    source = re.sub(r"^from torch(\.[\w.]+)? import ", lambda m: f"from tinyseq{m.group(1) or ''} import ",
                    source, flags=re.M)  # fmt: skip
    assert not re.search(r"^\s*(import|from) torch\b", source, flags=re.M)
    return source


def load_program(name: str, library: str):
    """The program as a fresh module (registered in sys.modules, so checkpoints can name its classes)."""
    path = PROGRAMS / f"{name}.py"
    source = path.read_text()
    if library == "tinyseq":
        source = renamed_imports(source)
    module = types.ModuleType(f"_program_{name}_{library}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def initial_state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def run_both(name, args, make_model):
    """Run the program with torch and with tinyseq from the torch model's initial weights."""
    pytest.importorskip("torch")
    results = {}
    reference = load_program(name, "torch")
    import torch

    # One thread: on a busy machine PyTorch's thread pool is many times slower on these tiny tensors.
    torch.set_num_threads(1)

    torch.manual_seed(args.seed)
    args.init_state = initial_state(make_model(reference))
    for library in ("torch", "tinyseq"):
        module = reference if library == "torch" else load_program(name, library)
        results[library] = module.main(args)
    return results["torch"], results["tinyseq"]


def assert_losses_match(theirs, ours, rtol):
    theirs, ours = np.asarray(theirs[:10]), np.asarray(ours[:10])
    assert len(ours) == len(theirs) == 10
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


# -- the word-level language model ---------------------------------------------------------------
def write_corpus(folder: Path, seed=0):
    """Sentences from a small grammar: enough structure for the loss to fall."""
    rng = np.random.default_rng(seed)
    subjects = ["the cat", "a dog", "my friend", "the old man", "she", "he", "the bird"]
    verbs = ["sees", "likes", "finds", "chases", "hears", "paints"]
    objects = ["the ball", "a house", "the river", "some bread", "the moon", "a red car"]
    tails = ["today", "again", "at night", "in the park", "", ""]

    def lines(n):
        out = []
        for _ in range(n):
            parts = [rng.choice(subjects), rng.choice(verbs), rng.choice(objects), rng.choice(tails)]
            out.append(" ".join(p for p in parts if p) + " .")
        return "\n".join(out) + "\n"

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text(lines(60))
    (folder / "valid.txt").write_text(lines(12))
    (folder / "test.txt").write_text(lines(12))


def lm_args(tmp_path, model, **kw):
    write_corpus(tmp_path / "corpus")
    args = dict(data=str(tmp_path / "corpus"), model=model, emsize=16, nhid=16, nlayers=2, lr=5.0, clip=0.25,
                epochs=2, batch_size=4, bptt=7, dropout=0.0, tied=True, seed=1, log_interval=5, cuda=False,
                save=str(tmp_path / f"{model}.pt"), double=True, nhead=2, init_state=None)  # fmt: skip
    args.update(kw)
    return types.SimpleNamespace(**args)


def make_lm(module, args):
    ntokens = len(module.TextCorpus(args.data).vocab)
    if args.model == "Transformer":
        return module.TransformerLM(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers, args.dropout)
    return module.RecurrentLM(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied)


@pytest.mark.parametrize("model", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU", "Transformer"])
def test_word_language_model(tmp_path, model):
    args = lm_args(tmp_path, model, tied=model != "Transformer")
    (theirs, their_val), (ours, our_val) = run_both("word_lm", args, lambda m: make_lm(m, args))
    assert_losses_match(theirs, ours, rtol=1e-10)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)  # the whole run, both epochs
    assert our_val == pytest.approx(their_val, rel=1e-9)  # validation after reloading the checkpoint
    assert ours[-1] < ours[0]


# -- the sine-wave predictor -------------------------------------------------------------------
@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_sine_wave_lbfgs(line_search):
    args = types.SimpleNamespace(n=8, length=40, period=5.0, hidden=12, lr=0.8, max_iter=5, steps=3, future=10,
                                 line_search=line_search, seed=2, init_state=None)  # fmt: skip
    (theirs, their_test), (ours, our_test) = run_both("sine_lbfgs", args, lambda m: m.WavePredictor(args.hidden))
    assert_losses_match(theirs, ours, rtol=1e-10)
    np.testing.assert_allclose(our_test, their_test, rtol=1e-9)


# -- the row-by-row image classifier ------------------------------------------------------------
@pytest.mark.parametrize("double,rtol", [(True, 1e-10), (False, 1e-5)])
def test_row_by_row_lstm_classifier(double, rtol):
    args = types.SimpleNamespace(n_train=96, n_test=32, size=14, hidden=24, layers=1, batch_size=8, lr=0.01, epochs=1,
                                 double=double, seed=3, init_state=None)  # fmt: skip
    (theirs, their_acc), (ours, our_acc) = run_both(
        "row_lstm", args, lambda m: m.RowReader(args.size, args.hidden, args.layers, 10)
    )
    assert_losses_match(theirs, ours, rtol=rtol)
    if double:
        assert our_acc == their_acc


def test_renamed_imports():
    src = "import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader\nfrom torch import optim\n"
    expected = "import tinyseq as torch\nimport tinyseq.nn as nn\nfrom tinyseq.utils.data import DataLoader\n"
    assert renamed_imports(src) == expected + "from tinyseq import optim\n"
