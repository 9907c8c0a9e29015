"""Inputs from the bundled datasets and ``rnnkit predict``'s answers for them, for
``deployed.py`` to compare the numpy + onnxruntime runner against (docs/deployment.md).

Run in the folder that holds ``runs/`` and the exports of docs/deployment.md section 4::

    python examples/deploy/prepare_expected.py      # writes expected.json
    python examples/deploy/deployed.py              # torch blocked: the runner only
"""

from __future__ import annotations

import json

import numpy as np

import rnnkit
from rnnkit.data.registry import load_dataset
from rnnkit.tasks import classify


def main() -> None:
    out = {}
    reviews = load_dataset("rotten-tomatoes").iloc[:1000]
    loaded = rnnkit.load("runs/classify-rotten-tomatoes")
    column = loaded.preprocessing.columns.get("text_column") or "text"
    pred = rnnkit.predict("runs/classify-rotten-tomatoes", reviews)
    names = loaded.preprocessing.labels.names
    out["text"] = {
        "inputs": reviews[column].astype(str).tolist(),
        "labels": pred["predicted_label"].astype(str).tolist(),
        "probs": pred[[f"prob_{n}" for n in names]].to_numpy().tolist(),
    }
    motions = [np.asarray(s) for s in load_dataset("basic-motions").sequences]
    loaded = rnnkit.load("runs/classify-basic-motions")
    pre = loaded.preprocessing
    probs = classify.predict_proba(loaded.model, [pre.normalizer.transform(s) for s in motions])
    out["motions"] = {
        "inputs": [s.tolist() for s in motions],
        "probs": probs.tolist(),
        "labels": [str(x) for x in pre.labels.decode(probs.argmax(1))],
    }
    sentences = ["".join(t) for t in load_dataset("chinese-segmentation").tokens[:500]]
    pred = rnnkit.predict("runs/tag-chinese-segmentation", sentences)
    out["tag"] = {
        "inputs": sentences,
        "tags": pred["predicted_tag"].tolist(),
        "probs": pred["probability"].tolist(),
    }
    loaded = rnnkit.load("runs/forecast-sunspots")
    target = loaded.preprocessor.targets[0]
    pred = rnnkit.predict("runs/forecast-sunspots", "sunspots")
    out["forecast"] = {
        "inputs": load_dataset("sunspots")[target].tolist(),
        **{k: pred[f"{target}{s}"].tolist() for k, s in
           (("point", ""), ("lower", "_lower"), ("upper", "_upper"))},
    }
    with open("expected.json", "w", encoding="utf-8") as f:
        json.dump(out, f)
    print({k: len(v["inputs"]) for k, v in out.items()})


if __name__ == "__main__":
    main()
