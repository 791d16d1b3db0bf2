"""The README's drawings: made by examples/draw_unrolled.py --readme, each in under 2 s, kept in docs/."""

import importlib.util
import re
import struct
from pathlib import Path

import pytest

from tinyseq.viz.render import find_renderer

ROOT = Path(__file__).resolve().parents[2]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("draw_unrolled", ROOT / "examples" / "draw_unrolled.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(find_renderer() is None, reason="no Graphviz renderer")
def test_readme_drawings_render_fast_and_match_docs(example, tmp_path):
    times = example.readme_drawings(tmp_path)
    slow = {name: round(sec, 2) for name, sec in times.items() if sec > 2.0}
    assert not slow, slow
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"\]\(docs/(\w+)\.png\)", readme))
    assert shown == set(example.README_DRAWINGS)
    same_renderer = Path(find_renderer()[0]).name.startswith("graphviz-pure")
    for name in times:
        made, kept = tmp_path / f"{name}.png", ROOT / "docs" / f"{name}.png"
        assert kept.is_file(), f"docs/{name}.png is missing: run python examples/draw_unrolled.py --readme docs"
        w, h = png_size(made)
        assert 300 < w <= 1900 and 300 < h <= 1000, (name, w, h)
        if same_renderer:  # the committed picture is this one (same seed, same layout)
            assert png_size(kept) == (w, h), name
