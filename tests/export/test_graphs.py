"""Every architecture option of the task models exports and agrees with rnnkit at new shapes
(untrained models, built directly: export must reproduce the function, whatever the weights)."""

from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from rnnkit.export import ExportError
from rnnkit.export import graphs as G
from rnnkit.export import onnx_export as E
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.forecaster import Forecaster
from rnnkit.models.tagger import SequenceTagger

MODELS = {
    "classifier-frames": lambda: SequenceClassifier(
        3, input_kind="frames", frame_shape=(8, 8), frame_features=6, hidden_size=5),
    "classifier-fcn-attention": lambda: SequenceClassifier(
        3, input_kind="features", input_size=4, hidden_size=5, pooling="attention",
        conv_branch=True, conv_channels=(4, 4, 4)),
    "classifier-gru-max-2": lambda: SequenceClassifier(
        3, input_size=4, hidden_size=5, pooling="max", cell="gru", num_layers=2),
    "classifier-tokens-mean-bi": lambda: SequenceClassifier(
        4, input_kind="tokens", vocab_size=30, embedding_dim=6, hidden_size=5,
        pooling="mean", bidirectional=True),
    "tagger-elman-2": lambda: SequenceTagger(
        3, input_kind="features", input_size=4, hidden_size=5, cell="rnn", num_layers=2,
        bidirectional=False),
    "forecaster-bi-covariates-gaussian": lambda: Forecaster(
        2, 4, n_covariates=1, n_known=2, hidden_size=6, num_layers=2, bidirectional=True),
    "forecaster-ar-quantile": lambda: Forecaster(
        1, 3, n_known=2, hidden_size=6, decoder="autoregressive", likelihood="quantile"),
    "forecaster-gru-point": lambda: Forecaster(1, 2, cell="gru", hidden_size=6,
                                               likelihood="point"),
    "forecaster-ar-gaussian-no-samples": lambda: Forecaster(
        1, 3, hidden_size=6, decoder="autoregressive", n_samples=0),
}
STREAMABLE = ["classifier-gru-max-2-last", "tagger-elman-2", "forecaster-ar-quantile",
              "forecaster-gru-point", "forecaster-ar-gaussian-no-samples"]


def _spec(model):
    if isinstance(model, Forecaster):
        return G.ForecasterGraph()
    return G.TaggerGraph() if isinstance(model, SequenceTagger) else G.ClassifierGraph()


def _check(model, streaming):
    torch.manual_seed(0)
    loaded = SimpleNamespace(model=model.eval())
    spec = _spec(model)
    graph = spec.streaming(loaded) if streaming else spec.sequence(loaded)
    agreement = E.verify(E.trace(graph, streaming=streaming, opset=18), graph,
                         streaming=streaming, tolerance=1e-5)
    assert agreement.ok, agreement
    assert set(agreement.per_output) == set(graph.output_names)
    return agreement


@pytest.mark.parametrize("name", list(MODELS))
def test_sequence_graph_of_every_architecture(name):
    torch.manual_seed(1)
    _check(MODELS[name](), streaming=False)


@pytest.mark.parametrize("name", STREAMABLE)
def test_streaming_graph_of_every_unidirectional_architecture(name):
    torch.manual_seed(1)
    if name == "classifier-gru-max-2-last":
        model = SequenceClassifier(3, input_size=4, hidden_size=5, cell="gru", num_layers=2)
    else:
        model = MODELS[name]()
    _check(model, streaming=True)


def test_what_cannot_be_exported_is_refused_with_the_reason():
    sampled = Forecaster(1, 3, hidden_size=4, decoder="autoregressive", n_samples=50)
    with pytest.raises(ExportError, match="draws n_samples=50 Monte Carlo paths"):
        G.ForecasterGraph().sequence(SimpleNamespace(model=sampled))
    pooled = SequenceClassifier(3, input_size=4, hidden_size=5, pooling="mean")
    with pytest.raises(ExportError, match="pooling='last' and no conv branch\\), got "
                                          "pooling='mean'"):
        G.ClassifierGraph().streaming(SimpleNamespace(model=pooled))
    with pytest.raises(ExportError, match="kind 'seq2seq' cannot be exported yet"):
        G.graph_for("seq2seq")
