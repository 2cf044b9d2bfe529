#!/usr/bin/env bash
# GridSearchCV, dtask vs scikit-learn, in the same run (issue 13):
#  - LogisticRegression over C (np.logspace(-3, 2, 10)) x penalty (l1, l2),
#    cv=5 (StratifiedKFold(5): the same folds on both sides), refit off,
#    scored by accuracy, on make_classification(n_samples=200000,
#    n_features=50, n_informative=10, random_state=0), which scikit-learn
#    writes as X.npy (float64) and y.npy (float64 0/1).
#    dtask: the scheduler + 1 worker, then + 2 workers (dtask-worker
#    --nthreads 1 each), GridSearchCV(LogisticRegression({tol, max_iter}))
#    with solver "auto": lbfgs for l2, proximal_grad for l1.
#    scikit-learn: GridSearchCV(n_jobs=2) of a LogisticRegression that also
#    picks its solver by penalty: lbfgs for l2 (dtask's solver, same
#    objective, same gradient stopping rule) and saga for l1. Why saga for
#    l1: the objective must be the same as dtask's, C Σ loss + ||w||₁ with
#    the intercept unpenalised; liblinear, the other l1 solver, penalises
#    the intercept (as a feature of value intercept_scaling), saga does not.
#    A list of two grids (penalty l1 + solver saga, penalty l2 + solver
#    lbfgs) would change scikit-learn's candidate order, and with it which of
#    two tied candidates wins; picking the solver inside fit keeps the grid
#    {C, penalty} and its order identical to dtask's. Both sides use the same
#    tol, and lbfgs and dtask the same max_iter; saga's max_iter counts
#    epochs and keeps scikit-learn's default (100, --saga-max-iter), what a
#    user running this grid gets: some l1 fits stop there with a
#    ConvergenceWarning (with 1000 epochs the full-size scikit-learn side
#    ran for more than 19 minutes on this 2-core machine).
#    The stopping rules still differ (lbfgs and proximal_grad look at
#    the gradient, saga at the change in coefficients), so the fitted
#    coefficients differ slightly, and the accuracies (40000 test rows per
#    fold) may differ by a few rows: near-ties can order either way.
#  - The Dask-ML tutorial's grid: SVC(gamma="auto"), C in [0.001, 0.1, 1.0,
#    2.5, 10.0], cv=5, on make_classification(n_samples=1000, n_features=4,
#    random_state=0); dtask on 2 workers vs scikit-learn n_jobs=2.
#  Each side times fit() only (dtask: X and y persisted first; the search
#  sends one copy of X to each worker inside fit). scikit-learn runs with no
#  dtask daemons alive.
#
#   bash bench/grid_search.sh [--rows N] [--features D] [--tol T] [--max-iter N]
#        [--saga-max-iter N] [--memory-limit M] [--dir DIR] [--keep] [--build-dir DIR] [--quick]
#
#   --rows N          n_samples of the LogisticRegression data (default 200000)
#   --features D      its n_features (default 50)
#   --tol T           both sides' tol (default 1e-4)
#   --max-iter N      dtask's and lbfgs's max_iter (default 100)
#   --saga-max-iter N scikit-learn saga's max_iter, epochs (default 100, scikit-learn's)
#   --memory-limit M  per dtask worker (default 4GiB)
#   --dir DIR         where the .npy files and grid.json go; reused if they
#                     hold the same --rows and --features, and kept
#   --keep            keep the fresh directory and its files
#   --quick           a smoke run: --rows 20000 unless --rows is given
#
# Progress goes to stderr. Last line:
# grid_search dtask_2w_s=<a> dtask_1w_s=<b> speedup=<b/a> sklearn_s=<c> ratio=<a/c> same_best=<true|false> svc_ratio=<...> svc_same_best=<true|false>
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=""
FEATURES=50
TOL=1e-4
MAX_ITER=100
SAGA_MAX_ITER=100
MEMORY_LIMIT=4GiB
DATA_DIR=""
KEEP=0
QUICK=0
BUILD_DIR="${BUILD_DIR:-build}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --features) FEATURES="$2"; shift 2 ;;
    --tol) TOL="$2"; shift 2 ;;
    --max-iter) MAX_ITER="$2"; shift 2 ;;
    --saga-max-iter) SAGA_MAX_ITER="$2"; shift 2 ;;
    --memory-limit) MEMORY_LIMIT="$2"; shift 2 ;;
    --dir) DATA_DIR="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --quick) QUICK=1; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,54p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "grid_search: unknown option: $1" >&2; exit 2 ;;
  esac
