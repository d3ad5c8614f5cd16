#!/bin/sh
# The image's HEALTHCHECK: sohoa serve and worker answer /readyz on their
# operations listener (SOHOA_WORKER_OPS_ADDR in a worker's container, else
# SOHOA_OPS_ADDR). A wildcard bind address is asked on
# loopback. Usage: sohoa-healthcheck [healthz|readyz]
set -eu
addr="${SOHOA_WORKER_OPS_ADDR:-${SOHOA_OPS_ADDR:-127.0.0.1:18090}}"
case "$addr" in
  0.0.0.0:*|:*) addr="127.0.0.1:${addr##*:}" ;;
  "[::]:"*) addr="[::1]:${addr##*:}" ;;
esac
exec curl -fsS --max-time 3 -o /dev/null "http://${addr}/${1:-readyz}"
