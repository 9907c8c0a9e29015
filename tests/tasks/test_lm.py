"""The language-model task end to end: training on a text file, the run directory, the
artifact, evaluate / predict / generate, the command line, and bad input."""

import json
import math

import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.tasks import lm

TEXT = "".join(f"{name}: to be or not to be, that is the question.\n"
               for name in ("ROMEO", "JULIET", "HAMLET", "小明") * 60)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    data = folder / "text.txt"
    data.write_text(TEXT, encoding="utf-8")
    runs = folder / "runs"
    outcome = rnnkit.train(
        "lm", data=str(data), hidden_size=48, batch_size=8, chunk_len=32, epochs=6,
        sample_length=40, lr=1e-2, quiet=True, runs_root=str(runs), name="run",
    )
    return outcome, data


def test_learns_the_text_beyond_the_unigram_baseline(trained):
    outcome, _ = trained
    val = outcome.metrics["val"]
    model, unigram = val["model"], val["baselines"]["unigram"]
    assert model["loss"] < 0.6 * unigram["loss"]
    assert math.isclose(model["perplexity"], math.exp(model["loss"]))
    assert math.isclose(model["bpc"], model["loss"] / math.log(2))
    assert outcome.metrics["verdict"]["model_wins"] is True


def test_run_directory_holds_samples_and_the_bpc_curve(trained):
    outcome, _ = trained
    run = outcome.run_dir
    samples = (run / lm.SAMPLES_FILE).read_text(encoding="utf-8")
    epochs = outcome.metrics["training"]["epochs"]
    assert samples.count("=== epoch ") == epochs
    assert f"=== epoch {epochs}, val loss" in samples
    assert (run / lm.CURVE_FILE).stat().st_size > 1000
    assert "Validation (state carried over the whole text)" in outcome.summary


def test_evaluate_scores_its_own_validation_text_and_any_file(trained, tmp_path):
    outcome, _ = trained
    own = rnnkit.evaluate(outcome.run_dir)
    assert math.isclose(own["loss"], outcome.metrics["val"]["model"]["loss"], rel_tol=1e-6)
    other = tmp_path / "other.txt"
    other.write_text("JULIET: to be or not to be, that is the question.\nZZZ\n", encoding="utf-8")
    scores = rnnkit.evaluate(outcome.run_dir, str(other))
    assert scores["tokens"] == len(other.read_text(encoding="utf-8")) - 1
    assert scores["unknown_tokens"] == 3  # 'Z' never appears in training
    assert set(scores) == {"loss", "perplexity", "bits_per_token", "bpc", "tokens",
                           "unknown_tokens"}


def test_predict_gives_the_surprisal_of_every_token(trained, tmp_path):
    outcome, _ = trained
    other = tmp_path / "p.txt"
    other.write_text("ROMEO: to be", encoding="utf-8")
    frame = rnnkit.predict(outcome.run_dir, str(other))
    assert frame["token"].tolist() == list("OMEO: to be")
    assert frame["bits"].mean() == pytest.approx(rnnkit.evaluate(outcome.run_dir,
                                                                 str(other))["bpc"])


def test_generate_is_seeded_and_streams_its_text(trained):
    outcome, _ = trained
    pieces = []
    a = rnnkit.generate(outcome.run_dir, "ROMEO:", 60, temperature=0.8, seed=3,
                        on_text=pieces.append)
    assert "".join(pieces) == a and len(pieces) == len(a)  # one character at a time
    assert a == rnnkit.generate(outcome.run_dir, "ROMEO:", 60, temperature=0.8, seed=3)
    assert a != rnnkit.generate(outcome.run_dir, "ROMEO:", 60, temperature=0.8, seed=4)
    greedy = rnnkit.generate(outcome.run_dir, "ROMEO: to be or not to b", 20, temperature=0)
    assert greedy.startswith("e, that is the")  # it learnt the line


