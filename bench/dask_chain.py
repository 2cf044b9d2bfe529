#!/usr/bin/python3
"""Peer side of bench/scheduler_scale.sh: dask.distributed on a chain of N
dependent tasks (inc(inc(...inc(0)))), the latency of one hop, and N
sequential client.submit(inc, i).result() round trips.

LocalCluster with 2 worker processes x 1 thread, no dashboard; the clock runs
from the first submit to the last result (cluster start-up excluded).

Run with /usr/bin/python3 (Debian's python3-distributed). Last lines printed:
    dask_us_per_hop=<float>
    dask_roundtrip_us=<float>
"""
import argparse
import logging
import sys
import time


def inc(i):
    return i + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10000, help="hops in the chain")
    ap.add_argument("--roundtrips", type=int, default=1000, help="sequential submit().result() calls")
    args = ap.parse_args()

    from dask.distributed import Client, LocalCluster
    import distributed

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        print(f"dask.distributed {distributed.__version__}, 2 workers x 1 thread", flush=True)
        client.submit(inc, 0, pure=False).result()  # warm-up
        start = time.perf_counter()
        last = client.submit(inc, 0, pure=False)
        for _ in range(args.tasks - 1):
            last = client.submit(inc, last, pure=False)
        if last.result() != args.tasks:
            sys.exit("wrong chain result")
        chain = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(args.roundtrips):
            if client.submit(inc, i, pure=False).result() != i + 1:
                sys.exit("wrong round-trip result")
        roundtrip = time.perf_counter() - start
    print(f"chain of {args.tasks}: {chain:.2f} s; {args.roundtrips} round trips: {roundtrip:.2f} s")
    print(f"dask_us_per_hop={1e6 * chain / args.tasks:.1f}")
    print(f"dask_roundtrip_us={1e6 * roundtrip / args.roundtrips:.1f}")


if __name__ == "__main__":
    main()
