#!/usr/bin/env bash
# The load scenario of `make bench` (BENCHMARKS.md): a fresh server on a temp data dir,
# N publishers of the testdata file at real time, M LL-HLS viewers each, for D seconds,
# with the server's CPU and RSS sampled from /proc. Loopback only.
#
#   STREAMS=50 VIEWERS=2 DURATION=60s FILE=testdata/h264_aac.flv scripts/bench-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

STREAMS=${STREAMS:-50}
VIEWERS=${VIEWERS:-2}
DURATION=${DURATION:-60s}
FILE=${FILE:-testdata/h264_aac.flv}
HTTP_PORT=${HTTP_PORT:-18080}
RTMP_PORT=${RTMP_PORT:-11935}
OUT=${OUT:-bench-load.json}
EXTRA=${EXTRA:-}

[ -x bin/roomcast ] || go build -o bin/roomcast ./cmd/roomcast
[ -x bin/roomcast-load ] || go build -o bin/roomcast-load ./cmd/roomcast-load

data=$(mktemp -d)
key=bench-key
secret=bench-secret-$(date +%s)
ROOMCAST_APP_KEY=$key ROOMCAST_APP_SECRET=$secret ./bin/roomcast \
  --data "$data" --http-addr 127.0.0.1:$HTTP_PORT --rtmp-addr 127.0.0.1:$RTMP_PORT \
  --public-http-url http://127.0.0.1:$HTTP_PORT --public-rtmp-url rtmp://127.0.0.1:$RTMP_PORT \
  --max-publishers 1000 --log-level warn $EXTRA 2>"$data/server.log" &
pid=$!
cleanup() { kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 50); do
  curl -fsS http://127.0.0.1:$HTTP_PORT/readyz >/dev/null 2>&1 && break
  sleep 0.1
done

./bin/roomcast-load --file "$FILE" --streams "$STREAMS" --viewers "$VIEWERS" --viewer ll \
  --api http://127.0.0.1:$HTTP_PORT --api-key "$key" --api-secret "$secret" \
  --publish-url "rtmp://127.0.0.1:$RTMP_PORT/live/{key}?mode=CMAF" \
  --pid $pid --ramp 20ms --duration "$DURATION" --json "$OUT"
echo "report: $OUT"
