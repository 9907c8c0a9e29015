"""The deployment side: only numpy and onnxruntime (torch is blocked), the ``rnnkit_runner.py``
that ``rnnkit export`` wrote, and the exports of docs/deployment.md section 4; compares with
``expected.json`` from ``prepare_expected.py``::

    python examples/deploy/deployed.py
"""

from __future__ import annotations

import json
import sys

sys.modules["torch"] = None  # any import of torch now fails
sys.path.insert(0, ".")  # rnnkit_runner.py lies beside the exports

import numpy as np  # noqa: E402
from rnnkit_runner import load  # noqa: E402


def main() -> None:
    with open("expected.json", encoding="utf-8") as f:
        exp = json.load(f)
    res = {}
    m = load("classify-rotten-tomatoes.onnx")
    texts = exp["text"]["inputs"]
    p = m.predict_proba(texts)
    same = np.mean([str(a) == b for a, b in zip(m.predict(texts), exp["text"]["labels"],
                                                strict=True)])
    res["text"] = (np.abs(p - np.array(exp["text"]["probs"])).max(), same)
    m = load("classify-basic-motions.onnx")
    p = m.predict_proba([np.array(s) for s in exp["motions"]["inputs"]])
    labels = [str(m.labels[i]) for i in p.argmax(1)]
    res["motions"] = (np.abs(p - np.array(exp["motions"]["probs"])).max(),
                      np.mean([a == b for a, b in zip(labels, exp["motions"]["labels"],
                                                      strict=True)]))
    m = load("tag-chinese-segmentation.onnx")
    rows = [(t, q) for _, tags, probs in m.tag(exp["tag"]["inputs"])
            for t, q in zip(tags, probs, strict=True)]
    res["tag"] = (np.abs(np.array([q for _, q in rows]) - np.array(exp["tag"]["probs"])).max(),
                  np.mean([t == b for (t, _), b in zip(rows, exp["tag"]["tags"], strict=True)]))
    f = load("forecast-sunspots.onnx").forecast(np.array(exp["forecast"]["inputs"]))
    res["forecast"] = (max(np.abs(f[k][:, 0] - np.array(exp["forecast"][k])).max()
                           for k in ("point", "lower", "upper")), 1.0)
    loaded = [k for k, v in sys.modules.items() if v is not None and k.split(".")[0] == "torch"]
    print("torch modules loaded:", loaded)
    for k, (diff, share) in res.items():
        print(f"{k}: max |runner - rnnkit predict| = {diff:.3g}, same label/tag share {share:.4f}")


if __name__ == "__main__":
    main()
