#!/usr/bin/python3
"""Peer side of bench/grid_search.sh: the data, and scikit-learn's GridSearchCV on it.

  prepare  make_classification(n_samples=ROWS, n_features=FEATURES,
           n_informative=10, random_state=0) -> DIR/X.npy (float64), DIR/y.npy
           (float64 0/1); the Dask-ML tutorial's SVC data,
           make_classification(n_samples=1000, n_features=4, random_state=0)
           -> DIR/svc_X.npy, DIR/svc_y.npy; and DIR/grid.json, the C values of
           both grids (np.logspace(-3, 2, 10) and [0.001, 0.1, 1.0, 2.5, 10.0]),
           so that both sides search the same doubles.
  logreg   GridSearchCV(LogisticRegression, {"C": grid.json's, "penalty":
           ["l1", "l2"]}, cv=5, refit=False, n_jobs=N) on X.npy, y.npy, timing
           fit() only. The estimator picks its solver by penalty as dtask's
           solver="auto" does: lbfgs for l2, saga for l1 (the one scikit-learn
           l1 solver that leaves the intercept unpenalised, as dtask does;
           liblinear penalises it), with its own --saga-max-iter (epochs).
           Same candidate order as dtask's grid.
  svc      GridSearchCV(SVC(gamma="auto"), {"C": [...]}, cv=5, refit=False, n_jobs=N).

Run with /usr/bin/python3 (Debian's python3-sklearn). logreg and svc print
    sklearn_s=<float>
    sklearn_best=<JSON of best_params_>
and --results writes [{"params": {...}, "mean_test_score": s}, ...] as JSON.
"""
import argparse
import json
import os
import time
import warnings


def prepare(args):
    import numpy as np
    from sklearn.datasets import make_classification

    start = time.perf_counter()
    X, y = make_classification(n_samples=args.rows, n_features=args.features, n_informative=10, random_state=0)
    np.save(os.path.join(args.dir, "X.npy"), X.astype(np.float64))
    np.save(os.path.join(args.dir, "y.npy"), y.astype(np.float64))
    Xs, ys = make_classification(n_samples=1000, n_features=4, random_state=0)
    np.save(os.path.join(args.dir, "svc_X.npy"), Xs.astype(np.float64))
    np.save(os.path.join(args.dir, "svc_y.npy"), ys.astype(np.float64))
    grid = {"logreg_C": [float(c) for c in np.logspace(-3, 2, 10)], "svc_C": [0.001, 0.1, 1.0, 2.5, 10.0]}
    with open(os.path.join(args.dir, "grid.json"), "w") as out:
        json.dump(grid, out)
    print(f"prepare: make_classification(n_samples={args.rows}, n_features={args.features}, n_informative=10, "
          f"random_state=0) -> {args.dir}/X.npy ({X.nbytes / 1e6:.0f} MB), y.npy; svc_X.npy [1000, 4]; "
          f"grid.json in {time.perf_counter() - start:.2f} s", flush=True)


def search(args, estimator, grid, X, y):
    from sklearn.model_selection import GridSearchCV

    gs = GridSearchCV(estimator, grid, cv=5, refit=False, n_jobs=args.n_jobs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        gs.fit(X, y)
        seconds = time.perf_counter() - t0
    # Warnings raised in the joblib workers do not reach this process; the
    # ones here come from n_jobs=1 runs or from GridSearchCV itself.
    for w in {str(w.message) for w in caught}:
        print(f"sklearn: warning: {w}", flush=True)
    res = gs.cv_results_
    if args.results:
        with open(args.results, "w") as out:
            json.dump([{"params": p, "mean_test_score": float(s)}
                       for p, s in zip(res["params"], res["mean_test_score"])], out)
    print(f"sklearn: {len(res['params'])} candidates x 5 folds in {seconds:.3f} s (n_jobs={args.n_jobs}); "
          f"best {gs.best_params_} mean_test_score {gs.best_score_:.6f}; "
          f"mean fit time {res['mean_fit_time'].mean():.3f} s", flush=True)
    print(f"sklearn_s={seconds:.6f}")
    print(f"sklearn_best={json.dumps(gs.best_params_, sort_keys=True)}")


def load(args, prefix):
    import numpy as np

    X = np.load(os.path.join(args.dir, prefix + "X.npy"))
    y = np.load(os.path.join(args.dir, prefix + "y.npy"))
    with open(os.path.join(args.dir, "grid.json")) as f:
        grid = json.load(f)
    return X, y, grid


def logreg(args):
    import sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    class LogisticRegressionAutoSolver(LogisticRegression):
        """lbfgs for l2, saga for l1: dtask's solver="auto" (lbfgs / proximal_grad)."""

        def fit(self, X, y, sample_weight=None):
            # saga's max_iter counts epochs and its tol the change in the
            # coefficients: it gets its own cap, large enough to stop by tol.
            if self.penalty == "l1":
                self.solver, self.max_iter = "saga", saga_max_iter
            else:
                self.solver = "lbfgs"
            return super().fit(X, y, sample_weight)

    saga_max_iter = args.saga_max_iter
    X, y, grid = load(args, "")
    print(f"sklearn: X {X.dtype}{list(X.shape)} ({X.nbytes / 1e6:.0f} MB); scikit-learn {sklearn.__version__}, "
          f"numpy {np.__version__}; LogisticRegression(tol={args.tol}), lbfgs (max_iter={args.max_iter}) for l2, "
          f"saga (max_iter={saga_max_iter}) for l1", flush=True)
    # random_state: saga draws its sample order from it (lbfgs ignores it).
    est = LogisticRegressionAutoSolver(tol=args.tol, max_iter=args.max_iter, random_state=0)
    search(args, est, {"C": grid["logreg_C"], "penalty": ["l1", "l2"]}, X, y)


def svc(args):
    from sklearn.svm import SVC

    X, y, grid = load(args, "svc_")
    search(args, SVC(gamma="auto"), {"C": grid["svc_C"]}, X, y)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["prepare", "logreg", "svc"])
    ap.add_argument("--dir", required=True, help="directory of the .npy files and grid.json")
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--max-iter", type=int, default=100, help="lbfgs's max_iter (l2)")
    ap.add_argument("--saga-max-iter", type=int, default=1000, help="saga's max_iter (l1), in epochs")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--results", help="where [{params, mean_test_score}] goes (JSON)")
    args = ap.parse_args()
    {"prepare": prepare, "logreg": logreg, "svc": svc}[args.command](args)


if __name__ == "__main__":
    main()
