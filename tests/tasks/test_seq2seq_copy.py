"""The pointer-generator in the translate/summarize tasks: extended ids from text and back,
the "repeat the name" learning twin (copy vs no copy), the artifact round trip, options."""

from __future__ import annotations

import pytest

import rnnkit
from rnnkit.data.seq2seq_synthetic import copy_names_splits
from rnnkit.tasks import seq2seq
from rnnkit.tasks.seq2seq_config import Seq2SeqConfig, SummarizeConfig
from rnnkit.text.tokenizers import fit_tokenizer

pytest.importorskip("sacrebleu")
pytest.importorskip("rouge_score")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models (tests/conftest.py)


def preprocessing(kind: str, sources: str, targets: str, shared: bool = False
                  ) -> seq2seq.Seq2SeqPreprocessing:
    if shared:
        tok = fit_tokenizer(kind, sources + "\n" + targets, vocab_size=300)
        return seq2seq.Seq2SeqPreprocessing(tok, tok, True, False, None, None)
    return seq2seq.Seq2SeqPreprocessing(fit_tokenizer(kind, sources, vocab_size=300),
                                        fit_tokenizer(kind, targets, vocab_size=300), False,
                                        False, None, None)


def test_extended_ids_from_words_and_back():
    pre = preprocessing("word", "the report is late\nsee the memo", "report late\nmemo")
    V = pre.target_vocab
    ext, oovs = pre.extend_source("the zork report is zork blah")
    # 'the', 'is' are not target words either: every source word outside the target
    # vocabulary gets an extended id, one per distinct word.
    assert oovs == ["the", "zork", "is", "blah"]
    target = pre.target_tokenizer.vocabulary
    assert ext == [V, V + 1, target.encode(["report"])[0], V + 2, V + 1, V + 3]
    ids = pre.encode_target_extended("zork report nope", oovs)
    assert ids == [V + 1, target.encode(["report"])[0], 1]  # 'nope': not in the source
    assert pre.decode_target([*ids, pre.eos_id], oovs) == "zork report <unk>"
    assert pre.decode_target([V + 3, pre.eos_id], oovs) == "blah"


def test_extended_ids_from_characters_and_bpe():
    pre = preprocessing("char", "abc", "ab")
    ext, oovs = pre.extend_source("caxa")
    V = pre.target_vocab
    assert oovs == ["c", "x"] and ext[0] == V and ext[2] == V + 1
    assert pre.decode_target([ext[2], ext[1], ext[0]], oovs) == "xac"
    # Byte-level BPE has no unknown pieces: shared, the ids are the source ids themselves.
    shared = preprocessing("bpe", "the memo is late", "memo late", shared=True)
    ids = shared.encode_source("the memo, zork")
    assert shared.extend_source("the memo, zork") == (ids, [])
    # Separate vocabularies: a piece maps to the target piece with the same bytes, or <unk>.
    apart = preprocessing("bpe", "the memo is late", "memo late")
    ext, oovs = apart.extend_source("memo zq")
    assert oovs == [] and all(0 < i < apart.target_vocab for i in ext)
    assert apart.decode_target(ext).startswith("memo")


def write_table(path, corpus) -> None:
    path.write_text("body,subject\n" + "".join(f"{src},{refs[0]}\n" for src, refs in
                                                zip(corpus.sources, corpus.targets,
                                                    strict=True)))


@pytest.fixture(scope="module")
def names_data(tmp_path_factory):
    """'… name is X …' -> 'hello X', validation names never seen in training: outside the
    target vocabulary, so only copying can produce them."""
    root = tmp_path_factory.mktemp("names")
    splits = copy_names_splits(300, 60, seed=0)
    write_table(root / "train.csv", splits.train)
    write_table(root / "val.csv", splits.val)
    return root


def train_names(root, copy: bool, name: str, **options):
    return rnnkit.train(
        "translate", data=str(root / "train.csv"), val_data=str(root / "val.csv"),
        source_column="body", target_column="subject", tokenizer="word", hidden_size=32,
        embedding_dim=16, epochs=10, lr=0.01, batch_size=32, dropout=0.0, label_smoothing=0.0,
        beam_size=2, early_stopping=None, plateau_patience=None, seed=0, copy=copy,
        runs_root=str(root / "runs"), name=name, quiet=True, **options)


@pytest.fixture(scope="module")
def copy_run(names_data):
    return train_names(names_data, True, "copy")


