#!/usr/bin/python3
"""Peer side of bench/scheduler_throughput.sh: dask.distributed on the graph
that dtask-bench-throughput runs.

Graph: N trivial tasks inc(i) fanned out, then one task that sums all N results
(a single task with N dependencies), so N+1 tasks. LocalCluster with 2 worker
processes x 1 thread, no dashboard. The clock runs from the first submit to the
result arriving at the client; cluster start-up is excluded. One warm-up run on
a smaller graph comes first, then --repeats timed runs of which the best is
reported (dtask-bench-throughput does the same).

Run with /usr/bin/python3 (Debian's python3-distributed). Last line printed:
    dask_tasks_per_s=<float>
"""
import argparse
import logging
import sys
import time
import warnings


def inc(i):
    return i + 1


def sum_list(xs):
    return sum(xs)


def run_map(client, n):
    """client.map + client.submit: futures straight to the scheduler."""
    start = time.perf_counter()
    parts = client.map(inc, range(n), pure=False)
    total = client.submit(sum_list, parts, pure=False)
    result = total.result()
    elapsed = time.perf_counter() - start
    del parts, total
    return result, elapsed


def run_delayed(client, n):
    """dask.delayed: the whole graph built client-side, then one compute."""
    import dask

    start = time.perf_counter()
    d_inc = dask.delayed(inc, pure=False)
    parts = [d_inc(i) for i in range(n)]
    total = dask.delayed(sum_list, pure=False)(parts)
    result = client.compute(total).result()
    elapsed = time.perf_counter() - start
    return result, elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=100000, help="tasks in the fan-out (N)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--threads", type=int, default=1, help="threads per worker")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    ap.add_argument("--warmup", type=int, default=10000, help="tasks in the warm-up run (capped at N)")
    ap.add_argument("--api", choices=("map", "delayed"), default="map",
                    help="client.map + submit (default) or dask.delayed + compute")
    args = ap.parse_args()
    # The sum task's argument list (N keys) trips dask's "Large object ... in
    # task graph" warning; the graph is the benchmark, so silence it.
    warnings.filterwarnings("ignore", message="Large object of size")

    from dask.distributed import Client, LocalCluster
    import distributed

    run = run_map if args.api == "map" else run_delayed
    n = args.tasks
    expected = n * (n - 1) // 2 + n

    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        print(f"dask.distributed {distributed.__version__}, {args.workers} workers x "
              f"{args.threads} thread(s), api={args.api}, N={n}", flush=True)
        w = min(args.warmup, n)
        res, secs = run(client, w)
        if res != w * (w - 1) // 2 + w:
            sys.exit(f"warm-up: wrong sum {res}")
        print(f"warm-up N={w}: {(w + 1) / secs:.0f} tasks/s ({secs:.2f} s)", flush=True)
        best = 0.0
        for r in range(args.repeats):
            res, secs = run(client, n)
            if res != expected:
                sys.exit(f"run {r + 1}: wrong sum {res}, expected {expected}")
            rate = (n + 1) / secs
            print(f"run {r + 1}: {rate:.0f} tasks/s ({secs:.2f} s)", flush=True)
            best = max(best, rate)
    print(f"dask_tasks_per_s={best:.1f}")


if __name__ == "__main__":
    main()
