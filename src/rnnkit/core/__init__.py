"""The foundation below the rest of rnnkit: small helpers with one job each.

Nothing here imports from rnnkit except :mod:`rnnkit.errors`, so every other package (config,
data, models, io, train, eval, tasks) may build on it without import cycles.

* :mod:`rnnkit.core.suggest` — "did you mean ...?" for a misspelt name;
* :mod:`rnnkit.core.checks` — argument checks (choices, int bounds, numbers) as problem strings
  or as ``ValueError``;
* :mod:`rnnkit.core.files` — atomic file writes;
* :mod:`rnnkit.core.state` — nested state (tensors and JSON) in one safetensors file;
* :mod:`rnnkit.core.plotting` — figures on matplotlib's Agg canvas, saved atomically;
* :mod:`rnnkit.core.version` — the installed package's version.

Submodules are imported on demand (``from rnnkit.core.state import ...``), so importing one does
not pull in torch or matplotlib through another.
"""