def test_cli_generate_prints_the_prompt_and_the_text(trained, capsys):
    outcome, _ = trained
    code = main(["generate", str(outcome.run_dir), "--prompt", "HAMLET:", "--length", "30",
                 "--seed", "1", "--temperature", "0.5"])
    assert code == 0
    out = capsys.readouterr().out
    expected = rnnkit.generate(outcome.run_dir, "HAMLET:", 30, temperature=0.5, seed=1)
    assert out == "HAMLET:" + expected + "\n"


def test_cli_generate_refuses_bad_sampling_options_before_any_output(trained, capsys):
    outcome, _ = trained
    assert main(["generate", str(outcome.run_dir), "--top-p", "1.5"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "top_p must be None or a number in (0, 1], got 1.5" in captured.err


def test_cli_evaluate_json(trained, capsys):
    outcome, data = trained
    assert main(["evaluate", str(outcome.run_dir), str(data), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["tokens"] == len(TEXT) - 1 and metrics["unknown_tokens"] == 0
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))


def test_generate_refuses_a_model_of_another_task(monkeypatch):
    import rnnkit.api
    from rnnkit.tasks import tag

    monkeypatch.setattr(rnnkit.api, "load_with_task", lambda path: (tag.TASK, object()))
    with pytest.raises(ValueError, match=r"path must hold a language model .*got a "
                                         r"'sequence-tagger' model"):
        rnnkit.generate("runs/x", "x", 3)


def test_word_and_bpe_tokenizers_train(tmp_path):
    data = tmp_path / "w.txt"
    data.write_text(TEXT, encoding="utf-8")
    for tokenizer in ("word", "bpe"):
        if tokenizer == "bpe":
            pytest.importorskip("tokenizers")
        outcome = rnnkit.train("lm", data=str(data), tokenizer=tokenizer, hidden_size=16,
                               batch_size=4, chunk_len=16, epochs=1, max_steps=3,
                               sample_length=5, quiet=True, plots=False,
                               runs_root=str(tmp_path / "runs"), name=tokenizer)
        val = outcome.metrics["val"]["model"]
        assert "bpc" not in val and val["bits_per_token"] > 0
        text = rnnkit.generate(outcome.run_dir, "ROMEO:", 5, seed=0)
        assert isinstance(text, str) and text


def test_cli_train_with_val_data_replacing_the_cut(tmp_path, capsys):
    data, val = tmp_path / "t.txt", tmp_path / "v.txt"
    data.write_text(TEXT, encoding="utf-8")
    val.write_text("ROMEO: to be.\n", encoding="utf-8")
    code = main(["train", "--task", "lm", "--data", str(data), "--val-data", str(val),
                 "--hidden-size", "8", "--batch-size", "4", "--chunk-len", "8", "--epochs", "1",
                 "--max-steps", "2", "--sample-length", "0", "--val-streams", "1", "--quiet",
                 "--plots", "false", "--runs-dir", str(tmp_path / "runs"), "--name", "cli"])
    assert code == 0
    run = tmp_path / "runs" / "cli"
    assert capsys.readouterr().out.strip() == str(run)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    d = metrics["data"]
    assert (d["train_characters"], d["val_characters"]) == (len(TEXT), 14)
    assert metrics["val"]["model"]["tokens"] == 13
    assert not (run / lm.SAMPLES_FILE).exists()  # sample_length 0: no samples


def test_bad_options_are_refused_before_a_run_directory_exists(tmp_path):
    data = tmp_path / "t.txt"
    data.write_text(TEXT, encoding="utf-8")
    runs = tmp_path / "r"
    with pytest.raises(ValueError, match=r"tokenizer: expected one of \['char', 'word', 'bpe'\], "
                                         r"got 'chars'"):
        rnnkit.train("lm", data=str(data), tokenizer="chars", runs_root=str(runs))
    with pytest.raises(ValueError, match="chunk_len must be an int >= 2, got 1"):
        rnnkit.train("lm", data=str(data), chunk_len=1, runs_root=str(runs))
    with pytest.raises(ValueError, match="val_streams must be at most the validation tokens"):
        rnnkit.train("lm", data=str(data), val_fraction=0.001, val_streams=50,
                     runs_root=str(runs))
    assert not runs.exists() or not any(runs.iterdir())
