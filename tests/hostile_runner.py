"""Run chainrule's loaders on hostile files, each case in its own forked process
under a 1 GiB address-space limit and a 10 s alarm.

``python hostile_runner.py CASES.json`` reads a list of cases ``{"name", "loader",
"args", "kwargs"}``, imports chainrule once, then forks one child per case, which
lowers its address-space limit, arms the alarm, calls the loader and reports what
ended it (the exception's class and its bases, the message), how long the call took
and the child's peak resident memory (``ru_maxrss``). One JSON object per case is
printed, one per line; a child that dies (the alarm, a signal) reports nothing and
is recorded as such.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time

ADDRESS_SPACE = 1 << 30
TIMEOUT_S = 10


def _loaders() -> dict:
    from zero_batch_model import CUSTOM_OBJECTS

    import chainrule as cr
    from chainrule.unsupervised import DBN, RBM

    def load_weights(path):
        model = cr.models.Sequential([cr.layers.Dense(8, input_dim=4), cr.layers.Dense(1)])
        model.load_weights(path)

    def load_custom_model(path):
        cr.models.load_model(path, custom_objects=CUSTOM_OBJECTS)

    return {"load_model": cr.models.load_model, "load_weights": load_weights,
            "load_model with ZeroBatchNet": load_custom_model,
            "RBM.load": RBM.load, "DBN.load": DBN.load, "load_arrays": cr.io.load_arrays,
            "load_mnist": cr.datasets.load_mnist, "load_churn": cr.datasets.load_churn,
            "sha256_of": cr.io.sha256_of, "get_file": cr.io.get_file}


def _attempt(loader, case: dict) -> dict:
    start = time.perf_counter()
    try:
        loader(*case.get("args", ()), **case.get("kwargs", {}))
        result = {"error": None, "bases": [], "message": ""}
    except BaseException as err:  # noqa: BLE001 - every ending is reported
        result = {"error": type(err).__name__, "message": str(err)[:2000],
                  "bases": [c.__name__ for c in type(err).__mro__]}
    result["seconds"] = time.perf_counter() - start
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _child(loader, case: dict, out: int) -> None:
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    limit = ADDRESS_SPACE if hard == resource.RLIM_INFINITY else min(ADDRESS_SPACE, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(TIMEOUT_S)  # SIGALRM's default action ends the process
    os.write(out, json.dumps(_attempt(loader, case)).encode())


def run_case(loader, case: dict) -> dict:
    """``case`` run by ``loader`` in a forked child; its report, or why there is none."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            _child(loader, case, write)
        finally:
            os._exit(0)
    os.close(write)
    chunks, deadline = [], time.monotonic() + TIMEOUT_S + 5
    while (left := deadline - time.monotonic()) > 0 and select.select([read], [], [], left)[0]:
        chunk = os.read(read, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    if time.monotonic() >= deadline:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if chunks:
        return {"name": case["name"], **json.loads(b"".join(chunks))}
    return {"name": case["name"], "error": "no report", "bases": [], "seconds": None,
            "max_rss_mb": None, "message": f"the child ended with wait status {status} "
                                            f"(killed by the {TIMEOUT_S} s alarm?)"}


def main(cases_path: str) -> None:
    with open(cases_path) as f:
        cases = json.load(f)
    loaders = _loaders()
    for case in cases:
        print(json.dumps(run_case(loaders[case["loader"]], case)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
