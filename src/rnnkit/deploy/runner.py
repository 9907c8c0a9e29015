"""Run an exported rnnkit model with numpy and onnxruntime only (no torch, no rnnkit).

``rnnkit export`` writes three files: ``model.onnx``, ``model.json`` (the deployment
description: the preprocessing fit on the training split, labels, state sizes) and
``rnnkit_runner.py``, a copy of this module. On a machine with ``pip install numpy onnxruntime``::

    from rnnkit_runner import load
    model = load("model.onnx")
    model.predict(["a fine film", "dull"])           # classifier: labels
    model.predict_proba([array_T_by_F, ...])          # classifier of numeric sequences
    model.tag(["中国人民"])                            # tagger: (tokens, tags, probabilities)
    model.forecast(values, times=..., future_times=...)  # forecaster: point and interval
    model.forecast(values, series="s3", static={"store_size": 800, "region": "east"})
    model.generate("ROMEO:", 200, temperature=0.8)     # language model: text after a prompt
    model.score("to be or not to be")                  # language model: nats per token

Each turns raw inputs into the predictions ``rnnkit predict`` gives for them, with the same
steps: text is tokenised (Unicode NFKC, lower-casing, the word/character rules of
``rnnkit.data.text``) and mapped through the vocabulary (0 padding, 1 unknown); numeric
sequences are normalised with the training statistics; forecast windows are scaled per series
as in ``rnnkit.data.forecast_inputs`` and mapped back to data units. This file imports only the
standard library, numpy and onnxruntime, and must stay so (a test imports it with torch
blocked).

Shape legend: N inputs, B batch, T steps, F features, C classes / tags / targets, h horizon,
Q quantile levels, L layers, D directions, H hidden size, V vocabulary.
"""

from __future__ import annotations

import json
import re
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: The ``model.json`` layouts this runner reads.
FORMATS = (1,)
PAD_ID, UNK_ID = 0, 1

# The word rule of rnnkit.data.text.Tokenizer, kept identical (a test compares the patterns).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD_RE = re.compile(
    rf"[{_HAN}]"  # one ideograph
    rf"|[^\W{_HAN}]+(?:['’][^\W{_HAN}]+)*"  # a run of word characters, keeping it's / don't
    r"|[^\w\s]"  # one punctuation mark or symbol
)
_SPACE_RE = re.compile(r"\s+")
_BATCH = 256


def _read_description(path: Path, argument: str = "model") -> dict[str, Any]:
    """The ``.json`` beside an exported ``.onnx`` file, checked for a format this runner reads."""
    meta_path = path.with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"{argument} must be an exported .onnx file, got {str(path)!r}")
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"the deployment description {str(meta_path)!r} must lie beside {str(path)!r} "
            "(rnnkit export writes both)"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") not in FORMATS:
        raise ValueError(
            f"{str(meta_path)!r} has format {meta.get('format')!r}; this runner reads {FORMATS}"
        )
    return meta


def load(
    path: str | Path,
    *,
    providers: Sequence[str] | None = None,
    companion: str | Path | None = None,
) -> Model:
    """The runner of an exported model: ``path`` is the ``.onnx`` file, with its ``.json``
    beside it. Returns a :class:`Classifier`, :class:`Tagger`, :class:`Forecaster` or
    :class:`LanguageModel`.

    ``companion`` (language models only): the other graph of the same model (the streaming
    graph beside a sequence graph, or the reverse); by default the export's default name beside
    ``path`` is used when it exists (``X.onnx`` ↔ ``X.streaming.onnx``)."""
    path = Path(path)
    meta = _read_description(path)
    classes = {"sequence-classifier": Classifier, "sequence-tagger": Tagger,
               "forecaster": Forecaster, "language-model": LanguageModel}
    if meta["kind"] not in classes:
        raise ValueError(f"model kind must be one of {sorted(classes)}, got {meta['kind']!r}")
    if meta["kind"] == "language-model":
        return LanguageModel(path, meta, providers=providers, companion=companion)
    if companion is not None:
        raise ValueError(
            f"companion is only read for a language model, got one for a {meta['kind']!r} model"
        )
    return classes[meta["kind"]](path, meta, providers=providers)


