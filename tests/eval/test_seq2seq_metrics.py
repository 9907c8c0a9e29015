"""The seq2seq scores against hand-computed values and the libraries' documented examples."""

import math

import pytest

pytest.importorskip("sacrebleu")
pytest.importorskip("rouge_score")

from rnnkit.eval.seq2seq_metrics import (
    copy_source_baseline,
    error_rates,
    lead_baseline,
    summary_scores,
    translation_scores,
)


def test_identical_text_scores_100():
    hyps = ["Two young men are outside near many bushes .", "A dog runs on the beach ."]
    scores = translation_scores(hyps, [(h,) for h in hyps])
    assert scores == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0)}


def test_bleu_of_a_hand_worked_pair():
    # p1..p4 = 5/6, 4/5, 3/4, 2/3, equal lengths so BP = 1: BLEU = (1/3)^(1/4)
    scores = translation_scores(["a b c d e f"], [("a b c d e g",)])
    assert scores["bleu"] == pytest.approx(100 * (1 / 3) ** 0.25, abs=1e-6)


def test_sacrebleu_readme_example_with_two_references():
    # sacrebleu's README: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943)
    hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    refs = [
        ("The dog bit the man.", "The dog had bit the man."),
        ("It was not unexpected.", "No one was surprised."),
        ("The man bit him first.", "The man had bitten the dog."),
    ]
    scores = translation_scores(hyps, refs)
    assert scores["bleu"] == pytest.approx(48.53, abs=0.005)
    assert scores["chrf"] == pytest.approx(59.73, abs=0.005)


def test_a_varying_number_of_references_and_lowercase():
    hyps = ["THE CAT SAT ON THE MAT TODAY", "a dog ran in the park"]
    refs = [("the cat sat on the mat today",), ("a dog ran in the park", "the dog ran")]
    assert translation_scores(hyps, refs, lowercase=True)["bleu"] == pytest.approx(100.0)
    assert translation_scores(hyps, refs)["bleu"] < 60.0


def test_rouge_of_the_rouge_score_readme_pair():
    # unigrams: 6 shared of 8 (hyp) and 9 (ref); bigrams: 2 of 7 and 8; LCS 5 of 8 and 9
    scores = summary_scores(["The quick brown dog jumps on the log."],
                            [("The quick brown fox jumps over the lazy dog",)])
    f = lambda p, r: 2 * p * r / (p + r)  # noqa: E731
    assert scores["rouge1"] == pytest.approx(100 * f(6 / 8, 6 / 9))
    assert scores["rouge2"] == pytest.approx(100 * f(2 / 7, 2 / 8))
    assert scores["rougeL"] == pytest.approx(100 * f(5 / 8, 5 / 9))


def test_rouge_takes_the_best_reference_and_averages_examples():
    scores = summary_scores(["meeting confirmed", "budget report"],
                            [("lunch today", "meeting confirmed"), ("holiday plans",)])
    assert scores == {"rouge1": pytest.approx(50.0), "rouge2": pytest.approx(50.0),
                      "rougeL": pytest.approx(50.0)}


def test_rouge_stems():
    assert summary_scores(["meetings"], [("meeting",)])["rouge1"] == pytest.approx(100.0)


def test_error_rates_of_hand_worked_pairs():
    # 'K AE1 T' vs 'K AA1 T S': one substitution and one deletion over 4 reference phonemes
    assert error_rates(["K AE1 T"], [("K AA1 T S",)]) == {"wer": 100.0, "per": 50.0}
    # the closest of two references counts: one deletion over 4
    assert error_rates(["K AE1 T"], [("K AA1 T S", "K AE1 T S")]) == {"wer": 100.0, "per": 25.0}
    # an exact match of any reference is no word error; PER sums edits over reference lengths
    rates = error_rates(["T AH0 M EY1 T OW2", "K AE1 T"],
                        [("T AH0 M AA1 T OW2", "T AH0 M EY1 T OW2"), ("K AA1 T",)])
    assert rates["wer"] == pytest.approx(50.0)
    assert rates["per"] == pytest.approx(100 * 1 / 9)
    # whitespace differences are not errors
    assert error_rates([" HH  AH0 L OW1"], [("HH AH0 L OW1",)]) == {"wer": 0.0, "per": 0.0}


def test_baselines():
    assert copy_source_baseline(["Ein Hund .", "Zwei Männer"]) == ["Ein Hund .", "Zwei Männer"]
    assert lead_baseline(["Hi Phillip,\n  This message is to confirm", "ok"], 3) == [
        "Hi Phillip, This", "ok"]
    with pytest.raises(ValueError, match=r"n_words must be an int >= 1, got 0"):
        lead_baseline(["a"], 0)


def test_copy_baseline_scores_what_passes_through():
    src = ["Ein Mann spielt Gitarre in Berlin ."]
    ref = [("A man plays guitar in Berlin .",)]
    scores = translation_scores(copy_source_baseline(src), ref)
    assert 0 < scores["chrf"] < 100 and math.isfinite(scores["bleu"])


@pytest.mark.parametrize("fn", [translation_scores, summary_scores, error_rates])
def test_bad_input_is_named(fn):
    with pytest.raises(ValueError, match=r"references must have one entry per hypothesis, got 1 "
                                         r"references for 2 hypotheses"):
        fn(["a", "b"], [("a",)])
    with pytest.raises(ValueError, match="hypotheses must hold at least one example"):
        fn([], [])
    with pytest.raises(TypeError, match=r"references\[0\] must be a non-empty tuple of strings"):
        fn(["a"], [()])
    with pytest.raises(TypeError, match=r"hypotheses\[1\] must be a string, got 3"):
        fn(["a", 3], [("a",), ("b",)])
