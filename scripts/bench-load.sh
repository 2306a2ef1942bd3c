#!/usr/bin/env bash
# The load scenario of `make bench` (BENCHMARKS.md): a fresh server on a temp data dir,
# N publishers of the testdata file at real time, M LL-HLS viewers each, for D seconds,
# with the server's CPU and RSS sampled from /proc. Loopback only.
#
#   STREAMS=50 VIEWERS=2 DURATION=60s FILE=testdata/h264_aac.flv scripts/bench-load.sh
#
# The default FILE is the issue's reference input, 720p30 H.264 at 3 Mbps + AAC
# 128 kbit/s, 10 s with a 2 s GOP, made once with ffmpeg into bin/ (not committed);
# without ffmpeg it falls back to testdata/h264_aac.flv (360p, 1 Mbps).
# BIN picks the server binary (compare builds), VIEWER the viewer kind (ll, plain).
set -euo pipefail
cd "$(dirname "$0")/.."

STREAMS=${STREAMS:-50}
VIEWERS=${VIEWERS:-2}
VIEWER=${VIEWER:-ll}
DURATION=${DURATION:-60s}
BIN=${BIN:-bin/roomcast}
REF=bin/h264_aac_720p.flv
if [ -z "${FILE:-}" ]; then
  if [ ! -s $REF ] && command -v ffmpeg >/dev/null; then
    mkdir -p bin
    ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30 \
      -f lavfi -i sine=frequency=440:sample_rate=48000 -t 10 -c:v libx264 -preset veryfast \
      -tune zerolatency -profile:v high -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p \
      -b:v 3000k -maxrate 3000k -bufsize 3000k -c:a aac -b:a 128k -ar 48000 -ac 2 -f flv -y $REF
  fi
  FILE=testdata/h264_aac.flv
  [ -s $REF ] && FILE=$REF
fi
HTTP_PORT=${HTTP_PORT:-18080}
RTMP_PORT=${RTMP_PORT:-11935}
OUT=${OUT:-bench-load.json}
EXTRA=${EXTRA:-}

[ -x "$BIN" ] || go build -o bin/roomcast ./cmd/roomcast
[ -x bin/roomcast-load ] || go build -o bin/roomcast-load ./cmd/roomcast-load

load0=$(cut -d' ' -f1-3 /proc/loadavg)
data=$(mktemp -d)
key=bench-key
secret=bench-secret-$(date +%s)
# Every client of the benchmark is on loopback: no per-address connection cap,
# no API concurrency limit (they would refuse the benchmark, not measure it).
ROOMCAST_APP_KEY=$key ROOMCAST_APP_SECRET=$secret "$BIN" \
  --data "$data" --http-addr 127.0.0.1:$HTTP_PORT --rtmp-addr 127.0.0.1:$RTMP_PORT \
  --public-http-url http://127.0.0.1:$HTTP_PORT --public-rtmp-url rtmp://127.0.0.1:$RTMP_PORT \
  --max-publishers 1000 --max-conns-per-ip 0 --max-api-requests 0 --log-level warn $EXTRA 2>"$data/server.log" &
pid=$!
cleanup() { kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 50); do
  curl -fsS http://127.0.0.1:$HTTP_PORT/readyz >/dev/null 2>&1 && break
  sleep 0.1
done

./bin/roomcast-load --file "$FILE" --streams "$STREAMS" --viewers "$VIEWERS" --viewer "$VIEWER" \
  --api http://127.0.0.1:$HTTP_PORT --api-key "$key" --api-secret "$secret" \
  --publish-url "rtmp://127.0.0.1:$RTMP_PORT/live/{key}?mode=CMAF" \
  --pid $pid --ramp 20ms --duration "$DURATION" --json "$OUT"
# METRICS_OUT: the server's /metrics at the end of the run (before it stops)
[ -n "${METRICS_OUT:-}" ] && curl -fsS http://127.0.0.1:$HTTP_PORT/metrics >"$METRICS_OUT"
echo "report: $OUT (file $FILE, server $BIN, load average before: $load0)"