class Model:
    """An ONNX session with its description; :meth:`run` calls the graph by input name."""

    def __init__(
        self, path: Path, meta: dict[str, Any], *, providers: Sequence[str] | None = None
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.path = path
        self.meta = meta
        self.session = ort.InferenceSession(
            str(path), options, providers=list(providers or ["CPUExecutionProvider"])
        )
        self.streaming = meta["graph"] == "streaming"
        self.pre = meta["preprocessing"]

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs of the graph by name for inputs by name (see ``model.json``)."""
        names = self.meta["outputs"]
        return dict(zip(names, self.session.run(names, inputs), strict=True))

    def zero_state(self, batch: int) -> dict[str, np.ndarray]:
        """Zero initial states, (L·D, B, H) each, named as the graph's inputs."""
        s = self.meta["state"]
        rows = s["layers"] * s["directions"]
        names = [n for n in self.meta["inputs"] if n in ("h0", "c0", "h", "c")]
        return {n: np.zeros((rows, batch, s["hidden_size"]), np.float32) for n in names}

    def _need_sequence_graph(self) -> None:
        if self.streaming:
            raise ValueError(
                "this is a streaming (one-step) graph: call run(x_t=..., h=..., ...) in a loop, "
                "or export the sequence model (rnnkit export without --streaming)"
            )


# -- text and numeric sequences ------------------------------------------------------------------


def _normalize_text(text: str, tok: dict[str, Any]) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if tok["normalize"]:
        text = unicodedata.normalize("NFKC", text)
    if tok["lowercase"]:
        text = text.lower()
    return text


def tokenize(text: str, tok: dict[str, Any]) -> list[str]:
    """Tokens of ``text`` as ``rnnkit.data.text.Tokenizer`` splits them."""
    text = _normalize_text(text, tok)
    if tok["level"] == "word":
        return _WORD_RE.findall(text)
    return list(_SPACE_RE.sub(" ", text).strip())


class _Vocabulary:
    def __init__(self, pipeline: dict[str, Any]) -> None:
        self.tok = pipeline["tokenizer"]
        self.ids = {t: i for i, t in enumerate(pipeline["vocabulary"]["tokens"])}
        self.max_length = int(pipeline["max_length"])
        self.truncation = pipeline.get("truncation", "end")

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.ids.get(t, UNK_ID) for t in tokens]

    def truncate(self, ids: list[int]) -> list[int]:
        if len(ids) <= self.max_length:
            return ids
        return ids[: self.max_length] if self.truncation == "end" else ids[-self.max_length :]

    def normalize_tokens(self, tokens: Sequence[str]) -> list[str]:
        out = []
        for token in tokens:
            norm = _normalize_text(token, self.tok)
            out.append(norm if norm else token)
        return out


