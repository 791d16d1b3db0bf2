"""The example programs: each runs end to end in its --smoke size, on the CPU and on the
strict test device, writes its pictures and reports a finite loss; their data generators
make what their docstrings promise."""

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = [
    "min_char_rnn",
    "char_lstm",
    "long_term_dependency",
    "forecast_sliding_window",
    "bidirectional_tagging",
    "convlstm_moving_digits",
    "seq2seq_number_words",
    "image_captioning",
    "docstring_classifier",
    "action_recognition",
    "exploding_gradients",
]

pytest.importorskip("matplotlib")


def example(name):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


def devices():
    out = ["cpu"]
    try:
        importlib.import_module("tinyseq.devices.strict")
    except ImportError:
        return out
    return out + ["strict"]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("name", NAMES)
def test_example_runs_in_smoke_size(name, device, tmp_path):
    results = example(name).main(["--smoke", "--out", str(tmp_path), "--device", device])
    assert math.isfinite(results["final_loss"])
    assert results["pictures"]
    for picture in results["pictures"]:
        path = Path(picture)
        assert path.parent == tmp_path and path.stat().st_size > 1000
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "results.json").exists()


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_moving_digits_run_with_a_convgru_or_a_convrnn(cell, tmp_path):
    results = example("convlstm_moving_digits").main(["--smoke", "--out", str(tmp_path), "--cell", cell])
    assert results["cell"] == {"gru": "ConvGRU", "rnn": "ConvRNN"}[cell] and math.isfinite(results["test_mse"])


def test_char_lstm_resumes_from_its_checkpoint(tmp_path):
    char_lstm = example("char_lstm")
    first = char_lstm.main(["--smoke", "--out", str(tmp_path), "--steps", "6"])
    assert first["steps"] == 6 and (tmp_path / "checkpoint.npz").exists()
    import tinyseq as ts

    saved = ts.load(tmp_path / "checkpoint.npz")
    assert saved["step"] == 6 and len(saved["history"]) == 6
    second = char_lstm.main(["--smoke", "--out", str(tmp_path), "--steps", "9", "--resume"])
    assert second["steps"] == 9
    assert len(ts.load(tmp_path / "checkpoint.npz")["history"]) == 9


def test_char_lstm_refuses_a_checkpoint_of_another_corpus(tmp_path):
    char_lstm = example("char_lstm")
    char_lstm.main(["--smoke", "--out", str(tmp_path), "--steps", "6"])
    text = tmp_path / "other.txt"
    text.write_text("abcabcabc " * 300)
    with pytest.raises(SystemExit, match="different vocabulary"):
        char_lstm.main(["--smoke", "--out", str(tmp_path), "--steps", "9", "--resume", "--text", str(text)])


def test_examples_reject_an_unknown_device(tmp_path):
    with pytest.raises(ValueError, match="unknown device 'nowhere'"):
        example("bidirectional_tagging").main(["--smoke", "--out", str(tmp_path), "--device", "nowhere"])


def test_moving_digits_keep_one_whole_digit_inside_the_frame():
    mod = example("convlstm_moving_digits")
    for scale, speed in ((1, 1), (2, 2)):
        video = mod.moving_digits(np.random.default_rng(0), 20, 30, 24, scale, speed)
        assert video.shape == (30, 20, 1, 24, 24)
        ink = video.sum(axis=(2, 3, 4))  # (frames, videos): a whole glyph in every frame
        assert np.all(ink == ink[0]) and np.all(ink[0] > 0)
        top = np.argmax(video[:, :, 0].any(axis=3), axis=2)  # first inked row, (frames, videos)
        left = np.argmax(video[:, :, 0].any(axis=2), axis=2)
        for pos in (top, left):  # moving, never faster than speed pixels per frame
            assert 1 <= np.abs(np.diff(pos, axis=0)).max() <= speed
    with pytest.raises(SystemExit, match="too small for a 14x10 digit"):
        mod.moving_digits(np.random.default_rng(0), 1, 2, 12, scale=2)


def test_tags_mark_symbols_that_appear_again_later():
    mod = example("bidirectional_tagging")
    args = mod.parse_args(["--symbols", "5", "--min-len", "3", "--max-len", "9"])
    for symbols, tags in mod.make_sequences(np.random.default_rng(0), 50, args):
        assert 3 <= len(symbols) <= 9
        assert tags.tolist() == [int(s in symbols[t + 1 :]) for t, s in enumerate(symbols)]


