"""The README's headline claims about the examples, each checked by training the example at a reduced
but meaningful size, with a fixed seed and a wide margin. Slow: they run with --runslow.

Every test runs an example from the command line, in a process of its own with one BLAS thread (as
the example sets when it is started that way), and asserts the qualitative result the README
reports (the model beats its baseline; one model beats another), not its exact numbers. A change
that breaks learning anywhere (an op's gradient, an optimizer, a recurrent layer) fails here even
when every unit test still passes."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.slow
pytest.importorskip("matplotlib")


def run(name, tmp_path, *argv):
    """python examples/<name>.py *argv --seed 0 -> its results.json."""
    out = tmp_path / name
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # fmt: skip
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *argv, "--out", str(out), "--seed", "0"],
                          env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def test_adding_problem_rnn_fails_at_50_steps_where_lstm_and_gru_succeed(tmp_path):
    r = run("long_term_dependency", tmp_path, "--lengths", "50", "--steps", "1200")
    mse = {row["model"]: row["test_mse"] for row in r["rows"]}
    baseline = r["baseline"]["50"]["mse"]
    assert mse["RNN"] > 0.6 * baseline  # stays near "always 1.0"
    assert mse["LSTM"] < 0.01 and mse["GRU"] < 0.01


def test_adding_problem_forget_bias_one_keeps_the_lstm_gradient_alive(tmp_path):
    """At initialisation, T = 100: with the forget-gate bias at 1 the gradient reaching t = 0 is many
    orders of magnitude larger than with PyTorch's default initialisation."""
    r = run("long_term_dependency", tmp_path, "--lengths", "100", "--steps", "1", "--test-size", "200")
    fresh = r["gradient_norms"]["at initialisation"]
    default = fresh["LSTM, forget bias from PyTorch's default init"]
    assert fresh["LSTM"][0] > 1e8 * default[0]  # [norm at t=0, norm at t=T-1]
    assert fresh["LSTM"][0] > 1e-11 and default[0] < 1e-15


def test_bilstm_beats_the_unidirectional_lstm_by_twenty_points(tmp_path):
    r = run("bidirectional_tagging", tmp_path, "--steps", "700")
    acc = r["accuracy"]
    assert acc["BiLSTM"] > 0.85 and acc["BiLSTM"] - acc["LSTM"] > 0.2  # 700 steps, seed 0: 92.5% vs 60.6%
    assert acc["LSTM"] < 0.75 and acc["LSTM"] > r["majority_baseline"]


def test_seq2seq_attention_beats_the_final_state_alone(tmp_path):
    with_attention = run("seq2seq_number_words", tmp_path / "a", "--steps", "500")
    without = run("seq2seq_number_words", tmp_path / "b", "--steps", "500", "--no-attention")
    assert with_attention["accuracy"] > 0.9
    assert with_attention["accuracy"] - without["accuracy"] > 0.15


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_convlstm_beats_copying_the_last_frame(cell, tmp_path):
    r = run("convlstm_moving_digits", tmp_path, "--steps", "500", "--cell", cell)
    assert r["test_mse"] < 0.7 * r["copy_last_mse"]


def test_sunspot_lstm_beats_persistence(tmp_path):
    r = run("forecast_sliding_window", tmp_path)
    rmse = r["test_rmse"]
    assert rmse["LSTM"] < 0.7 * rmse["persistence"]


def test_char_lstm_beats_the_unigram_model(tmp_path):
    r = run("char_lstm", tmp_path, "--steps", "300", "--hidden", "96", "--layers", "1", "--max-chars", "300000",
            "--eval-every", "300")  # fmt: skip
    assert r["validation_bpc"] < r["unigram_entropy_bits"] - 1.0


def test_captioning_beats_the_nearest_scene_and_the_commonest_caption(tmp_path):
    r = run("image_captioning", tmp_path, "--steps", "1200")
    greedy, beam = r["decoders"]["greedy"], r["decoders"]["beam search (3)"]
    nearest = r["baselines"]["nearest training scene's caption"]
    assert greedy["exact_match"] > 0.6 and greedy["exact_match"] > nearest["exact_match"] + 0.25
    assert greedy["bleu4"] > nearest["bleu4"] + 0.2
    assert abs(beam["exact_match"] - greedy["exact_match"]) < 0.1  # on this task beam search changes little


def test_docstring_classifiers_both_far_beat_the_commonest_package(tmp_path):
    r = run("docstring_classifier", tmp_path, "--epochs", "12")
    acc = r["test_accuracy"]
    assert acc["BiLSTM"] > 2.5 * r["majority_baseline"] and acc["bag of words"] > 2.5 * r["majority_baseline"]
    assert abs(acc["BiLSTM"] - acc["bag of words"]) < 0.15  # the words carry the topic: order adds little here


def test_action_recognition_needs_motion(tmp_path):
    r = run("action_recognition", tmp_path, "--steps", "400")
    acc = r["accuracy"]
    assert acc["ConvLSTM"] > 0.9
    assert acc["ConvLSTM"] > acc["single frame"] + 0.25 and acc["CNN -> LSTM"] > acc["single frame"] + 0.15


def test_clipping_tames_exploding_gradients(tmp_path):
    r = run("exploding_gradients", tmp_path, "--steps", "300", "--sweep")
    free, clipped = r["runs"]["none"], r["runs"]["1.0"]
    assert clipped["valid_loss"] < 2.0 and clipped["diverged_at"] is None
    assert free["diverged_at"] is not None or free["valid_loss"] > clipped["valid_loss"] + 1.0
    assert free["largest_grad_norm"] > 20 * clipped["median_grad_norm"]
    assert math.isfinite(clipped["largest_grad_norm"])
