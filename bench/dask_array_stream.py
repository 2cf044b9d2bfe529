#!/usr/bin/python3
"""Python side of bench/array_stream.sh: writes the .npy file, computes the
reference sum with numpy, and times dask.array's full pass over the file.

  create PATH --gib G     writes a float64 (rows, 16) .npy of G GiB with
                          np.lib.format.open_memmap, 64 MiB slab by slab
                          (never the whole file in RAM), then fsyncs it so
                          that no write-back runs during the timings.
  numpy PATH              one pass of numpy over np.load(PATH, mmap_mode='r'),
                          slab by slab: prints numpy_sum=<x> (the reference
                          the dtask and dask sums are checked against) and
                          numpy_GBps (one thread, for scale).
  dask PATH --chunk-rows R
                          X = da.from_array(np.load(PATH, mmap_mode='r'),
                          chunks=(R, cols)); X.sum().compute(), one untimed
                          warm-up pass then --repeats timed ones (best
                          reported), on dask's threaded scheduler with
                          --threads threads and on a dask.distributed
                          LocalCluster(n_workers=--workers,
                          threads_per_worker=--threads-per-worker,
                          memory_limit=--memory-limit). Prints
                          dask_threaded_GBps=<x> and dask_GBps=<y> (the
                          distributed one, the like-for-like peer).

On the distributed cluster the array is wrapped in NpyFile, a picklable
stand-in that opens the memmap on the worker: dask pickles the memmap itself
as its whole contents (numpy.memmap pickles as a plain copy of the data), so
the literal expression would ship the file through the scheduler to one
worker and then every chunk from there (--literal-memmap runs it anyway,
for a small file). Each chunk is still read with np.load(mmap_mode='r').

Run with /usr/bin/python3 (Debian's python3-numpy, -dask, -distributed).
GB/s is file bytes (the .npy data, 1e9 bytes per GB) / seconds.
"""
import argparse
import logging
import math
import os
import sys
import time

import numpy as np

COLS = 16
SLAB_BYTES = 64 << 20