def test_adding_problem_targets_sum_one_marked_value_per_half():
    mod = example("long_term_dependency")
    x, y = mod.adding_batch(np.random.default_rng(0), 64, 20, "cpu")
    x, y = x.numpy(), y.numpy()
    markers = x[:, :, 1]
    assert np.all(markers[:10].sum(0) == 1) and np.all(markers[10:].sum(0) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(0), rtol=1e-6)


def test_sunspot_file_reads_as_yearly_values():
    years, values = example("forecast_sliding_window").load_sunspots()
    assert years[0] == 1700 and years[-1] == 2008 and np.all(np.diff(years) == 1)
    assert values.min() >= 0 and 150 < values.max() < 200  # cycle 19's peak, 1957: 190.2


def test_the_same_seed_repeats_a_run(tmp_path):
    mod = example("min_char_rnn")
    runs = [mod.main(["--smoke", "--out", str(tmp_path / str(i)), "--seed", "3"]) for i in range(2)]
    assert runs[0]["final_smooth_loss"] == runs[1]["final_smooth_loss"]
    assert (tmp_path / "0" / "samples.txt").read_text() == (tmp_path / "1" / "samples.txt").read_text()


def test_number_words_are_english_and_one_to_one():
    m = example("seq2seq_number_words")
    assert " ".join(m.words(0)) == "zero"
    assert " ".join(m.words(400_021)) == "four hundred thousand twenty one"
    assert " ".join(m.words(1_000_000_017)) == "one billion seventeen"
    assert " ".join(m.words(999_999_999_999)).count("nine hundred ninety nine") == 4
    numbers = m.sample_numbers(np.random.default_rng(0), 3000, 10**12)
    assert numbers.min() >= 0 and numbers.max() < 10**12
    assert len({len(str(int(n))) for n in numbers}) == 12  # every number of digits is drawn
    texts = {" ".join(m.words(int(n))) for n in set(numbers.tolist())}
    assert len(texts) == len(set(numbers.tolist()))  # distinct numbers, distinct sentences
    source, lengths, target, inputs = m.encode([5, 120], "cpu")
    assert lengths.tolist() == [1, 3] and source.shape == (3, 2)
    assert target[:, 0].tolist() == [5, m.END, m.IGNORE, m.IGNORE] and inputs[0].tolist() == [m.START] * 2


def test_resume_without_a_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(SystemExit, match=r"--resume: no checkpoint at .*checkpoint\.npz\. Run once without --resume"):
        example("char_lstm").main(["--smoke", "--out", str(tmp_path), "--steps", "3", "--resume"])


def test_resume_to_no_further_step_is_refused_before_overwriting_outputs(tmp_path):
    char_lstm = example("char_lstm")
    char_lstm.main(["--smoke", "--out", str(tmp_path), "--steps", "4"])
    results = (tmp_path / "results.json").read_text()
    for steps in ("4", "2"):
        with pytest.raises(SystemExit, match=rf"already at step 4, and --steps {steps} asks for no more"):
            char_lstm.main(["--smoke", "--out", str(tmp_path), "--steps", steps, "--resume"])
    assert (tmp_path / "results.json").read_text() == results


def test_resume_from_a_damaged_checkpoint_says_so(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match=r"--resume: cannot read the checkpoint"):
        example("char_lstm").main(["--smoke", "--out", str(tmp_path), "--steps", "3", "--resume"])