def _pad(items: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded batch (B, T, ...) with zeros, and lengths (B,) int64."""
    lengths = np.array([len(x) for x in items], dtype=np.int64)
    first = items[0]
    out = np.zeros((len(items), int(lengths.max()), *first.shape[1:]), dtype=first.dtype)
    for i, x in enumerate(items):
        out[i, : len(x)] = x
    return out, lengths


class Classifier(Model):
    """One label per sequence: texts, or numeric sequences (T, F)."""

    @property
    def labels(self) -> list[Any]:
        return list(self.pre["labels"])

    def inputs(self, sequences: Sequence[Any]) -> list[np.ndarray]:
        """Model inputs: token ids (T,) int64 for texts, normalised (T, ...) float32 else."""
        if isinstance(sequences, (str, np.ndarray)):
            raise TypeError(
                f"sequences must be a list of texts or arrays, got one {type(sequences).__name__}"
            )
        if self.pre["kind"] == "text":
            vocab = _Vocabulary(self.pre["text"])
            out = []
            for i, text in enumerate(sequences):
                tokens = tokenize(text, vocab.tok)
                if not tokens:
                    raise ValueError(
                        f"text must contain at least one token, got {text!r} at position {i}"
                    )
                out.append(np.array(vocab.truncate(vocab.encode(tokens)), dtype=np.int64))
            return out
        norm = self.pre["normalizer"]
        shape = tuple(self.pre["step_shape"])
        mean = np.asarray(norm["mean"], dtype=np.float32)
        std = np.asarray(norm["std"], dtype=np.float32)
        out = []
        for i, s in enumerate(sequences):
            s = np.asarray(s, dtype=np.float64)
            if s.ndim == 1 and shape == (1,):
                s = s[:, None]
            if tuple(s.shape[1:]) != shape or len(s) == 0:
                raise ValueError(
                    f"sequence {i} must have shape (T >= 1, {', '.join(map(str, shape))}) like "
                    f"the training data, got {s.shape}"
                )
            if norm["mode"] == "none":
                out.append(s.astype(np.float32))
            else:
                out.append(((s - mean) / std).astype(np.float32))
        return out

    def predict_proba(self, sequences: Sequence[Any]) -> np.ndarray:
        """Class probabilities (N, C), columns in the order of :attr:`labels`."""
        self._need_sequence_graph()
        items = self.inputs(sequences)
        out = np.zeros((len(items), len(self.labels)))
        for start in range(0, len(items), _BATCH):
            x, lengths = _pad(items[start : start + _BATCH])
            res = self.run(x=x, lengths=lengths, **self.zero_state(len(x)))
            out[start : start + len(x)] = res["probabilities"]
        return out

    def predict(self, sequences: Sequence[Any]) -> list[Any]:
        """The most likely label of every sequence."""
        probs = self.predict_proba(sequences)
        return [self.labels[i] for i in probs.argmax(axis=1)]


class Tagger(Model):
    """One tag per token of raw texts (or of token lists)."""

    @property
    def tags(self) -> list[Any]:
        return list(self.pre["tags"])

    def split_text(self, text: str) -> list[str]:
        """Raw text → tokens as ``rnnkit.data.tagging_inputs.TagPreprocessing.split_text``."""
        if self.pre["text"]["tokenizer"]["level"] == "char":
            return [ch for ch in text if not ch.isspace()]
        return _WORD_RE.findall(text)

    def tag(self, texts: Sequence[str | Sequence[str]]) -> list[tuple[list[str], list[Any],
                                                                       np.ndarray]]:
        """Per input: its tokens, their predicted tags and those tags' probabilities. Inputs
        longer than the training ``max_length`` are tagged in pieces and joined, as rnnkit does.
        """
        self._need_sequence_graph()
        if isinstance(texts, str):
            raise TypeError("texts must be a list of texts or token lists, got one str")
        vocab = _Vocabulary(self.pre["text"])
        tokens = [self.split_text(t) if isinstance(t, str) else list(t) for t in texts]
        for i, toks in enumerate(tokens):
            if not toks:
                raise ValueError(f"text must contain at least one token, got {texts[i]!r}")
        n = vocab.max_length
        pieces = [(i, s) for i, toks in enumerate(tokens) for s in range(0, len(toks), n)]
        ids = [
            np.array(vocab.encode(vocab.normalize_tokens(tokens[i][s : s + n])), dtype=np.int64)
            for i, s in pieces
        ]
        tag_ids = [np.zeros(len(t), np.int64) for t in tokens]
        best = [np.zeros(len(t)) for t in tokens]
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            x, lengths = _pad(chunk)
            probs = self.run(x=x, lengths=lengths, **self.zero_state(len(x)))["probabilities"]
            for row, (i, s) in enumerate(pieces[start : start + _BATCH]):
                p = probs[row, : lengths[row]]
                tag_ids[i][s : s + len(p)] = p.argmax(axis=1)
                best[i][s : s + len(p)] = p.max(axis=1)
        names = self.tags
        return [
            (toks, [names[j] for j in t], b)
            for toks, t, b in zip(tokens, tag_ids, best, strict=True)
        ]


# -- forecasting ---------------------------------------------------------------------------------


def calendar_features(times: Any, names: Sequence[str]) -> np.ndarray:
    """sin/cos of each calendar phase, as ``rnnkit.data.calendar``: times (N,) → (N, 2K)."""
    if not names:
        return np.zeros((len(times), 0), np.float32)
    t = np.asarray(times, dtype="datetime64[ns]")
    days = t.astype("datetime64[D]")
    columns = []
    for name in names:
        if name == "hour":
            minutes = (t - days).astype("timedelta64[m]").astype(np.int64)
            phase = (minutes // 60 + (minutes % 60) / 60) / 24
        elif name == "dayofweek":
            phase = ((days.astype(np.int64) + 3) % 7) / 7  # 1970-01-01 was a Thursday (3)
        elif name == "dayofyear":
            phase = (days - days.astype("datetime64[Y]")).astype(np.int64) / 365.25
        else:
            phase = (t.astype("datetime64[M]").astype(np.int64) % 12) / 12
        angle = 2 * np.pi * np.asarray(phase, dtype=np.float64)
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1).astype(np.float32)


_FLAT = 1e-3  # as rnnkit.data.forecast_inputs: a window flatter than this uses the series' σ


def _forward(y: np.ndarray, transform: str) -> np.ndarray:
    """g(y) of ``rnnkit.data.scaling``: identity, log or log(1 + y)."""
    return {"log": np.log, "log1p": np.log1p}.get(transform, np.asarray)(y)


def _inverse(g: np.ndarray, transform: str) -> np.ndarray:
    """g⁻¹: identity, exp or exp − 1."""
    return {"log": np.exp, "log1p": np.expm1}.get(transform, np.asarray)(g)


def grid_steps(times: Any, anchor: Any, frequency: dict[str, Any]) -> np.ndarray:
    """Step numbers of ``times`` from ``anchor`` on the sampling grid, as
    ``rnnkit.data.frequency.Frequency.to_steps`` for on-grid times: (N,) → (N,) float."""
    kind, n = frequency["kind"], float(frequency["n"])
    if kind == "number":
        return (np.asarray(times, dtype=np.float64) - float(anchor)) / n
    t = np.asarray(times, dtype="datetime64[ns]")
    a = np.datetime64(str(anchor), "ns")
    if kind == "timedelta":
        return (t - a).astype(np.int64).astype(np.float64) / (n * 1e9)
    if kind == "business_day":
        days = np.busday_count(a.astype("datetime64[D]"), t.astype("datetime64[D]"))
        return days.astype(np.float64) / n
    unit = "datetime64[M]" if kind == "month" else "datetime64[Y]"
    whole = t.astype(unit).astype(np.int64) - a.astype(unit).astype(np.int64)
    return whole.astype(np.float64) / n


class Forecaster(Model):
    """Forecasts of the ``horizon`` steps after the last given row of a series."""

    @property
    def horizon(self) -> int:
        return int(self.pre["horizon"])

    @property
    def input_length(self) -> int:
        return int(self.pre["input_length"])

    @property
    def series(self) -> list[str]:
        return list(self.pre["target_scaler"]["series"])

    def _seasonal(self, i: int) -> bool:
        """Whether series ``i`` had a seasonal profile removed at training (deseasonalize)."""
        s = self.pre.get("seasonal")
        return bool(s) and bool(s["seasonal"][i])

    def season(self, i: int, times: Any) -> np.ndarray:
        """The seasonal component s of series ``i`` at ``times``, in transformed units, as
        ``rnnkit.data.seasonality.SeasonalProfiles.component``: (N,) → (N, C)."""
        s = self.pre["seasonal"]
        steps = grid_steps(times, s["anchors"][i], self.pre["frequency"])
        phase = np.mod(np.round(steps).astype(np.int64), int(s["period"]))
        return np.asarray(s["profiles"][i], dtype=np.float64)[phase]

    def _need_times(self, times: Any, n: int, name: str) -> np.ndarray:
        if times is None or len(times) != n:
            got = "none" if times is None else f"{len(times)}"
            raise ValueError(
                f"{name} must hold {n} times: the model removes each series' seasonal profile "
                f"(period {self.pre['seasonal']['period']}) at training and needs the times "
                f"to find its phase, got {got}"
            )
        return np.asarray(times)

    def window(
        self,
        values: Any,
        *,
        covariates: Any = None,
        times: Any = None,
        future_times: Any = None,
        series: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The normalised window (1, T + h, F) and its loc, scale (1, C), from the last
        ``input_length`` rows of ``values`` (N, C) (or (N,) for one target)."""
        pre = self.pre
        unbuilt = [*pre.get("future_covariates", []),
                   *([f"holidays={pre['holidays']!r}"] if pre.get("holidays") else [])]
        if unbuilt:
            # The graph reads them; this runner does not build their columns yet.
            raise ValueError(
                f"this runner cannot build the known-future inputs {unbuilt} of this model (its "
                "graph reads them as columns of x after the calendar features); run the graph "
                "with Model.run, or forecast with rnnkit predict --future"
            )
        T, h = self.input_length, self.horizon
        C, P = len(pre["targets"]), len(pre["covariates"])
        y = np.asarray(values, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[1] != C:
            raise ValueError(f"values must be (N, {C}) for targets {pre['targets']}, got {y.shape}")
        if len(y) < T:
            raise ValueError(
                f"values must hold at least input_length={T} rows to forecast from, got {len(y)}"
            )
        ids = self.series
        key = "" if series is None else str(series)
        if key not in ids:
            raise ValueError(f"series must be one of {ids}, got {series!r}")
        i = ids.index(key)
        scaler = pre["target_scaler"]
        if not np.isfinite(y[-T:]).all():
            raise ValueError(
                f"values must be finite in the last input_length={T} rows (fill gaps first, as "
                f"the training data was), got {int((~np.isfinite(y[-T:])).sum())} missing"
            )
        if pre["transform"] == "log" and (y[-T:] <= 0).any():
            raise ValueError("values must be > 0: the model forecasts log values, got <= 0")
        if pre["transform"] == "log1p" and (y[-T:] < 0).any():
            raise ValueError("values must be >= 0: the model forecasts log(1 + y), got < 0")
        gy = _forward(y[-T:], pre["transform"])
        if self._seasonal(i):
            gy = gy - self.season(i, self._need_times(times, len(y), "times")[-T:])
        scale = np.asarray(scaler["scale"][i], dtype=np.float64)
        if pre["normalization"] == "window":
            loc = gy[-1]
        elif pre["normalization"] == "instance":
            loc = gy.mean(axis=0)
            sd = gy.std(axis=0)
            scale = np.where(sd > _FLAT * scale, sd, scale)
        else:
            loc = np.asarray(scaler["mean"][i], dtype=np.float64)
        z = (gy - loc) / scale  # (T, C)
        cov = np.zeros((T, 0))
        if P:
            if covariates is None:
                raise ValueError(f"covariates must be given: the model reads {pre['covariates']}")
            cov = np.asarray(covariates, dtype=np.float64).reshape(len(y), P)[-T:]
            cs = pre["covariate_scaler"]
            cov = (cov - np.asarray(cs["mean"][i])) / np.asarray(cs["scale"][i])
        names = pre["calendar"]
        K = 2 * len(names)
        if K and (times is None or future_times is None):
            raise ValueError(
                f"times and future_times must be given: the model reads the calendar features "
                f"{names} of past and horizon steps"
            )
        past_cal = calendar_features(np.asarray(times)[-T:], names) if K else np.zeros((T, 0))
        if K and len(future_times) != h:
            raise ValueError(f"future_times must hold horizon={h} times, got {len(future_times)}")
        known = calendar_features(future_times, names) if K else np.zeros((h, 0))
        past = np.concatenate([z, cov, past_cal], axis=1)
        future = np.concatenate([np.zeros((h, C)), np.zeros((h, P)), known], axis=1)
        x = np.concatenate([past, future])[None].astype(np.float32)
        return x, loc[None].astype(np.float64), scale[None].astype(np.float64)

    @property
    def static_columns(self) -> list[str]:
        """The static covariates the model reads (numeric ones first), or []."""
        st = self.pre.get("static")
        return [] if not st else [*st["numeric"], *st["categorical"]]

    def static_inputs(self, static: Any) -> dict[str, np.ndarray]:
        """The graph's static inputs for one series from its raw values ``static`` (a mapping
        column → value): ``static`` (1, Ns) numbers standardised with the training mean and
        spread, ``static_codes`` (1, Kc) category numbers (1 … V; 0, with a warning, for a
        category not seen in training), as ``rnnkit.data.static_inputs.StaticEncoder``."""
        st = self.pre.get("static")
        if not st:
            if static is not None:
                raise ValueError(
                    "static is for a model trained with static_covariates; this one has none, "
                    f"got static={static!r}"
                )
            return {}
        columns = self.static_columns
        if not isinstance(static, dict) or any(c not in static for c in columns):
            given = sorted(static) if isinstance(static, dict) else type(static).__name__
            raise ValueError(
                f"static must map every static covariate {columns} to the series' value, "
                f"got {given}"
            )
        feeds: dict[str, np.ndarray] = {}
        if st["numeric"]:
            numbers = []
            for c, m, sd in zip(st["numeric"], st["mean"], st["scale"], strict=True):
                try:
                    v = float(static[c])
                except (TypeError, ValueError):
                    raise ValueError(
                        f"static[{c!r}] must be a number (numeric in training), got "
                        f"{static[c]!r}"
                    ) from None
                numbers.append((v - m) / sd)
            feeds["static"] = np.asarray([numbers], np.float32)
        if st["categorical"]:
            codes, unknown = [], []
            for c, vocab in zip(st["categorical"], st["vocab"], strict=True):
                v = str(static[c])
                codes.append(vocab.index(v) + 1 if v in vocab else 0)
                if v not in vocab:
                    unknown.append(f"{c}={v!r}")
            if unknown:
                warnings.warn(
                    f"{len(unknown)} static categories were not seen in training and get the "
                    f"unknown embedding: {', '.join(unknown)}",
                    stacklevel=3,
                )
            feeds["static_codes"] = np.asarray([codes], np.int64)
        return feeds

    def forecast(self, values: Any, *, static: Any = None, **options: Any) -> dict[str, Any]:
        """Point forecast (h, C) and, unless the model is a point model, the interval bounds
        (h, C) and all quantiles (h, C, Q) in data units, for one series.

        Args:
            values: (N, C) past target values (the last ``input_length`` rows are read).
            covariates: (N, P) past covariates, if the model has any.
            times: (N,) timestamps of the rows and future_times: (h,) of the horizon, if the
                model reads calendar features.
            series: the series name, for a model trained on several.
            static: the series' static covariates, column → value (e.g. ``{'store_size':
                800, 'region': 'east'}``), if the model has any (:meth:`static_inputs`).
        """
        self._need_sequence_graph()
        feeds = self.static_inputs(static)
        x, loc, scale = self.window(values, **options)
        out = self.run(x=x, **feeds)
        levels = list(self.meta.get("quantiles", []))
        i = self.series.index("" if options.get("series") is None else str(options["series"]))
        offset = np.zeros((self.horizon, loc.shape[1]))
        if self._seasonal(i):  # the seasonal profile removed from the inputs, added back
            future = self._need_times(options.get("future_times"), self.horizon, "future_times")
            offset = self.season(i, future)

        def back(z: np.ndarray) -> np.ndarray:
            extra = z.ndim - 3
            shape = (1, 1, loc.shape[1]) + (1,) * extra
            g = z.astype(np.float64) * scale.reshape(shape) + loc.reshape(shape)
            g = g + offset.reshape((1, *offset.shape) + (1,) * extra)
            return _inverse(g, self.pre["transform"])

        point = back(out["point"])[0]
        result: dict[str, Any] = {"point": point, "levels": levels}
        if levels:
            q = back(out["quantiles"])[0]
            result.update(quantiles=q, lower=q[..., 0], upper=q[..., -1],
                          interval=round(levels[-1] - levels[0], 10))
        return result


# -- language model ------------------------------------------------------------------------------

_EOS = "<eos>"  # the word tokeniser's line end (rnnkit.text.tokenizers.EOS_TOKEN)
_PAD_TOKEN, _UNK_TOKEN = "<pad>", "<unk>"
_SCORE_CHUNK = 512  # steps per session call when scoring (memory only: the state is carried)


class TextTokenizer:
    """The language model's tokeniser from its JSON, as ``rnnkit.text.tokenizers`` encodes and
    decodes: 'char' (one id per code point) and 'word' (white-space words, a line end as
    ``<eos>``) with the standard library only; 'bpe' through the HuggingFace ``tokenizers``
    package (``pip install tokenizers``), whose own JSON the export carries."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.kind = state.get("kind")
        if self.kind not in ("char", "word", "bpe"):
            raise ValueError(f"tokenizer kind must be 'char', 'word' or 'bpe', got {self.kind!r}")
        if self.kind == "bpe":
            try:
                from tokenizers import Tokenizer
            except ImportError as err:
                raise ImportError(
                    "this language model uses a BPE tokenizer, which the runner reads with the "
                    "HuggingFace tokenizers package, not installed: pip install tokenizers"
                ) from err
            self._bpe = Tokenizer.from_str(state["tokenizer"])
            self.size = int(self._bpe.get_vocab_size())
        else:
            self.tokens = list(state["tokens"])
            self.ids = {t: i for i, t in enumerate(self.tokens)}
            self.size = len(self.tokens)

    def __len__(self) -> int:
        return self.size

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` (a token unseen in training is the unknown id 1)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self.kind == "bpe":
            return list(self._bpe.encode(text).ids)
        if self.kind == "char":
            return [self.ids.get(ch, UNK_ID) for ch in text]
        words: list[str] = []
        lines = text.split("\n")
        for i, line in enumerate(lines):
            words.extend(line.split())
            if i < len(lines) - 1:
                words.append(_EOS)
        return [self.ids.get(w, UNK_ID) for w in words]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``: padding is dropped, the unknown id is U+FFFD for characters and
        ``<unk>`` for words."""
        ids = [int(i) for i in ids]
        if self.kind == "bpe":
            return str(self._bpe.decode(ids, skip_special_tokens=True))
        for i in ids:
            if not 0 <= i < self.size:
                raise ValueError(f"token id must be in [0, {self.size}), got {i}")
        tokens = [self.tokens[i] for i in ids]
        if self.kind == "char":
            return "".join("" if t == _PAD_TOKEN else "\ufffd" if t == _UNK_TOKEN else t
                           for t in tokens)
        lines: list[list[str]] = [[]]
        for t in tokens:
            if t == _EOS:
                lines.append([])
            elif t != _PAD_TOKEN:
                lines[-1].append(t)
        return "\n".join(" ".join(words) for words in lines)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def next_token(
    logits: np.ndarray,
    rng: np.random.Generator,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """One id from ``logits`` (V,), as ``rnnkit.text.decoding.sample_next`` chooses: τ = 0 is
    the arg-max (ties to the lowest id); otherwise softmax(z / τ) after keeping the top-k
    logits and then the smallest set of most likely tokens whose probability reaches top-p
    (the most likely always kept). The draw uses numpy's generator ``rng``, so seeded texts
    repeat in the runner but differ from rnnkit's (torch's generator) for τ > 0."""
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    if temperature == 0:
        return int(np.argmax(z))
    z = z / temperature
    if top_k is not None and top_k < len(z):
        kth = np.sort(z)[-top_k]
        z = np.where(z < kth, -np.inf, z)
    if top_p is not None and top_p < 1:
        order = np.argsort(-z, kind="stable")
        p = np.exp(_log_softmax(z[order]))
        before = np.cumsum(p) - p
        drop = np.zeros(len(z), dtype=bool)
        drop[order] = before >= top_p
        z = np.where(drop, -np.inf, z)
    p = np.exp(_log_softmax(z))
    return int(rng.choice(len(p), p=p / p.sum()))


def _check_sampling(temperature: Any, top_k: Any, top_p: Any, seed: Any, length: Any) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be an int >= 0, got {length!r}")
    if (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
            or not np.isfinite(temperature) or temperature < 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float))
                              or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")


class LanguageModel(Model):
    """Generation and scoring with an exported language model.

    The sequence graph (``x`` (B, T) ids, states → ``logits`` (B, T, V), final states) reads a
    prompt or a text in one call per chunk; the streaming graph (``x_t`` (B,) → ``logits``
    (B, V)) advances one token, for generation. Both take the state h [, c] (L, B, H) in and
    give it back, so either graph alone can do both jobs (the sequence graph one step at a
    time, the streaming graph token by token); with both at hand each does its own job.
    """

    def __init__(
        self,
        path: Path,
        meta: dict[str, Any],
        *,
        providers: Sequence[str] | None = None,
        companion: str | Path | None = None,
    ) -> None:
        super().__init__(path, meta, providers=providers)
        self.tokenizer = TextTokenizer(self.pre["tokenizer"])
        self.sequence_graph: Model | None = None if self.streaming else self
        self.step_graph: Model | None = self if self.streaming else None
        other = self._companion_path(path, companion)
        if other is not None:
            other_meta = _read_description(other, "companion")
            if other_meta["kind"] != "language-model" or other_meta["graph"] == meta["graph"]:
                raise ValueError(
                    f"companion must be the {'sequence' if self.streaming else 'streaming'} "
                    f"graph of the same language model, got a {other_meta['graph']} graph of a "
                    f"{other_meta['kind']!r} model ({str(other)!r})"
                )
            if (other_meta["model"] != meta["model"]
                    or other_meta["preprocessing"] != meta["preprocessing"]):
                raise ValueError(
                    f"companion {str(other)!r} is an export of another model (its model or "
                    f"tokenizer differs from {str(path)!r}'s); export both graphs of one run"
                )
            graph = Model(other, other_meta, providers=providers)
            if self.streaming:
                self.sequence_graph = graph
            else:
                self.step_graph = graph

    @staticmethod
    def _companion_path(path: Path, companion: str | Path | None) -> Path | None:
        if companion is not None:
            return Path(companion)
        name = path.name
        default = (path.with_name(name[: -len(".streaming.onnx")] + ".onnx")
                   if name.endswith(".streaming.onnx") else path.with_name(path.stem +
                                                                           ".streaming.onnx"))
        return default if default.is_file() and default.with_suffix(".json").is_file() else None

    @property
    def vocab_size(self) -> int:
        return int(self.meta["model"]["vocab_size"])

    def _states(self, graph: Model, out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [n for n in graph.meta["inputs"] if n in ("h0", "c0", "h", "c")]
        return {n: out[n[0] + "_n"] for n in names}

    def _rename(self, graph: Model, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The carried state under ``graph``'s input names (h0/c0 or h/c)."""
        by_letter = {k[0]: v for k, v in state.items()}
        names = [n for n in graph.meta["inputs"] if n in ("h0", "c0", "h", "c")]
        return {n: by_letter[n[0]] for n in names}

    def advance(
        self, ids: np.ndarray, state: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Logits (B, T, V) of the token after each of ``ids`` (B, T), and the state after the
        last one: the sequence graph in chunks, or the streaming graph token by token."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"ids must be (B, T >= 1) token ids, got shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"ids must be in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}")
        state = self.zero_state(ids.shape[0]) if state is None else state
        pieces = []
        if self.sequence_graph is not None:
            g = self.sequence_graph
            for start in range(0, ids.shape[1], _SCORE_CHUNK):
                out = g.run(x=ids[:, start : start + _SCORE_CHUNK], **self._rename(g, state))
                pieces.append(out["logits"])
                state = self._states(g, out)
            return np.concatenate(pieces, axis=1), state
        g = self.step_graph
        for t in range(ids.shape[1]):
            out = g.run(x_t=ids[:, t], **self._rename(g, state))
            pieces.append(out["logits"])
            state = self._states(g, out)
        return np.stack(pieces, axis=1), state

    def step(
        self, ids: np.ndarray, state: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Logits (B, V) after one token per row ``ids`` (B,), and the new state: the
        streaming graph, or the sequence graph with T = 1."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if self.step_graph is not None:
            g = self.step_graph
            out = g.run(x_t=ids, **self._rename(g, state))
            return out["logits"], self._states(g, out)
        logits, state = self.advance(ids[:, None], state)
        return logits[:, 0], state

    def generate(
        self,
        prompt: str | None,
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = 0,
    ) -> str:
        """The text of ``length`` new tokens after ``prompt`` (not included), as
        ``rnnkit generate`` makes it: the prompt (None or '': a line break) but its last token
        is read in one call, then each step feeds the last token and samples the next from
        its logits (:func:`next_token`), carrying the state. Temperature 0 is greedy and gives
        rnnkit's text; sampled texts repeat for a seed (numpy's generator, not torch's)."""
        _check_sampling(temperature, top_k, top_p, seed, length)
        ids = self.tokenizer.encode("\n" if prompt is None or prompt == "" else prompt)
        if not ids:
            raise ValueError(f"prompt must encode to at least one token, got {prompt!r}")
        state = self.zero_state(1)
        if len(ids) > 1:
            _, state = self.advance(np.array([ids[:-1]], dtype=np.int64), state)
        rng = np.random.default_rng(seed)
        token, produced = ids[-1], []
        for _ in range(length):
            logits, state = self.step(np.array([token], dtype=np.int64), state)
            token = next_token(logits[0], rng, temperature=temperature, top_k=top_k, top_p=top_p)
            produced.append(token)
        return self.tokenizer.decode(produced)

    def token_nll(self, text: str) -> np.ndarray:
        """Negative log-likelihood in nats (N − 1,) of every token of ``text`` but the first,
        given all tokens before it (the state carried from the first token, zeros before)."""
        ids = self.tokenizer.encode(text)
        if len(ids) < 2:
            raise ValueError(f"text must hold at least 2 tokens to score, got {len(ids)}")
        x = np.array([ids[:-1]], dtype=np.int64)
        logits, _ = self.advance(x)
        logp = _log_softmax(logits[0])  # (N − 1, V)
        return -logp[np.arange(len(ids) - 1), np.array(ids[1:])]

    def score(self, text: str) -> float:
        """Mean negative log-likelihood of ``text``'s tokens in nats per token (what
        ``rnnkit evaluate`` calls loss; perplexity = exp(score))."""
        return float(self.token_nll(text).mean())
