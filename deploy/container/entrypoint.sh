#!/bin/sh
# The image's entrypoint (deploy/Dockerfile installs it as
# /usr/local/bin/dtask-entrypoint). The first argument picks the daemon, the
# rest are its options:
#   docker run IMAGE dtask-scheduler --host 0.0.0.0 --dashboard-address :8787
#   docker run IMAGE dtask-worker tcp://SCHEDULER:8786 --nthreads 4
# `scheduler` and `worker` are short for them. Any other command runs as it
# is (e.g. `docker run -it IMAGE bash`). The daemon replaces this shell
# (exec), so it is the container's main process and gets its signals: SIGTERM
# stops a scheduler and makes a worker retire gracefully.
set -eu

usage() {
  echo "usage: IMAGE dtask-scheduler|dtask-worker [OPTIONS...]   (or: scheduler|worker, or any command)" >&2
  echo "       IMAGE dtask-scheduler --help | IMAGE dtask-worker --help   lists the options" >&2
}

if [ $# -eq 0 ]; then
  usage
  exit 2
fi
command=$1
shift
case "$command" in
  scheduler|dtask-scheduler) exec /usr/local/bin/dtask-scheduler "$@" ;;
  worker|dtask-worker) exec /usr/local/bin/dtask-worker "$@" ;;
  -h|--help) usage; exit 0 ;;
  *) exec "$command" "$@" ;;
esac
