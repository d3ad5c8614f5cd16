#!/usr/bin/env bash
# The local stack on loopback: redis-server (AOF, noeviction) and versitygw
# (S3 with versioning and object lock), data under $SOHOA_LOCAL_DIR (.local/).
#
#   stack.sh start           start Redis and S3 if not running, wait for health (idempotent)
#   stack.sh start-app BIN   also run `sohoa serve` and a `sohoa worker` against them
#   stack.sh stop-app        stop serve and worker by PID
#   stack.sh stop            stop everything this checkout started, by PID
#   stack.sh status          say what runs
#   stack.sh env             print the SOHOA_* settings of this stack (development mode)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
LOCAL=${SOHOA_LOCAL_DIR:-$repo/.local}
REDIS_PORT=${SOHOA_LOCAL_REDIS_PORT:-16379}
S3_PORT=${SOHOA_LOCAL_S3_PORT:-17070}
VERSITYGW=${VERSITYGW:-$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")}

mkdir -p "$LOCAL/redis" "$LOCAL/s3/data" "$LOCAL/s3/versions" "$LOCAL/logs"
creds="$LOCAL/s3/credentials"
if [ ! -s "$creds" ]; then
  umask 077
  printf 'sohoa-dev %s\n' "$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$creds"
fi
read -r S3_ACCESS S3_SECRET <"$creds"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # name, check command...
  local name=$1; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "stack: $name did not become healthy; see $LOCAL/logs/" >&2
  return 1
}

redis_ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }
s3_health() { curl -fsS "http://127.0.0.1:$S3_PORT/health"; }

start() {
  if ! alive "$LOCAL/redis/redis.pid"; then
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$LOCAL/redis" \
      --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
      --save '' --daemonize yes --pidfile "$LOCAL/redis/redis.pid" \
      --logfile "$LOCAL/logs/redis.log"
  fi
  wait_for redis redis_ping
  if ! alive "$LOCAL/s3/versitygw.pid"; then
    # --keep-alive: versitygw closes every connection after one answer
    # unless told otherwise, so each S3 request (a dozen per status read)
    # paid a new TCP connection on both sides. --quiet: its access log is
    # a line per request; SOHOA_LOCAL_S3_ACCESS_LOG=1 keeps it.
    quiet=--quiet
    if [ -n "${SOHOA_LOCAL_S3_ACCESS_LOG:-}" ]; then quiet=; fi
    ROOT_ACCESS_KEY="$S3_ACCESS" ROOT_SECRET_KEY="$S3_SECRET" \
      setsid "$VERSITYGW" --port "127.0.0.1:$S3_PORT" --health /health --keep-alive $quiet \
      posix --versioning-dir "$LOCAL/s3/versions" "$LOCAL/s3/data" \
      >>"$LOCAL/logs/versitygw.log" 2>&1 </dev/null &
    echo $! >"$LOCAL/s3/versitygw.pid"
  fi
  wait_for versitygw s3_health
  echo "stack: redis 127.0.0.1:$REDIS_PORT, s3 http://127.0.0.1:$S3_PORT, data $LOCAL" >&2
}

stop() {
  for pidf in "$LOCAL/s3/versitygw.pid" "$LOCAL/redis/redis.pid"; do
    if alive "$pidf"; then
      kill "$(cat "$pidf")"
      for _ in $(seq 1 50); do alive "$pidf" || break; sleep 0.1; done
    fi
    rm -f "$pidf"
  done
}

SERVE_PORT=${SOHOA_LOCAL_INTAKE_PORT:-18080}
API_PORT=${SOHOA_LOCAL_API_PORT:-18443}
OPS_PORT=${SOHOA_LOCAL_OPS_PORT:-18090}
WORKER_OPS_PORT=${SOHOA_LOCAL_WORKER_OPS_PORT:-18091}

start_app() { # bin: run `sohoa serve` and `sohoa worker` in the background against this stack
  local bin=$1
  stop_app
  eval "$(env_lines)"
  setsid "$bin" serve >>"$LOCAL/logs/serve.log" 2>&1 </dev/null &
  echo $! >"$LOCAL/serve.pid"
  setsid "$bin" worker >>"$LOCAL/logs/worker.log" 2>&1 </dev/null &
  echo $! >"$LOCAL/worker.pid"
  wait_for serve curl -fsS "http://127.0.0.1:$SERVE_PORT/healthz"
  wait_for worker grep -q '"worker started"' "$LOCAL/logs/worker.log"
  alive "$LOCAL/worker.pid" || { echo "stack: worker exited; see $LOCAL/logs/worker.log" >&2; return 1; }
  echo "stack: sohoa serve (pid $(cat "$LOCAL/serve.pid")) and worker (pid $(cat "$LOCAL/worker.pid")) running, logs $LOCAL/logs/" >&2
}

stop_app() {
  for pidf in "$LOCAL/serve.pid" "$LOCAL/worker.pid"; do
    if alive "$pidf"; then
      kill "$(cat "$pidf")" 2>/dev/null || true
      for _ in $(seq 1 400); do alive "$pidf" || break; sleep 0.1; done
      if alive "$pidf"; then kill -9 "$(cat "$pidf")" 2>/dev/null || true; fi
    fi
    rm -f "$pidf"
  done
}

env_lines() {
  cat <<ENV
export SOHOA_DEV=1
export SOHOA_REDIS_ADDR=127.0.0.1:$REDIS_PORT
export SOHOA_S3_ENDPOINT=127.0.0.1:$S3_PORT
export SOHOA_S3_ACCESS_KEY=$S3_ACCESS
export SOHOA_S3_SECRET_KEY=$S3_SECRET
export SOHOA_LOCAL_DIR=$LOCAL
export SOHOA_INTAKE_ADDR=127.0.0.1:$SERVE_PORT
export SOHOA_API_ADDR=127.0.0.1:$API_PORT
export SOHOA_VERIFY_BASE_URL=https://127.0.0.1:$API_PORT
export SOHOA_OPS_ADDR=127.0.0.1:$OPS_PORT
export SOHOA_WORKER_OPS_ADDR=127.0.0.1:$WORKER_OPS_PORT
ENV
}

case "${1:-}" in
  start) start ;;
  stop) stop_app; stop ;;
  status)
    alive "$LOCAL/redis/redis.pid" && echo "redis: running" || echo "redis: stopped"
    alive "$LOCAL/s3/versitygw.pid" && echo "s3: running" || echo "s3: stopped"
    alive "$LOCAL/serve.pid" && echo "serve: running" || echo "serve: stopped"
    alive "$LOCAL/worker.pid" && echo "worker: running" || echo "worker: stopped"
    ;;
  env) env_lines ;;
  start-app) start_app "${2:?usage: $0 start-app BIN}" ;;
  stop-app) stop_app ;;
  *) echo "usage: $0 start|start-app BIN|stop-app|stop|status|env" >&2; exit 2 ;;
esac
