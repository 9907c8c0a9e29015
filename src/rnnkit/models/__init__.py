"""Task models over a recurrent backbone; each owns its loss, metrics and prediction API.

Every task model implements the training engine's protocol (:class:`rnnkit.train.TaskModel`):
``forward(inputs, state=None, *, lengths=None) -> (outputs, state)``, ``loss(outputs, batch)``
and ``metrics(outputs, batch)``.
"""

from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.forecaster import Forecaster
from rnnkit.models.regressor import SequenceRegressor
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.tagger import SequenceTagger

__all__ = [
    "Forecaster", "Seq2Seq", "SequenceClassifier", "SequenceRegressor", "SequenceTagger",
]