done
if [[ -z $ROWS ]]; then
  if [[ $QUICK == 1 ]]; then ROWS=20000; else ROWS=200000; fi
fi

bash deploy/install-deps.sh --with-peers >&2

BENCH="$BUILD_DIR/bench/dtask-bench-grid-search"
BENCH_NAME=grid_search
source bench/lib/cluster.sh
bench_require_binaries "$BENCH" "$BUILD_DIR/scheduler/dtask-scheduler" "$BUILD_DIR/worker/dtask-worker"

logs=$(mktemp -d)  # daemon logs and captured outputs, always removed
trap bench_cleanup EXIT
bench_data_dir dtask_grid_search

say() { echo "== $*" >&2; }
started=$SECONDS
say "$(nproc) CPUs, $(bench_load), $(awk '/^MemAvailable/ { printf "%.1f GiB available", $2 / 1048576 }' /proc/meminfo)"
if [[ -f $DATA_DIR/X.npy && -f $DATA_DIR/svc_X.npy && -f $DATA_DIR/grid.json &&
      $(cat "$DATA_DIR/shape" 2>/dev/null) == "$ROWS $FEATURES" ]]; then
  say "reusing $DATA_DIR ($ROWS x $FEATURES)"
else
  say "prepare: scikit-learn's make_classification -> $DATA_DIR"
  /usr/bin/python3 bench/sklearn_grid_search.py prepare --dir "$DATA_DIR" --rows "$ROWS" --features "$FEATURES" >&2
  echo "$ROWS $FEATURES" >"$DATA_DIR/shape"
fi

say "scikit-learn ($(bench_load)): GridSearchCV(LogisticRegression(tol=$TOL; lbfgs max_iter=$MAX_ITER," \
  "saga max_iter=$SAGA_MAX_ITER), C x penalty, cv=5, n_jobs=2)"
/usr/bin/python3 bench/sklearn_grid_search.py logreg --dir "$DATA_DIR" --tol "$TOL" --max-iter "$MAX_ITER" \
  --saga-max-iter "$SAGA_MAX_ITER" --n-jobs 2 --results "$logs/sklearn_logreg.json" | tee "$logs/sklearn_logreg.out" >&2
sklearn_s=$(bench_value sklearn_s "$logs/sklearn_logreg.out")

say "scikit-learn ($(bench_load)): GridSearchCV(SVC(gamma=auto), C, cv=5, n_jobs=2)"
/usr/bin/python3 bench/sklearn_grid_search.py svc --dir "$DATA_DIR" --n-jobs 2 --results "$logs/sklearn_svc.json" |
  tee "$logs/sklearn_svc.out" >&2
sklearn_svc_s=$(bench_value sklearn_s "$logs/sklearn_svc.out")

for workers in 1 2; do
  say "dtask ($(bench_load)): dtask-scheduler + $workers x dtask-worker --nthreads 1 --memory-limit $MEMORY_LIMIT;" \
    "GridSearchCV(LogisticRegression(tol=$TOL, max_iter=$MAX_ITER)), C x penalty, cv=5"
  bench_start_daemons "$workers" 1 "$MEMORY_LIMIT"
  "$BENCH" logreg --scheduler "$bench_address" --workers "$workers" --dir "$DATA_DIR" --tol "$TOL" \
    --max-iter "$MAX_ITER" --results "$logs/dtask_logreg_${workers}w.json" | tee "$logs/dtask_logreg_${workers}w.out" >&2
  if [[ $workers == 2 ]]; then
    say "dtask ($(bench_load)): GridSearchCV(SVC(gamma=auto)), C, cv=5, on the same 2 workers"
    "$BENCH" svc --scheduler "$bench_address" --workers 2 --dir "$DATA_DIR" --results "$logs/dtask_svc.json" |
      tee "$logs/dtask_svc.out" >&2
  fi
  bench_report_worker_rss >&2
  bench_stop_daemons
