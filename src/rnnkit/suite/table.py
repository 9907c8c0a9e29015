"""The results table of a suite: per dataset the model (mean ± std over seeds) beside each
baseline and published number, then wins/ties/losses of the model against each column and the
mean rank of every method run here — all recomputed from the per-dataset numbers.

Rules (printed under the table):

* the first metric ranks (MASE for forecasting, lower is better; accuracy for classification,
  higher is better); the model's value on a dataset is its mean over seeds;
* tie: |model − other| ≤ 1% of the larger for MASE/sMAPE/MAPE, ≤ 0.005 for accuracy;
* ranks are among the methods run here (published numbers are not ranked: they were not run
  on this machine), on values rounded to 3 decimals, tied values sharing their mean rank;
* a dataset where the default configuration failed counts as a loss against every column with
  a value, and the model ranks last there.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rnnkit.runs import strict_json

MODEL = "rnnkit default"
LOWER_IS_BETTER = {"mase": True, "smape": True, "mape": True, "accuracy": False}
METRIC_LABELS = {"mase": "MASE", "smape": "sMAPE", "mape": "MAPE", "accuracy": "accuracy"}


@dataclass
class DatasetResult:
    """One dataset's numbers. ``model`` holds one ``{metric: value}`` per seed that ran;
    ``baselines`` and ``published`` one ``{metric: value}`` per method."""

    name: str
    kind: str
    metrics: list[str]
    model: list[dict[str, float]] = field(default_factory=list)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    published: dict[str, dict[str, float]] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    description: str = ""
    source: str = ""

    @property
    def primary(self) -> str:
        return self.metrics[0]

    def model_value(self, metric: str | None = None) -> float | None:
        """Mean over seeds (None when every seed failed)."""
        metric = metric or self.primary
        values = [m[metric] for m in self.model if _finite(m.get(metric))]
        return float(np.mean(values)) if values and self.error is None else None

    def model_std(self, metric: str | None = None) -> float | None:
        metric = metric or self.primary
        values = [m[metric] for m in self.model if _finite(m.get(metric))]
        return float(np.std(values)) if len(values) > 1 and self.error is None else None

    def value(self, column: str, metric: str | None = None) -> float | None:
        """The value of a baseline or published column (None: absent)."""
        metric = metric or self.primary
        row = self.baselines.get(column) or self.published.get(column) or {}
        v = row.get(metric)
        return float(v) if _finite(v) else None


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(float(v))


def compare(model: float | None, other: float, metric: str) -> str:
    """'win', 'tie' or 'loss' of ``model`` against ``other`` (None: the model failed)."""
    if model is None:
        return "loss"
    if metric == "accuracy":
        tied = abs(model - other) <= 0.005
    else:
        tied = abs(model - other) <= 0.01 * max(abs(model), abs(other))
    if tied:
        return "tie"
    better = model < other if LOWER_IS_BETTER[metric] else model > other
    return "win" if better else "loss"


def average_ranks(values: dict[str, float | None], lower_is_better: bool) -> dict[str, float]:
    """Rank 1 = best; values rounded to 3 decimals, ties share the mean of their ranks; None
    (a failed method) ranks after all others."""
    key = {
        k: (math.inf if v is None else round(v if lower_is_better else -v, 3))
        for k, v in values.items()
    }
    ordered = sorted(key.values())
    ranks: dict[str, float] = {}
    for k, v in key.items():
        first = ordered.index(v) + 1
        count = ordered.count(v)
        ranks[k] = first + (count - 1) / 2
    return ranks


def columns(results: list[DatasetResult]) -> tuple[list[str], list[str]]:
    """Baseline columns and published columns, in order of first appearance."""
    baselines: list[str] = []
    published: list[str] = []
    for r in results:
        baselines += [b for b in r.baselines if b not in baselines]
        published += [p for p in r.published if p not in published]
    return baselines, published


@dataclass
class Summary:
    """Wins/ties/losses of the model per column, and mean rank per method run here."""

    metric: str
    wins_ties_losses: dict[str, tuple[int, int, int]]
    mean_rank: dict[str, float]
    ranked_datasets: int
    ranks: dict[str, dict[str, float]]


def summarize(results: list[DatasetResult]) -> Summary:
    """Recompute wins/ties/losses and mean ranks from the per-dataset numbers of one task kind.

    Raises:
        ValueError: results of several kinds (their metrics differ; see :func:`by_kind`).
    """
    kinds = {r.kind for r in results}
    if len(kinds) > 1:
        raise ValueError(f"results must be of one task kind, got {sorted(kinds)}")
    scored = [r for r in results if r.model or r.error]
    metric = scored[0].primary if scored else "accuracy"
    baselines, published = columns(scored)
    wtl: dict[str, list[int]] = {c: [0, 0, 0] for c in baselines + published}
    ranks: dict[str, dict[str, float]] = {}
    for r in scored:
        mine = r.model_value()
        for c in baselines + published:
            other = r.value(c)
            if other is not None:
                wtl[c][("win", "tie", "loss").index(compare(mine, other, metric))] += 1
        present = {b: r.value(b) for b in baselines if r.value(b) is not None}
        if present:
            ranks[r.name] = average_ranks({MODEL: mine, **present}, LOWER_IS_BETTER[metric])
    methods = [MODEL, *baselines]
    mean_rank = {
        m: float(np.mean([rk[m] for rk in ranks.values() if m in rk]))
        for m in methods
        if any(m in rk for rk in ranks.values())
    }
    return Summary(metric, {c: tuple(v) for c, v in wtl.items()}, mean_rank, len(ranks), ranks)


def _cell(v: float | None, std: float | None = None) -> str:
    if v is None:
        return "—"
    return f"{v:.3f} ± {std:.3f}" if std is not None else f"{v:.3f}"


def table_rows(results: list[DatasetResult], metric: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one metric's table (a model that failed shows 'failed')."""
    baselines, published = columns(results)
    header = ["dataset", MODEL, *baselines, *published]
    rows = []
    for r in results:
        if not (r.model or r.error) or metric not in r.metrics:
            continue
        model = "failed" if r.error else _cell(r.model_value(metric), r.model_std(metric))
        rows.append([r.name, model, *[_cell(r.value(c, metric)) for c in baselines + published]])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), *(fmt.format(*row) for row in rows)])


