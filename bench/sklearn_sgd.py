"""The scikit-learn side of bench/sgd.sh.

prepare: make_classification(n_samples=rows + test_rows, n_features=100,
  n_informative=20, random_state=0), written as X.npy / y.npy (the first
  `rows`) and test_X.npy / test_y.npy (the rest), float64, in pieces.
fit: one epoch of SGDClassifier(loss="hinge", learning_rate="optimal",
  random_state=0).partial_fit over np.load(mmap_mode="r") chunks of
  --chunk-rows rows, in file order, classes [0, 1]; prints sklearn_s= (the
  loop alone) and acc_sklearn= (on the test files).
"""
import argparse
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier


def prepare(args):
    X, y = make_classification(n_samples=args.rows + args.test_rows, n_features=100, n_informative=20,
                               random_state=0)
    y = y.astype(np.float64)
    for name, lo, hi in (("", 0, args.rows), ("test_", args.rows, args.rows + args.test_rows)):
        out = np.lib.format.open_memmap(f"{args.dir}/{name}X.npy", mode="w+", dtype=np.float64,
                                        shape=(hi - lo, X.shape[1]))
        for start in range(lo, hi, 500_000):
            stop = min(hi, start + 500_000)
            out[start - lo:stop - lo] = X[start:stop]
        out.flush()
        del out
        np.save(f"{args.dir}/{name}y.npy", y[lo:hi])
    print(f"prepare: {args.rows} + {args.test_rows} rows x 100 features in {args.dir}")


def fit(args):
    X = np.load(f"{args.dir}/X.npy", mmap_mode="r")
    y = np.load(f"{args.dir}/y.npy", mmap_mode="r")
    model = SGDClassifier(loss="hinge", learning_rate="optimal", random_state=0)
    classes = np.array([0.0, 1.0])
    start = time.perf_counter()
    for lo in range(0, X.shape[0], args.chunk_rows):
        model.partial_fit(X[lo:lo + args.chunk_rows], y[lo:lo + args.chunk_rows], classes=classes)
    seconds = time.perf_counter() - start
    X_test = np.load(f"{args.dir}/test_X.npy", mmap_mode="r")
    y_test = np.load(f"{args.dir}/test_y.npy")
    accuracy = model.score(X_test, y_test)
    print(f"scikit-learn partial_fit loop: {seconds:.2f} s, accuracy {accuracy:.4f}")
    print(f"sklearn_s={seconds:.3f}")
    print(f"acc_sklearn={accuracy:.5f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["prepare", "fit"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--rows", type=int, default=5_368_709)
    parser.add_argument("--test-rows", type=int, default=200_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    args = parser.parse_args()
    prepare(args) if args.command == "prepare" else fit(args)


if __name__ == "__main__":
    main()
