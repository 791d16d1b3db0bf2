"""The command line (python -m tinyseq.viz) and the drawing example."""

import subprocess
import sys
from pathlib import Path

import pytest
from test_viz_dot import clusters, labelled, weights

import tinyseq as ts
from tinyseq.viz.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
needs_layers = pytest.mark.skipif(not hasattr(ts.nn, "LSTM"), reason="recurrent layers not available")


@needs_layers
def test_cli_writes_dot_source(tmp_path):
    out = main(["lstm", "--layers", "2", "--bidirectional", "--steps", "4", "-o", str(tmp_path / "lstm.dot")])
    src = Path(out).read_text(encoding="utf-8")
    assert len(clusters(src)) == 2 * 2 * 4
    assert "weight_hh_l1_reverse" in weights(src)


@needs_layers
def test_cli_op_detail_draws_the_gates_of_the_default_layer(tmp_path):
    src = Path(main(["gru", "--detail", "op", "--steps", "2", "-o", str(tmp_path / "g.gv")])).read_text()
    assert labelled(src, "r = σ(·)  reset") and not labelled(src, "GRUCell")
    composed = Path(main(["gru", "--composed", "--detail", "op", "--steps", "2", "-o", str(tmp_path / "c.gv")]))
    assert len(labelled(composed.read_text(), "r = σ(·)  reset")) == len(labelled(src, "r = σ(·)  reset")) == 2


@needs_layers
def test_cli_renders_by_extension_or_format(tmp_path):
    svg = main(["rnn", "--steps", "12", "--show-grad", "-o", str(tmp_path / "sub" / "rnn.svg")])
    text = Path(svg).read_text(encoding="utf-8")
    assert svg.endswith("rnn.svg") and "… 6 steps …" in text and "‖g‖=" in text
    png = main(["rnn", "--backward", "--format", "png", "-o", str(tmp_path / "rnn.out")])
    assert png.endswith("rnn.out.png") and Path(png).read_bytes()[:4] == b"\x89PNG"


def test_cli_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit):
        main(["lstm", "--steps", "0"])
    assert "--steps must be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["transformer"])
    assert "invalid choice: 'transformer'" in capsys.readouterr().err


@needs_layers
def test_python_dash_m(tmp_path):
    out = tmp_path / "lstm.svg"
    run = subprocess.run(
        [sys.executable, "-m", "tinyseq.viz", "lstm", "--steps", "3", "-o", str(out)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(out) and "layer 0 →" in out.read_text(encoding="utf-8")


@needs_layers
def test_example_smoke(tmp_path):
    pytest.importorskip("matplotlib")
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "draw_unrolled.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    names = {p.name for p in tmp_path.iterdir()}
    for model in ("rnn", "lstm", "gru", "lstm2bi"):
        assert {f"{model}_cell.svg", f"{model}_op.svg"} <= names
    assert {"rnn_long_grad.svg", "lstm_backward.svg", "gradient_flow.png"} <= names
    assert "RNN (hidden 8)" in run.stdout