def summary_rows(results: list[DatasetResult], summary: Summary) -> list[list[str]]:
    """'wins/ties/losses' and 'mean rank' rows aligned with :func:`table_rows`' columns."""
    baselines, published = columns([r for r in results if r.model or r.error])
    wtl = ["W/T/L of the model", "—"]
    wtl += ["{}/{}/{}".format(*summary.wins_ties_losses[c]) for c in baselines + published]
    rank = ["mean rank", _rank(summary, MODEL)]
    rank += [_rank(summary, c) for c in baselines] + ["—"] * len(published)
    return [wtl, rank]


def _rank(summary: Summary, method: str) -> str:
    v = summary.mean_rank.get(method)
    return "—" if v is None else f"{v:.2f}"


def by_kind(results: list[DatasetResult]) -> dict[str, list[DatasetResult]]:
    """Results grouped by task kind ('forecast', 'classify'), in order of first appearance:
    each kind has its own metrics, table and summary."""
    out: dict[str, list[DatasetResult]] = {}
    for r in results:
        out.setdefault(r.kind, []).append(r)
    return out


def render(results: list[DatasetResult], *, markdown: bool) -> str:
    """Per task kind, every metric's table; the first carries the W/T/L and mean-rank rows."""
    fmt = markdown_table if markdown else text_table
    parts = []
    for group in by_kind(results).values():
        summary = summarize(group)
        metrics = next((r.metrics for r in group if r.model or r.error), [])
        for i, metric in enumerate(metrics):
            header, rows = table_rows(group, metric)
            if i == 0:
                rows = rows + summary_rows(group, summary)
            better = "lower" if LOWER_IS_BETTER[metric] else "higher"
            title = f"{METRIC_LABELS[metric]} ({better} is better)"
            parts.append((f"**{title}**" if markdown else title) + "\n\n" + fmt(header, rows))
    return "\n\n".join(parts)


def to_json(results: list[DatasetResult], meta: dict[str, Any]) -> str:
    """Everything: the run's details, every dataset's numbers per seed, and the summary of
    each task kind."""
    summaries = {}
    for kind, group in by_kind(results).items():
        summary = summarize(group)
        summaries[kind] = {
            "metric": summary.metric,
            "wins_ties_losses": {c: list(v) for c, v in summary.wins_ties_losses.items()},
            "mean_rank": summary.mean_rank,
            "ranked_datasets": summary.ranked_datasets,
            "ranks": summary.ranks,
        }
    data = {**meta, "datasets": [asdict(r) for r in results], "summary": summaries}
    return json.dumps(strict_json(data), indent=1, default=str, allow_nan=False)


