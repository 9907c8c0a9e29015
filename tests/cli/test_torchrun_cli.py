"""``rnnkit train --nproc N``: the torchrun command it stands for, and the launcher flags it
refuses (each message names the flag, what it expects and what it got) before anything runs."""

from __future__ import annotations

import pytest

from rnnkit.cli import main
from rnnkit.train.launch import LAUNCHED_ENV, LaunchOptions

ARGS = ["--task", "forecast", "--data", "sunspots"]


def test_one_machine_is_torchrun_standalone():
    assert LaunchOptions(2).torchrun_args(["--task", "classify"]) == [
        "--standalone", "--nproc-per-node=2", "--module", "rnnkit", "train", "--task", "classify"]


def test_several_machines_name_the_rendezvous():
    options = LaunchOptions(8, nnodes=2, node_rank=1, master_addr="10.0.0.1", master_port=29400)
    assert options.problems() == []
    assert options.torchrun_args([]) == [
        "--nproc-per-node=8", "--nnodes=2", "--node-rank=1", "--master-addr=10.0.0.1",
        "--master-port=29400", "--module", "rnnkit", "train"]


@pytest.mark.parametrize(("options", "message"), [
    (LaunchOptions(0), "--nproc must be an integer >= 1, got 0"),
    (LaunchOptions(2, nnodes=0), "--nnodes must be an integer >= 1, got 0"),
    (LaunchOptions(2, nnodes=2, node_rank=2, master_addr="h"),
     "--node-rank must be below --nnodes (2), got 2"),
    (LaunchOptions(2, master_port=70000), "--master-port must be a port number 1-65535, got 70000"),
    (LaunchOptions(2, nnodes=3),
     "--master-addr (the address of the machine of node rank 0) is needed with --nnodes 3, "
     "got none"),
])
def test_bad_launcher_options_are_named(options, message):
    assert options.problems() == [message]


def test_cli_refuses_bad_launcher_flags_before_starting_anything(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv(LAUNCHED_ENV, raising=False)
    assert main(["train", *ARGS, "--nproc", "2", "--nnodes", "2"]) == 2
    err = capsys.readouterr().err
    assert "rnnkit train: error: rnnkit train: --master-addr (the address of the machine of " \
           "node rank 0) is needed with --nnodes 2, got none" in err
    assert main(["train", *ARGS, "--nnodes", "2"]) == 2
    assert "--nnodes need(s) --nproc N (processes per machine), got no --nproc" in \
        capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_cli_refuses_nproc_inside_a_torchrun_process(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv(LAUNCHED_ENV, raising=False)
    assert main(["train", *ARGS, "--nproc", "2"]) == 2
    assert ("--nproc launch(es) processes, but this process was already started by torchrun "
            "(WORLD_SIZE=2); drop --nproc and the other launcher flags") in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--bogus"], "unrecognized option '--bogus'"),
        (["--epochs", "-3"], "epochs must be an int >= 1, got -3"),
        (["--epochs", "many"], "expected an int, got 'many'"),
    ],
    ids=["unknown-flag", "bad-value", "argparse-type"],
)
def test_under_torchrun_only_rank_0_prints_an_argument_error(flags, message, capsys, tmp_path,
                                                              monkeypatch):
    """Every rank parses the same command line: the error is printed once, by rank 0, and every
    rank exits with 2 (before anything is written)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv(LAUNCHED_ENV, "1")
    for rank, printed in (("0", True), ("1", False)):
        monkeypatch.setenv("RANK", rank)
        assert main(["train", *ARGS, *flags]) == 2
        captured = capsys.readouterr()
        assert (message in captured.err) is printed, (rank, captured.err)
        assert captured.out == ""
    assert not (tmp_path / "runs").exists()
