"""ts.viz.html: the interactive page as a document (the browser tests are in test_viz_html_browser.py)."""

import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.viz.draw import grad_colour
from tinyseq.viz.html import HTMLGraph

VOID = {"meta", "link", "input", "br", "hr", "img", "source", "wbr", "col", "area", "base", "embed", "track"}


class Balance(HTMLParser):
    """Checks that every element is closed, in order (void elements and <x/> excepted)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


def payload(doc: str) -> dict:
    m = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', doc, re.S)
    assert m is not None
    return json.loads(m.group(1))


def bilstm(T=5, fused=True, seed=0):
    ts.manual_seed(seed)
    lstm = ts.nn.LSTM(3, 4, num_layers=2, bidirectional=True, fused=fused)
    x = ts.randn(T, 2, 3)
    out, _ = lstm(x)
    return lstm, out, (out[-1] ** 2).sum()


def test_document_is_well_formed_and_self_contained(tmp_path):
    _, _, loss = bilstm()
    page = ts.viz.html(loss)
    assert isinstance(page, HTMLGraph)
    doc = str(page)
    assert doc.startswith("<!DOCTYPE html>")
    parser = Balance()
    parser.feed(doc)
    parser.close()
    assert parser.problems == [] and parser.stack == []
    # nothing to fetch: no URLs, no src/href attributes, no CSS imports or url()
    assert not re.search(r"(https?|ftp):|//[a-z0-9.-]+\.[a-z]{2,}/", doc, re.I)
    assert all("src" not in attrs and "href" not in attrs and "xlink:href" not in attrs for _, attrs in parser.tags)
    assert "@import" not in doc and "url(" not in doc
    ids = [attrs["id"] for _, attrs in parser.tags if "id" in attrs]
    assert len(ids) == len(set(ids)), "element ids must be unique on the page"
    # one SVG per detail level, cell shown first
    layouts = [(attrs["data-detail"], "hidden" in attrs) for tag, attrs in parser.tags if tag == "div" and
               "data-detail" in attrs]  # fmt: skip
    assert layouts == [("cell", False), ("op", True), ("module", True)]
    path = page.save(tmp_path / "sub" / "g.html")
    assert Path(path).read_text(encoding="utf-8") == doc


def test_hover_data_shapes_values_and_gradients():
    lstm, out, loss = bilstm()
    data = payload(str(ts.viz.html(loss)))
    cell = data["panels"][0]["layouts"]["cell"]
    cells = [m for m in cell["nodes"].values() if m.get("k") == "cell"]
    assert len(cells) == 2 * 2 * 5
    # a cell hands on h and c (but the last one of a direction only h), (batch 2, hidden 4),
    # with statistics and a gradient norm
    for m in cells:
        assert [o[:2] for o in m["o"]] in ([["(2, 4)", "float32"]] * 2, [["(2, 4)", "float32"]])
        assert all(o[2] is not None and o[3] is not None for o in m["o"])
    assert sum(len(m["o"]) == 1 for m in cells) == 4
    # the statistics are those of the values: last layer, forward direction, t=4 is out[4, :, :4]
    steps = data["steps"]
    last = next(m for m in cells if steps[m["s"]]["row"] == "layer 1 →" and steps[m["s"]]["t"] == 4)
    h = out.numpy()[4, :, :4].astype(np.float64)
    assert last["o"][0][2] == pytest.approx([h.min(), h.max(), h.mean(), np.linalg.norm(h)], rel=1e-3)
    # the step norms (and colours) are the static drawing's
    norms = ts.viz.gradient_norms(loss)
    top = max(v for series in norms.values() for v in series)
    for s in steps:
        lane = (int(s["row"].split()[1]), 0 if "→" in s["row"] else 1)
        assert s["g"] == pytest.approx(norms[lane][s["t"]], rel=1e-3)
        assert s["c"] == grad_colour(norms[lane][s["t"]], top)
    # no .grad was touched
    assert all(p.grad is None for p in lstm.parameters())
    # the shared weights' node lists every parameter with its shape
    weights = [m for m in cell["nodes"].values() if m.get("k") == "weights"]
    listed = {w[0]: w[1] for m in weights for w in m["w"]}
    assert listed == {name: "(" + ", ".join(map(str, p.shape)) + ("," if p.ndim == 1 else "") + ")"
                      for name, p in lstm.named_parameters()}  # fmt: skip


def test_every_step_node_is_tagged_with_its_t():
    _, _, loss = bilstm(T=4)
    data = payload(str(ts.viz.html(loss, details="op")))
    op = data["panels"][0]["layouts"]["op"]
    tagged = {}
    for m in op["nodes"].values():
        if "s" in m:
            tagged.setdefault(data["steps"][m["s"]]["t"], []).append(m)
    assert sorted(tagged) == [0, 1, 2, 3]
    # at detail "op" each step is its gate equations: many nodes per step, all tagged
    assert all(len(v) >= 4 * 5 for v in tagged.values())
    assert data["tvals"] == [0, 1, 2, 3]


def test_composed_layers_keep_values_too():
    _, out, loss = bilstm(T=3, fused=False)
    data = payload(str(ts.viz.html(loss, details=("op",))))
    nodes = data["panels"][0]["layouts"]["op"]["nodes"].values()
    with_values = [m for m in nodes if m.get("o") and m["o"][0][2] is not None]
    assert len(with_values) > 20


def test_long_sequence_page_is_small_and_elided():
    ts.manual_seed(0)
    lstm = ts.nn.LSTM(8, 32, num_layers=2, bidirectional=True)
    out, _ = lstm(ts.randn(200, 4, 8))
    start = time.perf_counter()
    doc = str(ts.viz.html((out[-1] ** 2).sum()))
    took = time.perf_counter() - start
    assert len(doc.encode("utf-8")) < 2_000_000
    data = payload(doc)
    assert data["tvals"] == list(range(200))  # the slider covers every step, drawn or elided
    elided = [m for m in data["panels"][0]["layouts"]["cell"]["nodes"].values() if m.get("k") == "elided"]
    assert len(elided) == 4 and all(m["e"] == list(range(3, 197)) for m in elided)
    assert took < 30


def test_several_graphs_share_one_page_and_one_colour_scale():
    ts.manual_seed(0)
    x = ts.randn(12, 2, 3)
    losses = {}
    for kind in ("RNN", "LSTM"):
        out, _ = getattr(ts.nn, kind)(3, 4)(x)
        losses[kind] = (out[-1] ** 2).sum()
    doc = str(ts.viz.html(losses, details=("cell",), max_steps=12))
    data = payload(doc)
    assert [p["name"] for p in data["panels"]] == ["RNN", "LSTM"]
    assert "<h2>RNN</h2>" in doc and "<h2>LSTM</h2>" in doc
    norms = {k: next(iter(ts.viz.gradient_norms(v).values())) for k, v in losses.items()}
    top = max(max(v) for v in norms.values())
    for s in data["steps"]:
        name = ("RNN", "LSTM")[s["p"]]
        assert s["c"] == grad_colour(norms[name][s["t"]], top)


def test_hand_written_loop_and_freed_graph():
    ts.manual_seed(0)
    W = ts.randn(3, 3, requires_grad=True)
    h = ts.zeros(1, 3)
    for t in range(3):
        with ts.viz.step(t):
            h = (h @ W + 1.0).tanh()
    loss = h.sum()
    loss.backward()  # frees the graph: no gradients to show, the rest still works
    data = payload(str(ts.viz.html(loss, params={"W": W}, details=("cell", "op"))))
    assert data["tvals"] == [0, 1, 2]
    assert all(s["g"] is None for s in data["steps"])
    nodes = data["panels"][0]["layouts"]["op"]["nodes"].values()
    assert any("W" in m.get("p", ()) for m in nodes)


def test_repr_html_is_an_isolated_frame():
    _, _, loss = bilstm(T=2)
    page = ts.viz.html(loss, details="cell")
    frame = page._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "<script" not in frame and "&lt;script" in frame


def test_bad_arguments():
    _, _, loss = bilstm(T=2)
    with pytest.raises(ValueError, match="viz.html: detail must be one of"):
        ts.viz.html(loss, details=("cells",))
    with pytest.raises(ValueError, match="at least one detail"):
        ts.viz.html(loss, details=())
    with pytest.raises(TypeError, match="viz.html: expected a tensor"):
        ts.viz.html("loss")
    with pytest.raises(TypeError, match="names"):
        ts.viz.html({1: loss})
    with pytest.raises(ValueError, match="viz.html: max_steps"):
        ts.viz.html(loss, max_steps=1)


def test_cli_writes_a_page(tmp_path):
    from tinyseq.viz.__main__ import main

    path = main(["gru", "--steps", "3", "--detail", "op", "-o", str(tmp_path / "gru.html")])
    doc = Path(path).read_text(encoding="utf-8")
    assert path.endswith("gru.html")
    assert payload(doc)["details"] == ["op", "cell", "module"]


def test_gradients_after_backward_with_retain_graph():
    lstm, _, loss = bilstm(T=3)
    loss.backward(retain_graph=True)
    grads = {name: p.grad.numpy().copy() for name, p in lstm.named_parameters()}
    data = payload(str(ts.viz.html(loss, details="cell")))
    assert all(s["g"] is not None for s in data["steps"]) and sum(s["g"] > 0 for s in data["steps"]) >= 9
    for name, p in lstm.named_parameters():  # the page's backward pass accumulated nothing
        np.testing.assert_array_equal(p.grad.numpy(), grads[name])


def test_example_writes_the_page(tmp_path):
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("draw_unrolled", root / "examples" / "draw_unrolled.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    (path,) = example.main(["--html", "--smoke", "--out", str(tmp_path)])
    data = payload(Path(path).read_text(encoding="utf-8"))
    assert [p["name"] for p in data["panels"]] == ["RNN, loss on h at t=9", "LSTM, loss on h at t=9"]
    assert data["tvals"] == list(range(10))
