#!/usr/bin/python3
"""Peer side of bench/kmeans.sh: scikit-learn's KMeans on the file dtask wrote.

Loads X (float64 [rows, features]) and the initial centers from the .npy files
that `dtask-bench-kmeans prepare` wrote, then fits
    KMeans(n_clusters=k, init=centers, n_init=1, max_iter=N, tol=0, algorithm="lloyd")
--repeats times, timing fit() only (the loads are excluded), and reports the
best. scikit-learn's Lloyd runs on OpenMP threads: it uses all cores (2 here)
unless --threads says otherwise; threadpoolctl's view is printed.

With tol=0 scikit-learn still stops early when no label changes ("strict
convergence"), so n_iter_ may be below N; bench/kmeans.sh then runs dtask
with max_iter = this n_iter_.

Run with /usr/bin/python3 (Debian's python3-sklearn). Last lines printed:
    sklearn_fit_s=<float>
    sklearn_n_iter=<int>
    sklearn_inertia=<float>
"""
import argparse
import os
import sys
import time


def loaded_blas():
    """The BLAS shared libraries mapped into this process (Linux), resolved."""
    found = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                name = os.path.basename(path)
                if path.startswith("/") and name.startswith("lib") and any(t in name for t in ("blas", "mkl")):
                    real = os.path.realpath(path)
                    if real not in found:
                        found.append(real)
    except OSError:
        pass
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="X .npy (float64 [rows, features])")
    ap.add_argument("--init", required=True, help="initial centers .npy (float64 [k, features])")
    ap.add_argument("--max-iter", type=int, default=20, help="max_iter (tol=0)")
    ap.add_argument("--repeats", type=int, default=3, help="timed fits; the best is reported")
    ap.add_argument("--threads", type=int, default=0, help="OpenMP/BLAS threads (0: leave the default)")
    args = ap.parse_args()

    import numpy as np
    import sklearn
    from sklearn.cluster import KMeans

    limits = None
    try:
        import threadpoolctl
        if args.threads > 0:
            limits = threadpoolctl.threadpool_limits(limits=args.threads)
    except ImportError:
        threadpoolctl = None

    start = time.perf_counter()
    X = np.load(args.data)
    centers = np.load(args.init)
    print(f"sklearn: loaded X {X.dtype}{list(X.shape)} ({X.nbytes / 1e6:.0f} MB) and init "
          f"{centers.dtype}{list(centers.shape)} in {time.perf_counter() - start:.2f} s", flush=True)
    if X.dtype != np.float64 or centers.dtype != np.float64 or centers.shape[1] != X.shape[1]:
        sys.exit("sklearn_kmeans: X and init must be float64 with the same number of columns")

    best = None
    for r in range(1, args.repeats + 1):
        km = KMeans(n_clusters=centers.shape[0], init=centers, n_init=1, max_iter=args.max_iter, tol=0,
                    algorithm="lloyd")
        t0 = time.perf_counter()
        km.fit(X)
        seconds = time.perf_counter() - t0
        print(f"sklearn: fit {r}/{args.repeats}: {seconds:.3f} s, n_iter={km.n_iter_}, "
              f"inertia={km.inertia_:.10g}", flush=True)
        if r == 1:
            # After a fit, so the BLAS and OpenMP runtimes it used are loaded.
            if threadpoolctl is not None:
                for pool in threadpoolctl.threadpool_info():
                    print(f"sklearn: threadpool {pool.get('user_api')}/{pool.get('internal_api')} "
                          f"{os.path.basename(pool.get('filepath', '?'))} num_threads={pool.get('num_threads')}",
                          flush=True)
            # threadpoolctl does not list the reference (netlib) BLAS: name what is mapped.
            print(f"sklearn: BLAS libraries loaded: {', '.join(loaded_blas()) or 'none found'}", flush=True)
        if best is None or seconds < best[0]:
            best = (seconds, km.n_iter_, km.inertia_)
    if threadpoolctl is None:
        print("sklearn: threadpoolctl not available; OpenMP uses its default thread count", flush=True)
    print(f"sklearn: scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs", flush=True)
    del limits
    print(f"sklearn_fit_s={best[0]:.6f}")
    print(f"sklearn_n_iter={best[1]}")
    print(f"sklearn_inertia={best[2]:.17g}")


if __name__ == "__main__":
    main()
