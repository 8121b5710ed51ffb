"""The MPI process group, over mpi4py, and ``init``, ``rank``, ``size``, ``barrier``.

Every collective is started non-blocking and waited for with a deadline: a process that
died, hung or raised elsewhere would otherwise leave the others blocked in it forever.
Past ``timeout`` seconds the waiting process prints what it was waiting for and stops
the whole job with ``MPI_Abort``; so does a process whose ``fit`` raised, after
printing its traceback. (``mpiexec`` of MPICH also stops the job at once when one of
its processes is killed; under ``srun``, which by default lets the others run on, the
deadline is what stops them.)
"""

from __future__ import annotations

import os
import sys
import time
from typing import NoReturn

import numpy as np

from .. import process_group
from ..process_group import ProcessGroup

DEFAULT_TIMEOUT = 20.0  # seconds a collective may wait for the slowest process
# How a wait polls: flat out at first (most waits are short), then offering the core to
# other processes between polls (on a shared machine the awaited rank may need it), and
# after a while napping (a rank that waits for rank 0 to save burns no CPU).
SPIN_SECONDS = 5e-5  # measured on 2 loaded cores: 2-rank epochs 20-40% faster than
YIELD_SECONDS = 0.02  # spinning 2 ms between naps (benchmarks/bench_distributed.py workers)
NAP_SECONDS = 0.001
ABORT_GRACE_SECONDS = 0.5  # for the failure message to reach mpiexec before Abort
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))
LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS")


class MPIGroup(ProcessGroup):
    """The processes of an MPI communicator (``MPI.COMM_WORLD`` by default)."""

    def __init__(self, mpi, comm=None, timeout: float | None = DEFAULT_TIMEOUT):
        self.MPI = mpi  # the mpi4py.MPI module
        self.comm = mpi.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout = timeout

    def allreduce(self, array: np.ndarray, what: str) -> np.ndarray:
        self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM), what)
        return array

    def broadcast(self, array: np.ndarray, root: int, what: str) -> np.ndarray:
        self._wait(self.comm.Ibcast(array, root=root), what)
        return array

    def allgather(self, array: np.ndarray, what: str) -> np.ndarray:
        array = np.ascontiguousarray(array)
        everyone = np.empty((self.size, *array.shape), array.dtype)
        self._wait(self.comm.Iallgather(array, everyone), what)
        return everyone

    def barrier(self, what: str, timeout: float | None = None) -> None:
        """As ProcessGroup.barrier; ``timeout`` (seconds) replaces the group's for this
        wait (``math.inf``: wait as long as it takes)."""
        self._wait(self.comm.Ibarrier(), what, timeout)

    def fail(self, message: str) -> NoReturn:
        """Print ``message`` and stop every process of the job (exit status 1)."""
        sys.stdout.flush()
        sys.stderr.write(message.rstrip("\n") + "\n")
        sys.stderr.flush()
        # mpiexec forwards each process's output through its own proxy; Abort tears the
        # job down at once and can drop a message still in transit (seen once in CI,
        # under load): give the proxy a moment to pass it on
        time.sleep(ABORT_GRACE_SECONDS)
        self.comm.Abort(1)
        os._exit(1)  # Abort does not return; this is for an MPI that lets it

    def _wait(self, request, what: str, timeout: float | None = None) -> None:
        """Poll ``request`` until it completes; past the deadline (``timeout``, else the
        group's), stop the job."""
        if request.Test():
            return
        timeout = self.timeout if timeout is None else timeout
        start = time.monotonic()
        while not request.Test():
            waited = time.monotonic() - start
            if timeout is not None and waited > timeout:
                self.fail(f"chainrule.distributed: rank {self.rank} of {self.size} waited "
                          f"{timeout:g} s in {what} without hearing from every "
                          f"process: another rank has died, hung or failed. Stopping all "
                          f"{self.size} processes.")
            if waited > YIELD_SECONDS:
                time.sleep(NAP_SECONDS)
            elif waited > SPIN_SECONDS:
                _yield()


def init(timeout: float | None = DEFAULT_TIMEOUT) -> ProcessGroup:
    """Join the processes that ``mpiexec`` (or ``srun``) started, and return the group.

    Imports mpi4py, which initialises MPI. ``timeout``: seconds a collective waits for
    the slowest process before the job is stopped with a message (None: forever).
    Without mpi4py, and not started by an MPI launcher, this process trains alone.
    Calling it again returns the group joined first, with the new ``timeout``.
    """
    if process_group.joined():
        group = process_group.current()
        group.timeout = timeout
        return group
    try:
        from mpi4py import MPI
    except ImportError as err:
        launched = [f"{name}={os.environ[name]}" for name in LAUNCHER_SIZES
                    if os.environ.get(name, "1").isdigit() and int(os.environ.get(name, 1)) > 1]
        if launched:
            raise ImportError(f"cr.distributed.init: this process was started as one of "
                              f"several ({', '.join(launched)}) but mpi4py is not installed: "
                              f"pip install 'chainrule[mpi]'.") from err
        group = ProcessGroup()
        group.timeout = timeout
    else:
        group = MPIGroup(MPI, timeout=timeout)
    process_group.join(group)
    return group


def rank() -> int:
    """This process's rank, 0 .. size() - 1 (0 before ``init``)."""
    return process_group.current().rank


def size() -> int:
    """The number of processes training together (1 before ``init``)."""
    return process_group.current().size


def barrier(timeout: float | None = None) -> None:
    """Wait until every process has reached this point (e.g. after rank 0 saved).
    ``timeout``: seconds before the job is stopped, if not ``init``'s (``math.inf``: as
    long as it takes, e.g. while rank 0 downloads the data)."""
    process_group.current().barrier("cr.distributed.barrier()", timeout)