def test_copying_names_outside_the_vocabulary_small_twin(names_data, copy_run):
    """The learning twin (docs/seq2seq.md reports the measured pair): with copy the model
    emits validation names it never saw; without copy it cannot."""
    val = copy_run.metrics["val"]
    # Data seeds 0, 1, 2 reach 100 % (beam 2) in these 100 updates.
    assert val["model"]["exact_match"] >= 90, val["samples"]
    assert val["greedy"]["exact_match"] >= 90
    plain = train_names(names_data, False, "plain").metrics["val"]
    assert plain["model"]["exact_match"] == 0.0
    vocabulary = rnnkit.load(copy_run.run_dir).preprocessing.target_tokenizer.vocabulary
    assert not any(s["reference"].split()[1] in vocabulary for s in val["samples"])


def test_scheduled_sampling_through_the_task(names_data):
    """The trainer's callback drives the sampling probability (up to 0.25 over 20 updates of
    the 100); the copy model still learns the names."""
    out = train_names(names_data, True, "sampled", scheduled_sampling=0.25,
                      sampling_updates=20, sampling_schedule="linear")
    assert out.metrics["val"]["model"]["exact_match"] >= 90
    loaded = rnnkit.load(out.run_dir)
    assert loaded.config.scheduled_sampling == 0.25
    assert loaded.model.sampling_probability == 0.0


def test_copy_artifact_round_trip(names_data, copy_run, tmp_path):
    loaded = rnnkit.load(copy_run.run_dir)
    assert loaded.model.copy and loaded.model.coverage_weight == 1.0
    assert loaded.config.copy and loaded.config.resolved_coverage_weight() == 1.0
    sources = [s["source"] for s in copy_run.metrics["val"]["samples"]]
    frame = rnnkit.predict(copy_run.run_dir, {"data": sources, "beam_size": 2})
    assert list(frame["output"]) == [s["output"] for s in copy_run.metrics["val"]["samples"]]
    assert (frame["log_prob"] <= 0).all()
    scores = rnnkit.evaluate(copy_run.run_dir, {"data": str(names_data / "val.csv"),
                                                "source_column": "body",
                                                "target_column": "subject", "beam_size": 2})
    assert scores["exact_match"] == pytest.approx(
        copy_run.metrics["val"]["model"]["exact_match"])
    plot = seq2seq.attention_plot(loaded.model, loaded.preprocessing, loaded.config,
                                  sources[:2], tmp_path / "copy.png")
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_an_artifact_saved_before_copying_existed_does_not_copy(copy_run):
    from rnnkit.io.artifact import load_artifact

    artifact = load_artifact(copy_run.run_dir / "model.safetensors")
    del artifact.config["task"]["copy"]  # as written before the option existed
    assert seq2seq.SUMMARIZE_TASK.restore(artifact).config.copy is False


def test_export_refuses_a_copy_model_with_the_reason(copy_run, tmp_path):
    from rnnkit.export import ExportError, export

    with pytest.raises(ExportError, match="export does not support copy models"):
        export(copy_run.run_dir, tmp_path / "copy.onnx")
    assert not (tmp_path / "copy.onnx").exists()


def test_copy_names_task_keeps_validation_names_out_of_training():
    splits = copy_names_splits(300, 60, seed=3)
    train_names = {refs[0].split()[1] for refs in splits.train.targets}
    val_names = [refs[0].split()[1] for refs in splits.val.targets]
    assert len(train_names) == 300 and len(set(val_names)) == 60
    assert not train_names & set(val_names)
    for src, refs in zip(splits.val.sources, splits.val.targets, strict=True):
        assert f"name is {refs[0].split()[1]}" in src and refs[0].startswith("hello ")
    assert copy_names_splits(300, 60, seed=3).val.sources == splits.val.sources


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"coverage_weight": 0.5}, "coverage_weight > 0 needs copy=true"),
        ({"copy": True, "coverage_weight": -1}, "coverage_weight must be a number in"),
        ({"copy": "yes"}, "copy must be a bool, got 'yes'"),
    ],
)
def test_copy_options_are_checked(options, message):
    with pytest.raises(ValueError) as err:
        Seq2SeqConfig(**options)
    assert message in str(err.value)


def test_coverage_weight_defaults_follow_copy():
    assert Seq2SeqConfig().resolved_coverage_weight() == 0.0
    assert Seq2SeqConfig(copy=True).resolved_coverage_weight() == 1.0
    assert Seq2SeqConfig(copy=True, coverage_weight=0.0).resolved_coverage_weight() == 0.0
    # On for summaries (measured on AESLC against the same model without copying).
    assert SummarizeConfig().copy is True
    assert SummarizeConfig().resolved_coverage_weight() == 1.0
