"""Seed ensembles (``rnnkit train --ensemble N``): N members trained with seeds seed, seed + 1,
... on the same prepared data, shipped as one model that averages them.

What the runner (:func:`rnnkit.tasks.pipeline.run`) does with ``training.ensemble = N > 1``::

    prepare the data once (split, preprocessing and batch order: the base seed's)
    member i = 0 … N−1: seed_everything(seed + i), build, fit_model     run_dir/member-<i>/
    score each member alone (no baselines)   → its val/test metrics      metrics.json
    score the ensemble like any model         → the run's val/test          "ensemble" section
    one artifact: tensors ``members.<i>.<name>``, config.model =
        {"ensemble": {"size", "seeds", "combination"}, "member": <the members' config>}

How the members are combined (M members, m = 1 … M):

* classification (``sequence-classifier``) and tagging (``sequence-tagger``): the mean of the
  members' probabilities, p(c | x) = (1/M) Σ_m p_m(c | x); the label is its argmax.
* forecasting (``forecaster``): point forecasts are averaged, ŷ = (1/M) Σ_m ŷ_m; quantiles are
  *Vincentized* (averaged level by level), Q(q) = (1/M) Σ_m Q_m(q), which keeps them in order
  and is the quantile function of the "average member" (Ratcliff 1979; Lichtendahl, Grushka-
  Cockayne and Winkler 2013). A Gaussian member is first turned into its quantiles
  Q_m(q) = μ_m + σ_m Φ⁻¹(q) (or, for the autoregressive decoder, the quantiles of its sampled
  paths), so the Gaussian ensemble is again Gaussian, N(μ̄, σ̄²) with μ̄ and σ̄ the members'
  mean μ and mean σ. Unlike the mixture (1/M) Σ_m N(μ_m, σ_m²) it does not widen the interval
  by the members' disagreement; that disagreement is what the ``ensemble`` section of
  ``metrics.json`` reports as the members' spread, and conformal calibration (``calibrate``),
  fit on the ensemble, corrects the coverage either way.

The members share the data split, the preprocessing and the order of the batches (all set by
the base seed, so that every member is scored on the same validation and test data); they
differ in their initial weights and dropout. Member 0 is exactly the single-model run of the
base seed.

Models that the runner cannot average (language models, seq2seq) refuse ``ensemble`` before
any data are read, as do ``diagnostics_every`` (one model's gradients), resuming, and torchrun.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.io.artifact import Artifact, ArtifactError

#: The key of ``config.model`` that marks an ensemble artifact.
ENSEMBLE_KEY = "ensemble"
#: Tensor names of member i start with this followed by ``i.``.
MEMBER_PREFIX = "members."


def member_dir(run_dir: Path, index: int) -> Path:
    """Where member ``index`` (0-based) writes its trainer files (history, checkpoints, plots)."""
    return Path(run_dir) / f"member-{index}"


class Ensemble(nn.Module):
    """Members of one architecture, trained with different seeds, predicting as one.

    Args:
        members: M ≥ 2 trained models of the same class and config (eval mode).
        seeds: the seed each member was trained with.

    The state dict holds each member's tensors under ``members.<i>.``; :attr:`config` is the
    artifact's ``config.model``.
    """

    #: How the members' predictions are combined (said in metrics.json and summary.md).
    combination: ClassVar[str] = ""

    def __init__(self, members: Sequence[nn.Module], seeds: Sequence[int]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        if len(seeds) != len(members):
            raise ValueError(f"seeds must give one seed per member ({len(members)}), got "
                             f"{list(seeds)}")
        configs = [m.config for m in members]  # type: ignore[union-attr]
        if any(c != configs[0] for c in configs[1:]):
            raise ValueError("ensemble members must share one config, got differing ones")
        self.members = nn.ModuleList(members)
        self.seeds = [int(s) for s in seeds]

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def config(self) -> dict[str, Any]:
        """``{'ensemble': {'size', 'seeds', 'combination'}, 'member': <member config>}``."""
        first = self.members[0]
        return {
            ENSEMBLE_KEY: {"size": self.size, "seeds": list(self.seeds),
                           "combination": self.combination},
            "member": first.config,  # type: ignore[operator]
        }


class ClassifierEnsemble(Ensemble):
    """Sequence classifiers averaged in probability: p(c | x) = (1/M) Σ_m p_m(c | x)."""

    combination = "mean of the members' class probabilities"

    @property
    def num_classes(self) -> int:
        return int(self.members[0].num_classes)  # type: ignore[arg-type]

    @torch.no_grad()
    def predict_proba(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class probabilities (B, C): the members' mean."""
        return torch.stack([m.predict_proba(inputs, lengths) for m in self.members]).mean(0)


