# The S3 store's paths, ports and pid check. Sourced after lib.sh.
# shellcheck shell=bash
source "$TESTBED_DIR/s3/versions.env"
S3_VENV="$CACHE_ROOT/s3/seaweedfs-$SEAWEEDFS_VERSION"
S3_PORT=${TESTBED_S3_PORT:-20333}
# weed's own ports follow the S3 port (each also opens its gRPC port at +10000, weed's convention).
S3_MASTER_PORT=$((S3_PORT + 1))
S3_VOLUME_PORT=$((S3_PORT + 2))
S3_FILER_PORT=$((S3_PORT + 3))
S3_METRICS_PORT=$((S3_PORT + 4))
S3_PID_FILE="$STATE_DIR/pids/s3.pid"
# The test bed's keys (not secrets: the store listens only on the pods' bridge and loopback).
S3_ACCESS_KEY=testbed
S3_SECRET_KEY=testbed-secret

# s3_pid: prints the store's pid when the pid file names a live weed started for this state dir.
s3_pid() {
  local pid
  [ -f "$S3_PID_FILE" ] || return 1
  pid=$(<"$S3_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE_DIR/s3/data" || return 1
  echo "$pid"
}
