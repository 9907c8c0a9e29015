"""CSV files as European spreadsheets write them: ';' separators, decimal commas, cp1252 text
and day-first dates are read right and said, and ambiguous dates are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.csv_dialect import parse_dates, sniff_dialect
from rnnkit.data.timeseries import load_series_table


def european_csv(path, n=120, start="2024-01-01"):
    """``datum;filiale;menge`` with day-first dates, decimal commas and an umlaut, cp1252."""
    days = pd.date_range(start, periods=n, freq="D")
    rows = ["datum;filiale;menge"]
    rows += [f"{d:%d.%m.%Y};Köln;{1000 + i},{i % 10}" for i, d in enumerate(days)]
    path.write_bytes(("\n".join(rows) + "\n").encode("cp1252"))
    return days


def test_a_european_file_is_read_as_written_and_the_report_says_how(tmp_path) -> None:
    path = tmp_path / "umsatz.csv"
    days = european_csv(path)
    table = load_series_table(path, time_column="datum", targets=["menge"])
    assert list(table.frame["datum"]) == list(days)  # 120 consecutive days, not a year
    assert table.report.missing_steps == 0 and table.report.frequency == "1 day"
    np.testing.assert_allclose(table.frame["menge"][:3], [1000.0, 1001.1, 1002.2])
    lines = "\n".join(table.report.lines())
    assert "separator ';' detected" in lines and "decimal comma detected" in lines
    assert "read as cp1252" in lines and "read day-first (e.g. '13.01.2024')" in lines


def test_given_options_win_over_detection(tmp_path) -> None:
    path = tmp_path / "umsatz.csv"
    european_csv(path)
    dialect = sniff_dialect(path, sep=";", decimal=",", encoding="cp1252")
    assert (dialect.sep, dialect.decimal, dialect.encoding, dialect.notes) == (
        ";", ",", "cp1252", []
    )
    with pytest.raises(ValueError, match=r"is not utf-8 text.*pass another --encoding"):
        sniff_dialect(path, encoding="utf-8")


def test_dates_that_read_both_ways_are_refused_with_both_readings() -> None:
    dates = pd.Series(["03.01.2024", "04.01.2024", "05.01.2024"])
    with pytest.raises(ValueError, match=r"'03.01.2024' is 2024-01-03 day-first and "
                                         r"2024-03-01 month-first; pass --dayfirst"):
        parse_dates(dates, "datum")
    parsed, note = parse_dates(dates, "datum", dayfirst=True)
    assert list(parsed.dt.day) == [3, 4, 5] and note is None
    parsed, _ = parse_dates(dates, "datum", time_format="%m.%d.%Y")
    assert list(parsed.dt.month) == [3, 4, 5]


def test_month_first_dates_are_detected_and_mixed_orders_refused() -> None:
    parsed, note = parse_dates(pd.Series(["01/31/2024", "02/01/2024"]), "date")
    assert [d.isoformat() for d in parsed.dt.date] == ["2024-01-31", "2024-02-01"]
    assert note == "dates in 'date' read month-first (e.g. '01/31/2024')"
    with pytest.raises(ValueError, match=r"some dates read day-first \('31.01.2024'\) and "
                                         r"others month-first \('01.31.2024'\)"):
        parse_dates(pd.Series(["31.01.2024", "01.31.2024"]), "date")
    with pytest.raises(ValueError, match="dayfirst=False does not fit"):
        parse_dates(pd.Series(["31.01.2024"]), "date", dayfirst=False)


def test_ordinary_files_read_exactly_as_before(tmp_path) -> None:
    path = tmp_path / "plain.csv"
    frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=30).strftime("%Y-%m-%d"),
                          "y": np.arange(30) / 3})
    frame.to_csv(path, index=False)
    table = load_series_table(path, time_column="day", targets=["y"])
    np.testing.assert_allclose(table.frame["y"], frame["y"])
    assert table.report.reading == []


def test_a_long_format_csv_without_id_column_gets_the_hint_and_messages_name_the_file(
    tmp_path,
) -> None:
    from rnnkit.data.classification_data import read_classification_data

    path = tmp_path / "gestures.csv"
    pd.DataFrame({"seq": [1, 1, 2, 2], "x": [0.1, 0.2, 0.3, 0.4], "label": ["a", "a", "b", "b"]}
                 ).to_csv(path, index=False)
    columns = {"text_column": "text", "label_column": "label", "id_column": None,
               "time_column": None, "feature_columns": None, "format": "auto"}
    with pytest.raises(ValueError, match=r"long format\), pass id_column \(--id-column NAME\)"):
        read_classification_data(path, columns)
    with pytest.raises(ValueError, match=r"'.*gestures.csv'.*feature_columns"):
        read_classification_data(path, {**columns, "id_column": "seq",
                                        "feature_columns": ["y"]})


def test_the_forecast_task_takes_the_file_options(tmp_path) -> None:
    from rnnkit.tasks.forecast import TASK, ForecastConfig

    path = tmp_path / "umsatz.csv"
    european_csv(path, n=200)
    training = TASK.default_training(None, quiet=True)
    said: list[str] = []
    config = ForecastConfig(data=str(path), time_column="datum", targets=["menge"], horizon=3)
    prepared = TASK.prepare(config, training, said.append)
    assert prepared.parts["table"].report.frequency == "1 day"
    assert any("separator ';' detected" in line for line in said)
    with pytest.raises(ValueError, match="looks ';'-separated"):
        TASK.prepare(ForecastConfig(data=str(path), time_column="datum", targets=["menge"],
                                    sep=","), training, said.append)
    with pytest.raises(ValueError, match="decimal must be one of"):
        ForecastConfig(data=str(path), time_column="datum", targets=["menge"], decimal=";")


def test_rows_with_an_empty_text_or_label_are_refused_or_skipped(tmp_path) -> None:
    from rnnkit.data.classification_data import read_classification_data

    path = tmp_path / "reviews.csv"
    pd.DataFrame({"text": ["good", "", "bad", "fine"], "label": ["p", "n", None, "p"]}
                 ).to_csv(path, index=False)
    columns = {"text_column": "text", "label_column": "label", "id_column": None,
               "time_column": None, "feature_columns": None, "format": "auto"}
    with pytest.raises(ValueError, match=r"got 1 empty row\(s\), first at data row\(s\) \[2\]; "
                                         r".*--on-bad-rows skip"):
        read_classification_data(path, columns)
    data = read_classification_data(path, columns, on_bad_rows="skip")
    assert data.texts == ["good", "fine"] and list(data.labels) == ["p", "p"]
    assert data.skipped == ["data row 2", "data row 3"]
