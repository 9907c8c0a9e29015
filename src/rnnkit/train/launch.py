"""``rnnkit train --nproc N``: start N training processes through torchrun's Python API.

The same thing as typing the launcher::

    rnnkit train --nproc 2 ARGS...
    torchrun --standalone --nproc-per-node 2 -m rnnkit train ARGS...        # what it runs

and, on several machines (one command per machine, ``--node-rank`` 0 … ``--nnodes`` − 1,
``--master-addr`` the address of the machine of rank 0, a port open there)::

    rnnkit train --nproc 8 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 ARGS...
    torchrun --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500 \\
             --nproc-per-node 8 -m rnnkit train ARGS...                      # what it runs

Each started process is ``python -m rnnkit train ARGS`` with torchrun's variables set, which
the task pipeline (:func:`rnnkit.tasks.pipeline.run`) turns into a data-parallel run. The
launcher's own flags stay in ARGS; :data:`LAUNCHED_ENV` tells a started process that they were
meant for the launcher, so it does not launch again.

torchrun's elastic agent watches the processes: when one fails or is killed, it stops the
others (SIGTERM, then SIGKILL) and :func:`launch` returns that process's exit code.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass

#: Set (to '1') in the processes :func:`launch` starts.
LAUNCHED_ENV = "RNNKIT_LAUNCHED"


@dataclass(frozen=True)
class LaunchOptions:
    """Where the processes run: ``nproc`` per machine, ``nnodes`` machines, this machine's
    ``node_rank``, and the rendezvous at ``master_addr:master_port`` (machine of rank 0)."""

    nproc: int
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None

    def problems(self) -> list[str]:
        """Every invalid option, as messages naming the flag, expected and received value."""
        out = []
        for flag, value, low in (("--nproc", self.nproc, 1), ("--nnodes", self.nnodes, 1),
                                 ("--node-rank", self.node_rank, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                out.append(f"{flag} must be an integer >= {low}, got {value!r}")
        if not out and self.node_rank >= self.nnodes:
            out.append(f"--node-rank must be below --nnodes ({self.nnodes}), got {self.node_rank}")
        port = self.master_port
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                 or not 1 <= port <= 65535):
            out.append(f"--master-port must be a port number 1-65535, got {port!r}")
        if self.nnodes > 1 and not self.master_addr:
            out.append(f"--master-addr (the address of the machine of node rank 0) is needed "
                       f"with --nnodes {self.nnodes}, got none")
        return out

    def torchrun_args(self, argv: list[str]) -> list[str]:
        """The ``torchrun`` command line (without the program name) that runs ``argv``."""
        args = [f"--nproc-per-node={self.nproc}"]
        if self.nnodes == 1 and self.master_addr is None and self.master_port is None:
            args.insert(0, "--standalone")  # one machine: a free port on localhost
        else:
            args += [f"--nnodes={self.nnodes}", f"--node-rank={self.node_rank}",
                     f"--master-addr={self.master_addr or '127.0.0.1'}",
                     f"--master-port={self.master_port or 29500}"]
        return [*args, "--module", "rnnkit", "train", *argv]


def launch(options: LaunchOptions, argv: list[str]) -> int:
    """Run ``rnnkit train ARGV`` in ``options.nproc`` processes; returns the exit code (0, or
    the code of the first process that failed)."""
    problems = options.problems()
    if problems:
        raise ValueError("rnnkit train: " + "; ".join(problems))
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import elastic_launch

    # torchrun's own parser reads its flags (ARGV is added after: argparse would take our
    # '--nproc' for an abbreviation of its '--nproc-per-node').
    args = torchrun.parse_args(options.torchrun_args([]))
    if args.standalone:  # what torchrun.run does for --standalone
        args.rdzv_backend, args.rdzv_endpoint = "c10d", "localhost:0"
        args.rdzv_id = str(uuid.uuid4())
    previous = os.environ.get(LAUNCHED_ENV)
    os.environ[LAUNCHED_ENV] = "1"  # inherited by the started processes
    try:
        config, command, command_args = torchrun.config_from_args(args)
        elastic_launch(config=config, entrypoint=command)(*command_args, *argv)
    except ChildFailedError as err:
        rank, failure = err.get_first_failure()
        code = failure.exitcode
        how = (f"was killed by signal {-code}" if code < 0 else f"exited with code {code}")
        print(
            f"rnnkit train: process {rank} of the distributed run {how}, so torchrun stopped "
            "the others; its own message is above. An interrupted run continues with "
            "rnnkit train --resume RUN_DIR (the run directory printed at its start), with the "
            "same --nproc or none.",
            file=sys.stderr,
        )
        return code if code > 0 else 128 - code
    finally:
        if previous is None:
            os.environ.pop(LAUNCHED_ENV, None)
        else:
            os.environ[LAUNCHED_ENV] = previous
    return 0