class TaggerEnsemble(Ensemble):
    """Sequence taggers averaged in probability at every step."""

    combination = "mean of the members' tag probabilities at each token"

    @torch.no_grad()
    def predict(self, inputs: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Most likely tags (B, T), −1 past each length, and the members' mean probabilities
        (B, T, C)."""
        outs = [m.predict(inputs, lengths) for m in self.members]
        probs = torch.stack([p for _, p in outs]).mean(0)
        padding = outs[0][0] < 0  # every member pads the same steps
        return probs.argmax(dim=-1).masked_fill(padding, -1), probs


class ForecasterEnsemble(Ensemble):
    """Forecasters averaged: the mean point forecast and the Vincentized quantiles (see the
    module docstring for the Gaussian case)."""

    combination = ("mean of the members' point forecasts; quantiles averaged level by level "
                   "(Vincentization)")

    def _first(self) -> Any:
        return self.members[0]

    @property
    def likelihood(self) -> str:
        return str(self._first().likelihood)

    @property
    def quantiles(self) -> tuple[float, ...]:
        return tuple(self._first().quantiles)

    @property
    def decoder(self) -> str:
        return str(self._first().decoder)

    @property
    def horizon(self) -> int:
        return int(self._first().horizon)

    def check_levels(self, levels: Sequence[float] | None) -> tuple[float, ...]:
        return tuple(self._first().check_levels(levels))

    @torch.no_grad()
    def predict(
        self, inputs: Tensor, *, seed: int = 0, levels: Sequence[float] | None = None
    ) -> dict[str, Tensor]:
        """``{'point': (B, h, C), 'quantiles': (B, h, C, Q)}``: the members' mean point forecast
        and their quantiles at ``levels`` averaged level by level (each member samples its
        autoregressive paths with the same ``seed``)."""
        outs = [m.predict(inputs, seed=seed, levels=levels) for m in self.members]
        return {
            "point": torch.stack([o["point"] for o in outs]).mean(0),
            "quantiles": torch.stack([o["quantiles"] for o in outs]).mean(0),
        }


#: The ensemble class of each artifact kind that can be ensembled.
ENSEMBLES: dict[str, type[Ensemble]] = {
    "forecaster": ForecasterEnsemble,
    "sequence-classifier": ClassifierEnsemble,
    "sequence-tagger": TaggerEnsemble,
}


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def check_ensemble(task: Any, training: Any, *, distributed: bool = False) -> None:
    """Refuse ``training.ensemble > 1`` where it cannot apply, before any data are read.

    Raises:
        ValueError: the task's models are not averaged (lm, translate, summarize), with
            ``diagnostics_every`` (the diagnostics follow one model's gradients), or under
            torchrun.
    """
    n = training.ensemble
    if n == 1:
        return
    if task.artifact_kind not in ENSEMBLES:
        names = ", ".join(sorted(_task_names()))
        raise ValueError(
            f"ensemble applies to the tasks {names}, whose predictions rnnkit averages; got "
            f"ensemble={n} for task {task.name!r}: rnnkit does not combine several models' "
            "generation (sampling, beam search), so train it with ensemble=1"
        )
    if training.diagnostics_every is not None:
        raise ValueError(
            f"diagnostics_every measures the gradients of one model, but ensemble={n} trains "
            f"{n}; got diagnostics_every={training.diagnostics_every}: drop one of the two "
            "options (diagnose a single-model run instead)"
        )
    if distributed:
        raise ValueError(
            f"ensemble={n} is not supported under torchrun (--nproc): its members would each "
            "need the process group; train the ensemble in one process, or a single model "
            "with --nproc"
        )


def _task_names() -> list[str]:
    from rnnkit.tasks.registry import TASKS

    return [t.name for t in TASKS.values() if t.artifact_kind in ENSEMBLES]


@dataclasses.dataclass
class Members:
    """What :func:`fit_members` made: the ensemble and each member's training summary."""

    model: Ensemble
    training: list[dict[str, Any]]


def fit_members(task: Any, prepared: Any, training: Any, run_dir: Path, say: Any) -> Members:
    """Train ``training.ensemble`` members of ``task``'s model on ``prepared``, member i with
    seed ``training.seed + i`` and its trainer files in ``run_dir/member-<i>/``."""
    from rnnkit.tasks.pipeline import build_seeded_model, fit_model

    n = training.ensemble
    members: list[nn.Module] = []
    summaries: list[dict[str, Any]] = []
    seeds = [training.seed + i for i in range(n)]
    for i, seed in enumerate(seeds):
        own = copy.deepcopy(training)
        own.seed, own.ensemble = seed, 1
        out = member_dir(run_dir, i)
        out.mkdir(exist_ok=True)
        own.out_dir = str(out)
        say(f"ensemble member {i + 1}/{n} (seed {seed}), files in {out.name}/")
        started = time.perf_counter()
        model = build_seeded_model(task, prepared, own)  # own.seed is this member's
        fitted = fit_model(model, prepared.train_batches, prepared.val_batches, own,
                           extra_callbacks=task.callbacks(prepared, own))
        if fitted.stopped_by:
            say(f"member {i + 1} training ended: {fitted.stopped_by}")
        summaries.append({"seed": seed, "dir": out.name,
                          **fitted.summary(time.perf_counter() - started)})
        members.append(model)
        # What fit_model resolved (no validation: train_loss) holds for the run as a whole.
        training.monitor, training.early_stopping, training.plateau_patience = (
            own.monitor, own.early_stopping, own.plateau_patience)
    return Members(ENSEMBLES[task.artifact_kind](members, seeds), summaries)


def training_summary(members: Members, seconds: float) -> dict[str, Any]:
    """The ``training`` section of ``metrics.json`` for an ensemble: the keys of a single run
    (``epochs`` summed over members, ``best_epoch``/``best_value``/``stopped_by`` None since each
    member has its own) and ``members``, each member's own section."""
    each = members.training
    return {
        "epochs": sum(int(m["epochs"]) for m in each),
        "best_epoch": None,
        "best_value": None,
        "monitor": each[0]["monitor"],
        "seconds": seconds,
        "stopped_by": None,
        "members": each,
    }


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def _scalars(values: dict[str, Any]) -> dict[str, float]:
    """The finite-or-NaN number entries of a metrics dict (lists, tables and flags left out)."""
    return {
        k: float(v) for k, v in values.items()
        if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)
    }


def score_members(task: Any, members: Ensemble, prepared: Any) -> list[dict[str, dict[str, float]]]:
    """Each member's own ``val``/``test`` metrics (the model's row of :meth:`Task.score`; the
    baselines, statsforecast's too, are not fit again per member), as
    ``[{'val': {metric: value}, 'test': {...}}, ...]``.

    Scored on a copy of ``prepared`` so that what the ensemble's scoring leaves there (plots,
    calibration) is the ensemble's."""
    from rnnkit.tasks.pipeline import without_baselines

    config = without_baselines(prepared.config)
    out = []
    for model, seed in zip(members.members, members.seeds, strict=True):
        alone = dataclasses.replace(prepared, config=config, parts=dict(prepared.parts))
        metrics = task.score(model, alone, seed).metrics
        out.append({
            part: _scalars(metrics[part]["model"])
            for part in ("val", "test") if metrics.get(part) and "model" in metrics[part]
        })
    return out


def _spread(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (ddof 1), min, max and the values themselves."""
    a = np.asarray(values, dtype=np.float64)
    finite = a[np.isfinite(a)]
    if len(finite) == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan,
                "values": a.tolist()}
    std = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
    return {"mean": float(finite.mean()), "std": std, "min": float(finite.min()),
            "max": float(finite.max()), "values": a.tolist()}


def ensemble_section(
    task: Any, members: Members, scores: dict[str, Any], each: list[dict[str, dict[str, float]]]
) -> dict[str, Any]:
    """The ``ensemble`` section of ``metrics.json``: size, seeds, how the members are combined,
    per part (``val``, ``test``) the ensemble's metrics beside the members' mean ± std, and the
    headline metric's gain of the ensemble over the average member (positive: the ensemble is
    better, whichever direction the metric runs)."""
    model = members.model
    section: dict[str, Any] = {
        "size": model.size,
        "seeds": list(model.seeds),
        "combination": model.combination,
        "member_dirs": [m["dir"] for m in members.training],
    }
    name, higher = task.headline
    for part in ("val", "test"):
        if not scores.get(part) or "model" not in scores[part]:
            continue
        combined = _scalars(scores[part]["model"])
        spreads = {
            k: _spread([m.get(part, {}).get(k, math.nan) for m in each])
            for k in combined if all(k in m.get(part, {}) for m in each)
        }
        entry: dict[str, Any] = {"ensemble": combined, "members": spreads}
        if name in combined and name in spreads:
            mean = spreads[name]["mean"]
            entry["headline"] = {
                "metric": name,
                "higher_is_better": higher,
                "ensemble": combined[name],
                "member_mean": mean,
                "member_std": spreads[name]["std"],
                "best_member": spreads[name]["max" if higher else "min"],
                "gain": (combined[name] - mean) if higher else (mean - combined[name]),
            }
        section[part] = entry
    return section


def summary_text(section: dict[str, Any]) -> str:
    """The ``Ensemble`` section of ``summary.md``: how many members, how they are combined,
    and the headline metric of the ensemble beside the members on validation and test."""
    seeds = ", ".join(str(s) for s in section["seeds"])
    lines = [
        f"An ensemble of {section['size']} members (seeds {seeds}; each member's training "
        f"files in {', '.join(d + '/' for d in section['member_dirs'])}), combined by the "
        f"{section['combination']}. The tables and the verdict are the ensemble's.",
    ]
    rows = []
    for part, label in (("val", "validation"), ("test", "test")):
        h = section.get(part, {}).get("headline")
        if h is None:
            continue
        gain = h["gain"]
        said = "equal" if gain == 0 else f"{'better' if gain > 0 else 'worse'} by {abs(gain):.3g}"
        rows.append(
            f"| {label} | {h['metric']} | {h['ensemble']:.4g} | {h['member_mean']:.4g} ± "
            f"{h['member_std']:.2g} | {h['best_member']:.4g} | {said} |"
        )
    if rows:
        lines += [
            "",
            "| part | metric | ensemble | members (mean ± std) | best member | ensemble vs "
            "mean member |",
            "|---|---|---:|---:|---:|---|",
            *rows,
            "",
            "Every metric of each member is in `metrics.json` under `ensemble`.",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Artifacts
# --------------------------------------------------------------------------------------------


def is_ensemble_config(config: Any) -> bool:
    """Whether ``config.model`` of an artifact describes an ensemble."""
    return isinstance(config, dict) and ENSEMBLE_KEY in config


def rebuild_ensemble(model_class: type[nn.Module], artifact: Artifact, rebuild: Any) -> Ensemble:
    """The ensemble an artifact holds: each member rebuilt by ``rebuild(model_class,
    member_artifact)`` (:meth:`Task.rebuild_model`, with all its checks) from the tensors
    ``members.<i>.*`` and ``config.model.member``.

    Raises:
        ArtifactError: a malformed ``config.model.ensemble``, a member whose tensors do not
            match, or tensors that belong to no member.
    """
    config = artifact.config["model"]
    if sorted(config) != [ENSEMBLE_KEY, "member"]:
        raise ArtifactError(
            f"config.model: an ensemble's config has the keys ['ensemble', 'member'], got "
            f"{sorted(config)}"
        )
    info, member = config[ENSEMBLE_KEY], config["member"]
    size = info.get("size") if isinstance(info, dict) else None
    seeds = info.get("seeds") if isinstance(info, dict) else None
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise ArtifactError(f"config.model.ensemble.size: expected an integer ≥ 2, got {size!r}")
    if (not isinstance(seeds, list) or len(seeds) != size
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ArtifactError(
            f"config.model.ensemble.seeds: expected {size} integers, got {seeds!r}"
        )
    kind = ENSEMBLES.get(artifact.kind)
    if kind is None:
        raise ArtifactError(f"config.model: a {artifact.kind!r} artifact cannot be an ensemble")
    prefixes = [f"{MEMBER_PREFIX}{i}." for i in range(size)]
    stray = [k for k in artifact.tensors
             if not k.startswith("fallback.") and not k.startswith(tuple(prefixes))]
    if stray:
        raise ArtifactError(
            f"tensors {stray[:5]} belong to none of the ensemble's {size} members "
            f"(names start with {MEMBER_PREFIX}0. … {MEMBER_PREFIX}{size - 1}.)"
        )
    members = []
    for i, prefix in enumerate(prefixes):
        own = Artifact(
            artifact.kind,
            {"model": member, "task": artifact.config.get("task")},
            {k[len(prefix):]: v for k, v in artifact.tensors.items() if k.startswith(prefix)},
            artifact.preprocessing, artifact.metrics, artifact.rnnkit_version, artifact.format,
        )
        try:
            members.append(rebuild(model_class, own))
        except ArtifactError as err:
            raise ArtifactError(f"ensemble member {i}: {err}") from err
    return kind(members, seeds).eval()

