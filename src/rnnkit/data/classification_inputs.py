"""Classification preprocessing: what turns labelled sequences into model inputs.

Fit on the training split only (the vocabulary and tokeniser for text, the normaliser for
numeric sequences, the label set), applied to every split, and saved with the model as JSON so
that new data is prepared exactly as the training data was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rnnkit.data.classification_data import ClassificationData
from rnnkit.data.frame_sampling import frame_indices
from rnnkit.data.labels import LabelSet
from rnnkit.data.sequence_files import Normalizer
from rnnkit.data.text import TextPipeline, Tokenizer


@dataclass
class ClassificationPreprocessing:
    """Fit on the training split; serialised into the artifact as JSON.

    Attributes:
        kind: 'text' or 'sequences'.
        labels: the classes.
        text: the text pipeline (text).
        normalizer: the input normaliser (numeric).
        step_shape: shape of one step of numeric input, (F,) or (H, W[, C]).
        columns: the column options the data was read with (text_column, label_column,
            id_column, time_column, feature_columns, format).
        frames: video inputs: at most this many frames per video, segment centres
            (:func:`rnnkit.data.frame_sampling.frame_indices`); None: all.
        frame_stride: video inputs: every this-many-th frame first.
    """

    kind: str
    labels: LabelSet
    text: TextPipeline | None = None
    normalizer: Normalizer | None = None
    step_shape: tuple[int, ...] = ()
    columns: dict[str, Any] = field(default_factory=dict)
    frames: int | None = None
    frame_stride: int = 1

    @classmethod
    def fit(
        cls,
        train: ClassificationData,
        *,
        columns: Mapping[str, Any],
        tokenizer: str = "word",
        lowercase: bool = True,
        min_freq: int = 2,
        max_vocab: int | None = None,
        max_length: int | None = None,
        truncation: str = "end",
        normalization: str = "channel",
        frames: int | None = None,
        frame_stride: int = 1,
    ) -> ClassificationPreprocessing:
        """Fit on the training split ``train``; ``columns`` are the options it was read with
        (:data:`rnnkit.data.classification_data.COLUMN_OPTIONS`), kept for new data."""
        label_column = columns.get("label_column")
        labels = LabelSet.fit(train.labels, argument=f"label column {label_column!r}")
        columns = dict(columns)
        if train.kind == "text":
            pipeline = TextPipeline.fit(
                train.texts,
                Tokenizer(tokenizer, lowercase=lowercase),
                min_freq=min_freq,
                max_size=max_vocab,
                max_length=max_length,
                truncation=truncation,
            )
            return cls("text", labels, text=pipeline, columns=columns)
        shape = tuple(int(s) for s in train.sequences[0].shape[1:])
        # The normaliser is fit on every frame of the training videos: the sampled frames
        # are a subset of them, drawn anew each epoch.
        normalizer = Normalizer(normalization).fit(train.sequences)
        return cls("sequences", labels, normalizer=normalizer, step_shape=shape, columns=columns,
                   frames=frames, frame_stride=frame_stride)

    def inputs(self, data: ClassificationData, *, where: str = "data") -> list[Any]:
        """Model inputs, one per sequence: token-id lists, or normalised float32 arrays."""
        if data.kind != self.kind:
            raise ValueError(
                f"{where} must hold {'text' if self.kind == 'text' else 'numeric sequences'} "
                f"like the training data, got {data.kind}"
            )
        if self.kind == "text":
            out = []
            for i, text in enumerate(data.texts):
                try:
                    out.append(self.text.encode(text))
                except ValueError:
                    raise ValueError(
                        f"{where}: text must contain at least one token, got {text!r} at data "
                        f"row {i + 1}"
                    ) from None
            return out
        for i, s in enumerate(data.sequences):
            if tuple(s.shape[1:]) != self.step_shape:
                raise ValueError(
                    f"{where}: every step must have shape {self.step_shape} like the training "
                    f"data, got {tuple(s.shape[1:])} in sequence {i + 1}"
                )
        if self.frames is not None or self.frame_stride != 1:
            return [self.normalizer.transform(s[frame_indices(len(s), self.frames,
                                                              self.frame_stride)])
                    for s in data.sequences]
        return [self.normalizer.transform(s) for s in data.sequences]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "labels": self.labels.to_json(),
            "text": None if self.text is None else self.text.to_json(),
            "normalizer": None if self.normalizer is None else self.normalizer.to_json(),
            "step_shape": list(self.step_shape),
            "columns": self.columns,
            "frames": self.frames,
            "frame_stride": self.frame_stride,
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> ClassificationPreprocessing:
        return cls(
            state["kind"],
            LabelSet.from_json(state["labels"]),
            None if state["text"] is None else TextPipeline.from_json(state["text"]),
            None if state["normalizer"] is None else Normalizer.from_json(state["normalizer"]),
            tuple(state["step_shape"]),
            dict(state["columns"]),
            state.get("frames"),  # absent in artifacts written before frame sampling
            int(state.get("frame_stride", 1)),
        )
