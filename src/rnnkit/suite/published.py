"""Published results, read from files shipped inside pip packages, each with its source.

Classification: the 2023 time-series-classification bake-off (Middlehurst, Schäfer & Bagnall,
"Bake off redux: a review and experimental evaluation of recent time series classification
algorithms", Data Mining and Knowledge Discovery, 2024) ships its accuracy tables in the
tsml-eval wheel (``pip install --no-deps tsml-eval`` is enough: nothing is imported) under
``tsml_eval/publications/y2023/tsc_bakeoff/results/<group>/<method>_accuracy.csv``: one row per
UCR dataset, one column per resample. Resample 0 is the archive's own train/test split — the
split this suite scores on — so that column is the comparable number.

Forecasting: none. The M3 paper's tables (Makridakis & Hibon 2000) report sMAPE over all 3003
series, not over this suite's subsets, so they are not comparable and are not shown.
"""

from __future__ import annotations

import csv

from rnnkit.data.registry import DatasetUnavailableError, package_file

PACKAGE = "tsml-eval"
RESULTS = "tsml_eval/publications/y2023/tsc_bakeoff/results"
SOURCE = (
    "Middlehurst, Schäfer & Bagnall, Bake off redux (Data Min. Knowl. Disc. 2024), accuracy "
    "on resample 0 (the archive's split), from tsml-eval's file {file}"
)

#: Column label → (group folder, method file stem) in the bake-off's results.
CLASSIFICATION = {
    "1-NN DTW (published)": ("distance", "1NN-DTW"),
    "ROCKET (published)": ("convolution", "ROCKET"),
    "ResNet (published)": ("deeplearning", "ResNet"),
    "InceptionTime (published)": ("deeplearning", "InceptionTime"),
}


def read_accuracy_table(path: str) -> dict[str, float]:
    """``{dataset: accuracy of resample 0}`` from one bake-off CSV (header 'Resamples:,0,1,…')."""
    out: dict[str, float] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        if len(header) < 2 or header[1].strip() != "0":
            raise ValueError(
                f"{path!r}: expected a header 'Resamples:,0,1,…', got {','.join(header[:3])!r}"
            )
        for row in rows:
            if len(row) >= 2 and row[1].strip():
                out[row[0].strip()] = float(row[1])
    return out


def published_classification(ucr_names: list[str]) -> tuple[dict[str, dict[str, float]], dict]:
    """Published accuracies of the datasets named ``ucr_names``.

    Returns ``({column: {dataset: accuracy}}, {column: source})``; both empty (and a note in
    the sources under ``'note'``) when tsml-eval is not installed.
    """
    values: dict[str, dict[str, float]] = {}
    sources: dict[str, str] = {}
    for column, (group, stem) in CLASSIFICATION.items():
        relative = f"{RESULTS}/{group}/{stem}_accuracy.csv"
        try:
            table = read_accuracy_table(package_file(PACKAGE, relative))
        except DatasetUnavailableError as err:
            return {}, {"note": f"published accuracies not shown: {err}"}
        values[column] = {n: table[n] for n in ucr_names if n in table}
        sources[column] = SOURCE.format(file=relative)
    return values, sources
