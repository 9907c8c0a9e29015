"""Export of the language model: the sequence graph against rnnkit at new shapes, the streaming
graph step by step against the sequence graph, and the numpy + onnxruntime runner's generation
and scoring against rnnkit's (also with torch blocked), with its char / word / BPE tokenisers."""

import json
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit.deploy import runner
from rnnkit.export import ExportError, export

TEXT = "".join(f"{name}: to be or not to be, that is the question.\n"
               for name in ("ROMEO", "JULIET", "HAMLET", "小明") * 25)
#: Text to score: known characters, a line break, and 'Z' and '?' never seen in training.
SCORED = "JULIET: to be or not to be, that is\n小明: the question? ZZ\n"


def _train(folder, name, **options):
    data = folder / "text.txt"
    data.write_text(TEXT, encoding="utf-8")
    return rnnkit.train(
        "lm", data=str(data), batch_size=4, chunk_len=16, epochs=3, lr=1e-2, sample_length=0,
        plots=False, quiet=True, runs_root=str(folder / "runs"), name=name, **options,
    ).run_dir


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    """A two-layer character LSTM (two states per layer) with both graphs exported side by
    side under the default names, so the runner finds the streaming graph by itself."""
    folder = tmp_path_factory.mktemp("lm-lstm")
    run = _train(folder, "lstm", hidden_size=16, num_layers=2)
    out = folder / "deploy"
    out.mkdir()
    reports = {"sequence": export(run, out / "lm.onnx"),
               "streaming": export(run, out / "lm.streaming.onnx", streaming=True)}
    return run, out, reports


@pytest.fixture(scope="module")
def gru_words(tmp_path_factory):
    """A one-layer word-level GRU (one state), sequence graph only."""
    folder = tmp_path_factory.mktemp("lm-gru")
    run = _train(folder, "gru", hidden_size=16, cell="gru", tokenizer="word")
    export(run, folder / "words.onnx")
    return run, folder / "words.onnx"


