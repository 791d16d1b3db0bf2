"""Rendering DOT graphs to SVG/PNG, with a system ``dot`` or the pip fallback."""

import xml.etree.ElementTree as ET

import pytest

from tinyseq.viz import render as _render
from tinyseq.viz.render import Digraph, find_renderer, render_source

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_ROOT = "{http://www.w3.org/2000/svg}svg"


def make_graph() -> Digraph:
    g = Digraph("model", graph_attr={"rankdir": "LR"})
    with g.subgraph(name="cluster_encoder") as c:
        c.attr(label="Encoder", style="filled", fillcolor="#eef4ff")
        c.node("emb", "Embedding", shape="box")
        c.node("lstm", "{LSTM|{in: 64|out: 128}}", shape="record")
    with g.subgraph(name="cluster_decoder") as c:
        c.attr(label="Decoder", color="red")
        c.node("att", "Attention", shape="ellipse")
        c.node("out", "Linear", shape="box")
    g.edge("emb", "lstm", label="(B, T, 64)")
    g.edge("lstm", "att", label="h", color="red")
    g.edge("att", "out", label="ctx")
    return g


@pytest.fixture(params=["default", "fallback"])
def mode(request, monkeypatch):
    """Run each test with whatever renderer is found, and once more with a
    system ``dot`` hidden so the pip fallback is exercised even where
    Graphviz is installed."""
    if request.param == "fallback":
        monkeypatch.setattr(_render, "system_dot", lambda: None)
        if find_renderer() is None:
            pytest.fail("no fallback renderer: is graphviz-pure installed?")
    return request.param


def parse_svg(text: str) -> ET.Element:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == SVG_ROOT
    return root


def test_render_svg(tmp_path, mode):
    path = make_graph().render(tmp_path / "g", format="svg")
    assert path == str(tmp_path / "g.svg")
    root = parse_svg((tmp_path / "g.svg").read_text(encoding="utf-8"))
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Encoder", "Decoder", "LSTM", "(B, T, 64)"} <= texts
    assert (tmp_path / "g").exists()  # the DOT source is kept, as graphviz does


def test_render_png_cleanup(tmp_path, mode):
    path = make_graph().render(tmp_path / "g", format="png", cleanup=True)
    data = (tmp_path / "g.png").read_bytes()
    assert path == str(tmp_path / "g.png")
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert not (tmp_path / "g").exists()


def test_render_outfile(tmp_path, mode, monkeypatch):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = make_graph().render(outfile=tmp_path / "out.svg")
    assert path == str(tmp_path / "out.svg")
    parse_svg((tmp_path / "out.svg").read_text(encoding="utf-8"))
    assert (tmp_path / "out.gv").is_file() and not list(elsewhere.iterdir())  # the source beside the picture


def test_pipe_and_jupyter(mode):
    g = make_graph()
    assert g.pipe(format="png").startswith(PNG_MAGIC)
    parse_svg(g.pipe(format="svg", encoding="utf-8"))
    bundle = g._repr_mimebundle_()
    parse_svg(bundle["image/svg+xml"])
    parse_svg(g._repr_svg_())


def test_render_source(tmp_path, mode):
    out = render_source(make_graph().source, tmp_path / "sub" / "s", "svg")
    assert out == str(tmp_path / "sub" / "s.svg")
    parse_svg((tmp_path / "sub" / "s.svg").read_text(encoding="utf-8"))


def test_renderer_error_is_reported(tmp_path):
    with pytest.raises(RuntimeError, match="syntax error"):
        render_source("digraph { a -> ; }", tmp_path / "bad", "svg")


def test_no_renderer_message(tmp_path, monkeypatch):
    monkeypatch.setattr(_render, "find_renderer", lambda: None)
    monkeypatch.setattr(_render, "system_dot", lambda: None)
    with pytest.raises(RuntimeError, match="pip install graphviz-pure") as err:
        render_source("digraph { a -> b }", tmp_path / "g", "svg")
    assert "Graphviz" in str(err.value)
    with pytest.raises(RuntimeError, match="no Graphviz renderer found"):
        make_graph().render(tmp_path / "g", format="svg")
    assert not (tmp_path / "g.svg").exists()


def test_non_ascii_labels_render_quietly(tmp_path, mode, capsys):
    g = Digraph("arrows")
    g.node("a", "layer 0 → · t=3")
    g.node("b", "… 5 steps …")
    g.edge("a", "b", label="‖g‖=1.0e-03")
    g.render(tmp_path / "arrows", format="svg")
    text = (tmp_path / "arrows.svg").read_text(encoding="utf-8")
    assert "layer 0 → · t=3" in text and "… 5 steps …" in text
    assert "non-ASCII" not in capsys.readouterr().err
