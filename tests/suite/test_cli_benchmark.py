"""``rnnkit benchmark``: listing, and bad options as one paragraph with exit code 2."""

from rnnkit.cli import main


def test_list_names_every_suite(capsys):
    assert main(["benchmark", "--list"]) == 0
    out = capsys.readouterr().out
    for suite in ("forecast-classic", "forecast-m3", "classify-ucr", "smoke"):
        assert f"{suite}: " in out
    assert "smoke: nile, ItalyPowerDemand" in out


def test_bad_options_exit_2_with_the_argument_named(capsys, tmp_path):
    assert main(["benchmark", "--suite", "forecast-clasic"]) == 2
    err = capsys.readouterr().err
    assert "suite must be one of" in err and "did you mean 'forecast-classic'" in err
    assert main(["benchmark"]) == 2
    assert "--suite must name a suite" in capsys.readouterr().err
    assert main(["benchmark", "--suite", "smoke", "--datasets", "nil"]) == 2
    assert "did you mean 'nile'" in capsys.readouterr().err
    out = tmp_path / "x"
    assert main(["benchmark", "--suite", "smoke", "--seeds", "0", "--out", str(out)]) == 2
    assert "seeds must be an integer ≥ 1, got 0" in capsys.readouterr().err
    assert main(["benchmark", "--suite", "smoke", "--max-time", "soon", "--out", str(out)]) == 2
    assert "max_time" in capsys.readouterr().err
    assert not out.exists()  # nothing written before the options are checked