def test_sequence_graph_agrees_with_rnnkit_at_new_shapes(lstm):
    run, out, reports = lstm
    a = reports["sequence"].agreement
    assert (a.batch, a.steps) != (3, 7)  # verified away from the traced shapes
    assert a.ok and a.max_scaled <= 1e-5, a
    assert set(a.per_output) == {"logits", "h_n", "c_n"}
    meta = json.loads((out / "lm.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "language-model" and meta["graph"] == "sequence"
    assert meta["inputs"] == ["x", "h0", "c0"] and meta["outputs"] == ["logits", "h_n", "c_n"]
    assert meta["state"] == {"count": 2, "layers": 2, "directions": 1, "hidden_size": 16}
    # The tokenizer travels in the JSON: the vocabulary the model was trained with.
    tokens = rnnkit.load(run).tokenizer.vocabulary.tokens
    assert meta["preprocessing"]["tokenizer"] == {"kind": "char", "tokens": tokens}


def test_gru_word_model_exports_with_one_state(gru_words):
    _, path = gru_words
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["inputs"] == ["x", "h0"] and meta["outputs"] == ["logits", "h_n"]
    assert meta["preprocessing"]["tokenizer"]["kind"] == "word"


def test_streaming_graph_step_by_step_equals_the_sequence_graph(lstm):
    _, out, reports = lstm
    assert reports["streaming"].graph == "streaming" and reports["streaming"].agreement.ok
    seq = runner.Model(out / "lm.onnx", json.loads((out / "lm.json").read_text()))
    step = runner.Model(out / "lm.streaming.onnx",
                        json.loads((out / "lm.streaming.json").read_text()))
    rng = np.random.default_rng(0)
    B, T = 3, 11
    x = rng.integers(0, seq.meta["model"]["vocab_size"], size=(B, T)).astype(np.int64)
    h0 = rng.normal(0, 0.5, size=(2, B, 16)).astype(np.float32)
    c0 = rng.normal(0, 0.5, size=(2, B, 16)).astype(np.float32)
    want = seq.run(x=x, h0=h0, c0=c0)
    state, logits = {"h": h0, "c": c0}, []
    for t in range(T):
        got = step.run(x_t=x[:, t], **state)
        state = {"h": got["h_n"], "c": got["c_n"]}
        logits.append(got["logits"])
    np.testing.assert_allclose(np.stack(logits, axis=1), want["logits"], atol=1e-5)
    np.testing.assert_allclose(state["h"], want["h_n"], atol=1e-5)
    np.testing.assert_allclose(state["c"], want["c_n"], atol=1e-5)


@pytest.mark.parametrize("prompt", ["ROMEO:", "小明: to", None])
def test_runner_greedy_generation_is_rnnkits(lstm, prompt):
    run, out, _ = lstm
    model = runner.load(out / "lm.onnx")
    assert model.step_graph is not None  # found lm.streaming.onnx beside it
    want = rnnkit.generate(run, prompt, 60, temperature=0)
    assert model.generate(prompt, 60, temperature=0) == want
    # top_k=1 and a tiny nucleus leave one token: the same text whatever the seed.
    assert model.generate(prompt, 60, temperature=0.7, top_k=1, seed=5) == want
    assert model.generate(prompt, 60, temperature=1.3, top_p=1e-9, seed=6) == want


def test_runner_greedy_generation_of_a_word_model_is_rnnkits(gru_words):
    run, path = gru_words
    model = runner.load(path)  # the sequence graph alone: steps are calls with T = 1
    assert model.step_graph is None
    want = rnnkit.generate(run, "JULIET: to be", 25, temperature=0)
    assert model.generate("JULIET: to be", 25, temperature=0) == want
    assert len(want.split()) >= 20  # 25 words and line ends


def test_runner_score_is_rnnkits_evaluate_loss(lstm, gru_words, tmp_path):
    run, out, _ = lstm
    (tmp_path / "s.txt").write_text(SCORED, encoding="utf-8")
    want = rnnkit.evaluate(run, str(tmp_path / "s.txt"))["loss"]
    assert abs(runner.load(out / "lm.onnx").score(SCORED) - want) < 1e-4
    # The streaming graph alone scores token by token, to the same number.
    alone = runner.load(out / "lm.streaming.onnx", companion=None)
    assert alone.sequence_graph is not None  # found lm.onnx beside it
    alone.sequence_graph = None
    assert abs(alone.score(SCORED) - want) < 1e-4
    word_run, word_path = gru_words
    want_words = rnnkit.evaluate(word_run, str(tmp_path / "s.txt"))["loss"]
    assert abs(runner.load(word_path).score(SCORED) - want_words) < 1e-4


def test_sampling_is_seeded_and_checks_its_arguments(lstm):
    _, out, _ = lstm
    model = runner.load(out / "lm.onnx")
    a = model.generate("ROMEO:", 50, temperature=1.0, seed=1)
    assert a == model.generate("ROMEO:", 50, temperature=1.0, seed=1)
    assert len(a) == 50  # one character per token
    others = {model.generate("ROMEO:", 50, temperature=1.0, seed=s) for s in range(2, 6)}
    assert len(others | {a}) > 1
    with pytest.raises(ValueError, match="length must be an int >= 0, got -1"):
        model.generate("ROMEO:", -1)
    with pytest.raises(ValueError, match=r"temperature must be a finite number >= 0, got -0\.5"):
        model.generate("ROMEO:", 5, temperature=-0.5)
    with pytest.raises(ValueError, match=r"top_p must be None or a number in \(0, 1\], got 0"):
        model.generate("ROMEO:", 5, top_p=0)
    with pytest.raises(ValueError, match="text must hold at least 2 tokens to score, got 1"):
        model.score("R")


def test_runner_tokenizers_are_rnnkits():
    from rnnkit.text.tokenizers import CharTokenizer, WordTokenizer

    sample = "ROMEO: to be, 小明!\nnot  to be\n\tZ"
    for tok in (CharTokenizer.fit(TEXT), WordTokenizer.fit(TEXT)):
        mine = runner.TextTokenizer(tok.to_json())
        assert mine.encode(sample) == tok.encode(sample)
        ids = tok.encode(sample)
        assert mine.decode(ids) == tok.decode(ids)
        assert len(mine) == len(tok)


def test_runner_bpe_tokenizer_is_rnnkits_and_needs_the_package(monkeypatch):
    pytest.importorskip("tokenizers")
    from rnnkit.text.tokenizers import BPETokenizer

    tok = BPETokenizer.fit(TEXT, vocab_size=300)
    mine = runner.TextTokenizer(tok.to_json())
    sample = "ROMEO: to be, 小明 😀!\n"
    assert mine.encode(sample) == tok.encode(sample)
    assert mine.decode(tok.encode(sample)) == sample == tok.decode(tok.encode(sample))
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(ImportError, match="pip install tokenizers"):
        runner.TextTokenizer(tok.to_json())


def test_runner_generates_and_scores_without_torch(lstm):
    _, out, _ = lstm
    script = (
        "import sys; sys.modules['torch'] = None\n"
        f"sys.path.insert(0, {str(out)!r})\n"
        "from rnnkit_runner import load\n"
        "m = load(sys.argv[1])\n"
        "print(repr(m.generate('ROMEO:', 40, temperature=0)))\n"
        "print(repr(m.generate('ROMEO:', 40, temperature=0.9, top_k=8, top_p=0.95, seed=3)))\n"
        f"print(repr(round(m.score({SCORED!r}), 9)))\n"
        "assert 'torch' not in [k for k, v in sys.modules.items() if v is not None]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(out / "lm.onnx")],
        capture_output=True, text=True, cwd=out, env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    model = runner.load(out / "lm.onnx")
    assert done.stdout.splitlines() == [
        repr(model.generate("ROMEO:", 40, temperature=0)),
        repr(model.generate("ROMEO:", 40, temperature=0.9, top_k=8, top_p=0.95, seed=3)),
        repr(round(model.score(SCORED), 9)),
    ]


def test_companion_must_be_the_other_graph_of_the_same_model(lstm, gru_words, tmp_path):
    _, out, _ = lstm
    with pytest.raises(ValueError, match="companion must be the streaming graph"):
        runner.load(out / "lm.onnx", companion=out / "lm.onnx")
    word_run, _ = gru_words
    export(word_run, tmp_path / "w.streaming.onnx", streaming=True)
    with pytest.raises(ValueError, match="is an export of another model"):
        runner.load(out / "lm.onnx", companion=tmp_path / "w.streaming.onnx")


def test_int8_is_refused_for_a_language_model_before_any_work(lstm, tmp_path):
    run, _, _ = lstm
    with pytest.raises(ExportError, match=r"int8 is measured for the kinds .* got a "
                                          r"'language-model' model"):
        export(run, tmp_path / "q.onnx", int8=True)
    assert not list(tmp_path.iterdir())
