#!/usr/bin/env bash
# Recordings to object storage under load (BENCHMARKS.md "Object storage"): a real
# S3-compatible server (SeaweedFS's weed, built by `make weed`) on loopback, the
# load scenario of bench-load.sh with --object-store, then the uploader's figures
# from the server's /metrics: objects and bytes stored per second, the upload lag
# (a segment closed → it and its index record stored) and failures.
#
#   STREAMS=100 DURATION=60s scripts/bench-upload.sh
set -euo pipefail
cd "$(dirname "$0")/.."

WEED_VERSION=$(sed -n 's/^WEED_VERSION *:\?= *//p' Makefile)
WEED=${ROOMCAST_WEED:-$HOME/.cache/roomcast/weed-$WEED_VERSION}
[ -x "$WEED" ] || { echo "no weed binary at $WEED: run make weed" >&2; exit 1; }
export STREAMS=${STREAMS:-100} VIEWERS=${VIEWERS:-0} DURATION=${DURATION:-60s}
S3_PORT=${S3_PORT:-18333}
dir=$(mktemp -d)
metrics=$dir/metrics.txt
# weed on loopback only, every port explicit (gRPC ports default to port+10000)
"$WEED" -logtostderr server -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port=19333 -master.port.grpc=29333 -master.telemetry=false -master.volumeSizeLimitMB=1024 \
  -volume.port=18480 -volume.port.grpc=28480 -volume.max=0 -filer.port=18888 -filer.port.grpc=28888 \
  -s3 -s3.port=$S3_PORT -s3.port.grpc=28333 -s3.port.iceberg=0 -s3.port.lance=0 >"$dir/weed.log" 2>&1 &
weed=$!
trap 'kill $weed 2>/dev/null || true; wait $weed 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 300); do
  curl -fsS -X PUT http://127.0.0.1:$S3_PORT/bench >/dev/null 2>&1 && break
  sleep 0.2
done

# weed allocates volumes on the first writes to a bucket (a pause of seconds):
# warm it up so that the figures are of steady uploads, not of that
head -c 1048576 /dev/urandom >"$dir/warmup"
for i in $(seq 20); do
  curl -fsS -X PUT --data-binary @"$dir/warmup" http://127.0.0.1:$S3_PORT/bench/warmup/$i >/dev/null
done
curl -fsS -X DELETE http://127.0.0.1:$S3_PORT/bench/warmup/ >/dev/null 2>&1 || true

start=$(date +%s.%N)
EXTRA="--object-store s3://bench?endpoint=http://127.0.0.1:$S3_PORT&region=us-east-1 ${EXTRA:-}" \
  METRICS_OUT=$metrics OUT=${OUT:-bench-upload.json} ./scripts/bench-load.sh
end=$(date +%s.%N)
awk -v secs="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" '
  /^roomcast_upload_objects_total / { objects = $2 }
  /^roomcast_upload_bytes_total / { bytes = $2 }
  /^roomcast_upload_failures_total / { failures = $2 }
  /^roomcast_upload_backlog_seconds / { backlog = $2 }
  /^roomcast_upload_lag_seconds_bucket/ { match($0, /le="[^"]+"/); le = substr($0, RSTART+4, RLENGTH-5); n[le] = $2; order[++k] = le }
  /^roomcast_upload_lag_seconds_count / { count = $2 }
  /^roomcast_upload_lag_seconds_sum / { sum = $2 }
  END {
    for (i = 1; i <= k; i++) printf "  lag ≤ %s s: %d\n", order[i], n[order[i]]
    printf "uploads: %d objects, %.1f MB in %.0f s (%.1f objects/s, %.2f MB/s), %d failed passes, backlog at the end %.1f s\n",
      objects, bytes / 1e6, secs, objects / secs, bytes / 1e6 / secs, failures, backlog
    if (count > 0) {
      printf "upload lag: mean %.1f ms over %d passes", sum / count * 1000, count
      for (i = 1; i <= k; i++) { if (!p50 && n[order[i]] >= count * 0.5) p50 = order[i]; if (!p99 && n[order[i]] >= count * 0.99) p99 = order[i] }
      printf "; p50 ≤ %s s, p99 ≤ %s s (histogram buckets)\n", p50, p99
    }
  }' "$metrics"
