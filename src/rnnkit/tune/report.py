"""What a finished study shows: the table of settings, the chosen one, and the plot.

The choice follows the one-standard-error rule (Breiman et al. 1984; Hastie, Tibshirani &
Friedman, *Elements of Statistical Learning*, §7.10): with K folds, the best mean score m* has
a standard error s* / √K (s*: the standard deviation of its fold scores). Every setting whose
mean lies within one standard error of m* is as good as the best within the noise of
cross-validation; of those, the one with the fewest parameters is chosen (ties: the better
mean), because a smaller model is cheaper, and less likely to have won by overfitting the
folds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnnkit.tune.space import SearchSpace
from rnnkit.tune.study import TuneSpec, fold_attr, require_optuna, setting_key


def study_table(study: Any, spec: TuneSpec, space: SearchSpace) -> pd.DataFrame:
    """One row per setting: its options, parameter count, fold scores, mean ± std, state.

    Columns: the searched options, ``parameters``, ``folds`` (finished folds), ``mean``,
    ``std`` (sample standard deviation over folds; NaN with one fold), ``sem`` (std / √folds),
    ``state`` ('complete', 'pruned' or 'failed'), ``trial`` (the trial number), then
    ``fold_1`` … ``fold_K``. Sorted best first (complete settings before the others).
    """
    optuna = require_optuna()
    order = {"COMPLETE": 0, "PRUNED": 1, "RUNNING": 2, "WAITING": 3, "FAIL": 4}
    latest: dict[str, Any] = {}
    for t in study.get_trials(deepcopy=False):
        if not t.params or t.state == optuna.trial.TrialState.WAITING:
            continue
        key = setting_key(t.params)
        seen = latest.get(key)
        if seen is None or order[t.state.name] < order[seen.state.name]:
            latest[key] = t
    rows = []
    attrs = study.user_attrs
    for key, t in latest.items():
        folds = [attrs.get(fold_attr(key, i)) for i in range(spec.cv)]
        scores = [f["score"] for f in folds if f is not None]
        params = [f["parameters"] for f in folds if f is not None]
        row: dict[str, Any] = {name: t.params.get(name) for name in space.names}
        std = float(np.std(scores, ddof=1)) if len(scores) > 1 else math.nan
        row.update(
            parameters=params[0] if params else t.user_attrs.get("parameters"),
            folds=len(scores),
            mean=float(np.mean(scores)) if scores else math.nan,
            std=std,
            sem=std / math.sqrt(len(scores)) if len(scores) > 1 else math.nan,
            state={"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}.get(
                t.state.name, t.state.name.lower()
            ),
            trial=t.number,
        )
        for i, f in enumerate(folds):
            row[f"fold_{i + 1}"] = math.nan if f is None else f["score"]
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    sign = -1.0 if spec.higher_is_better else 1.0
    table["_rank"] = table["state"].map(lambda s: 0 if s == "complete" else 1)
    table["_key"] = sign * table["mean"].fillna(-sign * math.inf)
    table = table.sort_values(["_rank", "_key"], kind="stable").drop(columns=["_rank", "_key"])
    return table.reset_index(drop=True)


def choose(table: pd.DataFrame, higher_is_better: bool) -> tuple[int, int, str]:
    """(chosen row, best row, why) under the one-standard-error rule (module docstring).

    Raises:
        ValueError: no setting finished all its folds.
    """
    complete = table[table["state"] == "complete"]
    if complete.empty:
        raise ValueError(
            "no setting finished all its folds (every one was pruned or failed); see the table "
            "in summary.md, and widen the search or lower --cv"
        )
    means = complete["mean"]
    best = int(means.idxmax() if higher_is_better else means.idxmin())
    m, sem = float(table.at[best, "mean"]), float(table.at[best, "sem"])
    sem = 0.0 if not math.isfinite(sem) else sem
    gap = (m - complete["mean"]) if higher_is_better else (complete["mean"] - m)
    near = complete[gap <= sem + 1e-12]
    sizes = near["parameters"].fillna(math.inf)
    smallest = near[sizes == sizes.min()]
    chosen = int(smallest["mean"].idxmax() if higher_is_better else smallest["mean"].idxmin())
    if chosen == best:
        others = len(near) - 1
        why = (
            f"it has the best mean score ({m:.4g}, standard error {sem:.2g} over the folds)"
            + (
                f"; {others} other setting(s) lie within one standard error of it, but none "
                "has fewer parameters" if others else
                "; no other setting lies within one standard error of it"
            )
        )
    else:
        why = (
            f"its mean score {float(table.at[chosen, 'mean']):.4g} lies within one standard "
            f"error ({sem:.2g}) of the best mean {m:.4g} (row {best + 1}), so the two are equal "
            f"within the noise of cross-validation, and it is the smaller model "
            f"({_count(table.at[chosen, 'parameters'])} parameters against "
            f"{_count(table.at[best, 'parameters'])}): one-standard-error rule"
        )
    return chosen, best, why


def _count(value: Any) -> str:
    return "?" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        f"{int(value):,}"
    )


def format_table(table: pd.DataFrame, space: SearchSpace, metric: str,
                 chosen: int | None = None) -> str:
    """Markdown: one row per setting, ``metric`` as mean ± std over folds."""
    head = [*space.names, "parameters", f"{metric} (mean ± std)", "folds", "state"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, row in table.iterrows():
        values = [_value(row[n]) for n in space.names]
        score = "–" if not math.isfinite(row["mean"]) else (
            f"{row['mean']:.4f} ± {row['std']:.4f}" if math.isfinite(row["std"])
            else f"{row['mean']:.4f}"
        )
        mark = " **(chosen)**" if i == chosen else ""
        values += [_count(row["parameters"]), score + mark, str(int(row["folds"])), row["state"]]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines)


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def plot_scores(table: pd.DataFrame, space: SearchSpace, metric: str, path: Path,
                title: str) -> Path | None:
    """PNG of the mean score (error bars: ± std over folds) against hidden size, one line per
    setting of the other listed options (against the parameter count when hidden size is not
    searched). None when no setting has a score."""
    from rnnkit.core.plotting import new_figure, save_figure

    scored = table[np.isfinite(table["mean"].to_numpy(dtype=float))]
    if scored.empty:
        return None
    x_name = "hidden_size" if "hidden_size" in space.names else "parameters"
    others = [p.name for p in space.params if p.name != x_name]
    fig, axes = new_figure(size=(7.0, 4.5), purpose="the tuning plot")
    ax = axes[0, 0]
    groups = scored.groupby(others, dropna=False, sort=True) if others else [((), scored)]
    for values, group in groups:
        values = values if isinstance(values, tuple) else (values,)
        group = group.sort_values(x_name)
        label = ", ".join(f"{n}={_value(v)}" for n, v in zip(others, values, strict=True))
        ax.errorbar(
            group[x_name].astype(float), group["mean"], yerr=group["std"].fillna(0.0),
            marker="o", capsize=3, label=label or None,
            linestyle="-" if all(p.is_list for p in space.params) else "none",
        )
    if x_name == "hidden_size":
        ax.set_xscale("log", base=2)
    ax.set_xlabel(x_name.replace("_", " "))
    ax.set_ylabel(f"{metric} (mean ± std over folds)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if others and len(scored) <= 40:
        ax.legend(fontsize=7)
    return save_figure(fig, path)