class NpyFile:
    """A .npy file as an array-like for da.from_array: shape, dtype and
    slicing, reading through np.load(mmap_mode='r') where it runs. It pickles
    as its path, as h5py and zarr arrays do, so a task graph holding it is
    small. Each slice maps the file afresh and is unmapped when the chunk is
    released: a map kept open would leave every page touched in the worker's
    RSS, which dask's memory monitor counts against memory_limit."""

    def __init__(self, path):
        self.path = path
        head = np.load(path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = head.shape, head.dtype, head.ndim

    def __getitem__(self, index):
        return np.load(self.path, mmap_mode="r")[index]


def slab_rows(cols, itemsize):
    return max(1, SLAB_BYTES // (cols * itemsize))


def cmd_create(args):
    rows = (int(args.gib * (1 << 30)) // (COLS * 8))
    tmp = args.path + ".partial"
    start = time.perf_counter()
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float64, shape=(rows, COLS))
    rng = np.random.default_rng(args.seed)
    step = slab_rows(COLS, 8)
    for begin in range(0, rows, step):
        end = min(rows, begin + step)
        rng.random((end - begin, COLS), out=out[begin:end])
    out.flush()
    del out
    fd = os.open(tmp, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    os.rename(tmp, args.path)
    secs = time.perf_counter() - start
    print(f"created {args.path}: float64[{rows}, {COLS}], {rows * COLS * 8 / 2**30:.2f} GiB in {secs:.1f} s",
          flush=True)


def cmd_numpy(args):
    x = np.load(args.path, mmap_mode="r")
    step = slab_rows(x.shape[1] if x.ndim == 2 else 1, x.dtype.itemsize)
    start = time.perf_counter()
    partial = [float(x[begin:begin + step].sum()) for begin in range(0, x.shape[0], step)]
    secs = time.perf_counter() - start
    total = math.fsum(partial)
    print(f"numpy: {x.dtype}{list(x.shape)}, one pass on 1 thread (mmap, slab sums) {secs:.2f} s")
    print(f"numpy_sum={total!r}")
    print(f"numpy_GBps={x.nbytes / secs / 1e9:.3f}", flush=True)


def timed_passes(label, compute, nbytes, repeats, expected):
    """One untimed warm-up pass, then `repeats` timed ones; the best GB/s."""
    value = float(compute())
    print(f"{label}: warm-up pass sum={value!r}", flush=True)
    best = 0.0
    for r in range(repeats):
        start = time.perf_counter()
        value = float(compute())
        secs = time.perf_counter() - start
        rate = nbytes / secs / 1e9
        print(f"{label}: run {r + 1}: {secs:.3f} s, {rate:.3f} GB/s, sum={value!r}", flush=True)
        best = max(best, rate)
        if expected is not None and not math.isclose(value, expected, rel_tol=1e-9):
            sys.exit(f"{label}: sum {value!r} differs from numpy's {expected!r}")
    return best


def cmd_dask(args):
    import dask
    import dask.array as da

    mm = np.load(args.path, mmap_mode="r")
    cols = mm.shape[1] if mm.ndim == 2 else 1
    chunks = (args.chunk_rows, cols) if mm.ndim == 2 else (args.chunk_rows,)
    nbytes = mm.nbytes
    print(f"dask {dask.__version__}: {mm.dtype}{list(mm.shape)}, chunks of {args.chunk_rows} rows "
          f"({args.chunk_rows * cols * mm.dtype.itemsize / 2**20:.0f} MiB), "
          f"{-(-mm.shape[0] // args.chunk_rows)} chunks", flush=True)

    # name=False: fresh keys for every pass, so that no pass can reuse a
    # result the cluster still holds from the one before.
    def total(source):
        return da.from_array(source, chunks=chunks, name=False).sum()

    with dask.config.set(scheduler="threads", num_workers=args.threads):
        threaded = timed_passes(f"dask threaded ({args.threads} threads)", lambda: total(mm).compute(), nbytes,
                                args.repeats, args.expected)
    print(f"dask_threaded_GBps={threaded:.3f}", flush=True)

    from dask.distributed import Client, LocalCluster
    import distributed

    source = mm if args.literal_memmap else NpyFile(args.path)
    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker, processes=True,
                      memory_limit=args.memory_limit, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        label = (f"dask.distributed {distributed.__version__} ({args.workers} workers x "
                 f"{args.threads_per_worker} thread, memory_limit={args.memory_limit}"
                 f"{', literal memmap' if args.literal_memmap else ''})")
        dist = timed_passes(label, lambda: client.compute(total(source)).result(), nbytes, args.repeats, args.expected)
    print(f"dask_GBps={dist:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("create", help="write the float64 .npy file")
    p.add_argument("path")
    p.add_argument("--gib", type=float, default=4.0, help="file size in GiB")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("numpy", help="numpy's reference sum, one pass")
    p.add_argument("path")
    p = sub.add_parser("dask", help="time dask.array's X.sum() (threaded and distributed)")
    p.add_argument("path")
    p.add_argument("--chunk-rows", type=int, required=True, help="rows per chunk")
    p.add_argument("--repeats", type=int, default=3, help="timed passes; the best is reported")
    p.add_argument("--threads", type=int, default=2, help="threads of the threaded scheduler")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    p.add_argument("--threads-per-worker", type=int, default=1)
    p.add_argument("--memory-limit", default="512MiB", help="LocalCluster memory_limit per worker")
    p.add_argument("--expected", type=float, default=None, help="numpy's sum; every pass is checked against it")
    p.add_argument("--literal-memmap", action="store_true",
                   help="give the distributed cluster the memmap itself (pickled whole: small files only)")
    args = ap.parse_args()
    {"create": cmd_create, "numpy": cmd_numpy, "dask": cmd_dask}[args.cmd](args)


if __name__ == "__main__":
    main()