done
dtask_1w_s=$(bench_value dtask_s "$logs/dtask_logreg_1w.out")
dtask_2w_s=$(bench_value dtask_s "$logs/dtask_logreg_2w.out")
dtask_svc_s=$(bench_value dtask_s "$logs/dtask_svc.out")

# "true" when both best_params_ are equal (floats compared exactly: both
# sides read C from grid.json); otherwise "false", and each side's mean test
# score of both best candidates goes to stderr.
same_best() {  # $1 = dtask output, $2 = sklearn output, $3 = dtask results, $4 = sklearn results
  /usr/bin/python3 - "$@" <<'PY'
import json, sys

def best(path, key):
    lines = [l for l in open(path) if l.startswith(key + "=")]
    return json.loads(lines[-1].split("=", 1)[1])

a, b = best(sys.argv[1], "dtask_best"), best(sys.argv[2], "sklearn_best")
if a == b:
    print("true")
else:
    scores = [{json.dumps(r["params"], sort_keys=True): r["mean_test_score"] for r in json.load(open(p))}
              for p in sys.argv[3:5]]
    for name, params in (("dtask", a), ("sklearn", b)):
        k = json.dumps(params, sort_keys=True)
        print(f"grid_search: {name}'s best {k}: mean_test_score dtask {scores[0].get(k)}, "
              f"sklearn {scores[1].get(k)}", file=sys.stderr)
    print("false")
PY
}
same=$(same_best "$logs/dtask_logreg_2w.out" "$logs/sklearn_logreg.out" "$logs/dtask_logreg_2w.json" \
  "$logs/sklearn_logreg.json")
# The search is deterministic: 1 and 2 workers must agree.
same_1w=false
if [[ $(grep '^dtask_best=' "$logs/dtask_logreg_1w.out") == $(grep '^dtask_best=' "$logs/dtask_logreg_2w.out") ]]; then
  same_1w=true
fi
svc_same=$(same_best "$logs/dtask_svc.out" "$logs/sklearn_svc.out" "$logs/dtask_svc.json" "$logs/sklearn_svc.json")

echo "summary: LogisticRegression grid (20 candidates x 5 folds) on $ROWS x $FEATURES float64:" \
  "dtask 1 worker $dtask_1w_s s, 2 workers $dtask_2w_s s (1 thread each; same best on both: $same_1w)," \
  "scikit-learn n_jobs=2 $sklearn_s s;" \
  "SVC grid (5 x 5) on 1000 x 4: dtask 2 workers $dtask_svc_s s, scikit-learn $sklearn_svc_s s;" \
  "$(nproc) CPUs, $(bench_load) at the end; $((SECONDS - started)) s in all"
awk -v a="$dtask_2w_s" -v b="$dtask_1w_s" -v c="$sklearn_s" -v sa="$dtask_svc_s" -v sc="$sklearn_svc_s" \
  -v same="$same" -v svc_same="$svc_same" 'BEGIN {
  if (a <= 0 || b <= 0 || c <= 0 || sa <= 0 || sc <= 0) { print "grid_search: a time is zero" > "/dev/stderr"; exit 1 }
  printf "grid_search dtask_2w_s=%.3f dtask_1w_s=%.3f speedup=%.3f sklearn_s=%.3f ratio=%.3f same_best=%s svc_ratio=%.3f svc_same_best=%s\n",
    a, b, b / a, c, a / c, same, sa / sc, svc_same
}'
