#!/usr/bin/python3
"""Peer side of bench/glm.sh: scikit-learn's LogisticRegression on the files dtask wrote.

Loads X (float64 [rows, features]) and y (float64 [rows], 0/1) from the .npy
files that `dtask-bench-glm prepare` wrote, fits
    LogisticRegression(penalty="l2", C=C, solver="lbfgs", tol=tol, max_iter=N)
--repeats times timing fit() only, and writes the best fit's coefficients as
JSON ({"coef": [...], "intercept": b}) to --model.

Run with /usr/bin/python3 (Debian's python3-sklearn). Last lines printed:
    sklearn_fit_s=<float>
    sklearn_n_iter=<int>
"""
import argparse
import json
import os
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="directory of X.npy and y.npy")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--model", required=True, help="where the coefficients go (JSON)")
    args = ap.parse_args()

    import numpy as np
    import sklearn
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    X = np.load(os.path.join(args.dir, "X.npy"))
    y = np.load(os.path.join(args.dir, "y.npy"))
    print(f"sklearn: loaded X {X.dtype}{list(X.shape)} ({X.nbytes / 1e6:.0f} MB) and y in "
          f"{time.perf_counter() - start:.2f} s; scikit-learn {sklearn.__version__}, numpy {np.__version__}",
          flush=True)
    best = None
    for r in range(1, args.repeats + 1):
        model = LogisticRegression(penalty="l2", C=args.C, solver="lbfgs", tol=args.tol, max_iter=args.max_iter)
        t0 = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t0
        n_iter = int(model.n_iter_[0])
        print(f"sklearn: fit {r}/{args.repeats}: {seconds:.3f} s, n_iter={n_iter}", flush=True)
        if best is None or seconds < best[0]:
            best = (seconds, n_iter)
            with open(args.model, "w") as out:
                json.dump({"coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}, out)
    print(f"sklearn_fit_s={best[0]:.6f}")
    print(f"sklearn_n_iter={best[1]}")


if __name__ == "__main__":
    main()
