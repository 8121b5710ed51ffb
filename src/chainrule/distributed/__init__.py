"""Data-parallel training over MPI (the optional ``chainrule[mpi]`` extra: mpi4py and
MPICH, whose wheel provides ``mpiexec``).

Every process holds the whole model and trains on its own share of each batch; the
gradients are averaged over the processes before every step, as Horovod does::

    import chainrule as cr
    cr.distributed.init()                  # joins the processes mpiexec started
    model.fit(x, y, batch_size=64, distributed=True)   # 64 rows on each process

    mpiexec -n 2 python train.py

``init``, ``rank``, ``size`` and ``barrier`` are here; ``DistributedOptimizer`` and
``broadcast_parameters`` serve hand-written loops. Importing this package does not
import mpi4py (which starts MPI): ``init`` does. Without mpiexec, or with ``-n 1``,
everything runs as on one process. See docs/distributed.md.
"""

from ..optim.distributed import DistributedOptimizer, is_distributed
from ..process_group import broadcast_parameters
from .mpi import DEFAULT_TIMEOUT, MPIGroup, barrier, init, rank, size

__all__ = ["DEFAULT_TIMEOUT", "DistributedOptimizer", "MPIGroup", "barrier",
           "broadcast_parameters", "init", "is_distributed", "rank", "size"]