def quarter(image, q, half=12):
    """Quadrant q (0 top left, 1 top right, 2 bottom left, 3 bottom right) of a (3, 2*half, 2*half) image."""
    return image[:, (q // 2) * half : (q // 2 + 1) * half, (q % 2) * half : (q % 2 + 1) * half]


def test_scene_captions_name_each_shape_in_reading_order():
    m = example("image_captioning")
    images, captions = m.make_scenes(np.random.default_rng(0), 200, 24)
    assert images.shape == (200, 3, 24, 24) and 0 <= images.min() and images.max() <= 1
    for image, words in zip(images, captions):
        objects = " ".join(words).split(" and ")
        assert 1 <= len(objects) <= 2
        places = [" ".join(o.split()[4:]) for o in objects]
        assert places == sorted(places, key=m.PLACES.index) and len(set(places)) == len(places)
        for o, place in zip(objects, places):
            a, color, shape, at = o.split()[:4]
            assert (a, at) == ("a", "at") and color in m.COLORS and shape in m.SHAPES
            q = m.PLACES.index(place)  # that quadrant holds ink of exactly that colour
            quadrant = quarter(image, q)
            ink = quadrant.reshape(3, -1)[:, quadrant.max(0).ravel() > 0]
            assert ink.shape[1] > 0 and np.allclose(ink, np.array(m.COLORS[color])[:, None])
        empty = [q for q in range(4) if m.PLACES[q] not in places]
        assert all(quarter(image, q).max() == 0 for q in empty)


def test_caption_decoders_and_bleu():
    m = example("image_captioning")
    ref = "a red circle at top left".split()
    assert m.bleu([ref], [ref]) == pytest.approx(1.0)
    assert m.bleu([ref[:3]], [ref]) < m.bleu([ref[:5]], [ref]) < 1.0  # shorter is penalised
    assert m.bleu([["a", "blue"]], [ref]) == 0.0
    inputs, targets = m.encode_captions([ref, ref[:2]])
    assert inputs[:, 1].tolist() == [m.WORD[w] for w in ["<start>", "a", "red"] + ["<pad>"] * 4]
    assert targets[:, 1].tolist() == [m.WORD["a"], m.WORD["red"], m.WORD["<end>"]] + [m.IGNORE] * 4
    import tinyseq as ts

    ts.manual_seed(0)
    model = m.Captioner(12, 8)
    images = ts.tensor(m.make_scenes(np.random.default_rng(1), 3, 12)[0])
    greedy = m.greedy(model, images, 6, "cpu")
    assert len(greedy) == 3 and all(len(c) <= 7 for c in greedy)
    assert m.beam_search(model, images, 1, 6, "cpu") == greedy  # a beam of one is greedy decoding


def test_docstrings_are_read_with_their_package(tmp_path):
    m = example("docstring_classifier")
    (tmp_path / "pkg" / "tests").mkdir(parents=True)
    (tmp_path / "pkg" / "mod.py").write_text(
        '"""Module text here.\n\nMore."""\ndef f():\n    """Return the thing."""\nclass C:\n    """Too short"""\n'
    )
    (tmp_path / "pkg" / "tests" / "test_x.py").write_text('def g():\n    """A test helper docstring."""\n')
    assert m.read_docstrings(["pkg"], tmp_path) == [("Module text here.", "pkg"), ("Return the thing.", "pkg")]
    assert m.tokens("Return the list's items, sorted.", 5) == ["return", "the", "list", "'", "s"]
    train, valid, test = m.split([("same", "a"), ("same", "b"), ("x", "a")] + [(str(i), "a") for i in range(20)],
                                 np.random.default_rng(0))  # fmt: skip
    texts = [t for t, _ in train + valid + test]
    assert "same" not in texts and len(texts) == len(set(texts)) == 21


def test_action_clips_move_the_way_their_class_says():
    m = example("action_recognition")
    labels = np.repeat(np.arange(len(m.ACTIONS)), 25)
    clips, out = m.make_clips(np.random.default_rng(0), len(labels), 8, 16, labels)
    assert clips.shape == (8, len(labels), 1, 16, 16) and np.all(out == labels)
    ink = clips[:, :, 0]
    yy, xx = np.mgrid[0:16, 0:16]
    mass = ink.sum(axis=(2, 3))  # (frames, clips)
    cy, cx = (ink * yy).sum(axis=(2, 3)) / mass, (ink * xx).sum(axis=(2, 3)) / mass
    whole = np.abs(mass / mass[0] - 1).max(axis=0) < 0.02  # clips whose bar never reaches past an edge
    for k, action in enumerate(m.ACTIONS):
        sel = labels == k
        dy, dx, grow = cy[-1, sel] - cy[0, sel], cx[-1, sel] - cx[0, sel], mass[-1, sel] - mass[0, sel]
        step = {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0)}.get(action)
        if step:  # seven pixels in seven frames; a bar that slides partly out of view moves its centroid less
            assert np.all(dy * step[0] + dx * step[1] > 3) and np.all(np.abs(dy * step[1] + dx * step[0]) < 1.0)
            np.testing.assert_allclose(np.hypot(dy, dx)[whole[sel]], 7, atol=0.1)
            assert whole[sel].mean() > 0.5
        elif action in ("grow", "shrink"):
            assert np.all(np.sign(grow) == (1 if action == "grow" else -1))
            np.testing.assert_allclose(np.hypot(dy, dx), 0, atol=0.3)
        else:  # turning on the spot, inside the frame
            sub = ink[:, sel]
            edges = np.concatenate([sub[:, :, 0], sub[:, :, -1], sub[:, :, :, 0], sub[:, :, :, -1]], axis=-1)
            assert edges.max() < 0.5
            np.testing.assert_allclose(np.hypot(dy, dx), 0, atol=0.3)
