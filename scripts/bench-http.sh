#!/usr/bin/env bash
# HTTP throughput of `make bench` (BENCHMARKS.md), with wrk over loopback against a
# fresh server on a temp data dir:
#   1. the LL-HLS media playlist of a live stream (routing, streamingToken check,
#      cached template filled with the token) — one publisher of FILE keeps it live;
#   2. GET /v2/apps/me/video-rooms/{id} (App API, HTTP Basic, store read, JSON).
# wrk and the server share the machine; read req/s together with its CPU count.
#
#   CONNS=64 THREADS=2 DURATION=10s FILE=testdata/h264_aac.flv scripts/bench-http.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
FILE=${FILE:-testdata/h264_aac.flv}
HTTP_PORT=${HTTP_PORT:-18081}
RTMP_PORT=${RTMP_PORT:-11936}
EXTRA=${EXTRA:-}

command -v wrk >/dev/null || { echo "bench-http: wrk not found (Debian: apt-get install -y wrk)" >&2; exit 1; }
BIN=${BIN:-bin/roomcast}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/roomcast
[ -x bin/roomcast-load ] || go build -o bin/roomcast-load ./cmd/roomcast-load

data=$(mktemp -d)
key=bench-key
secret=bench-secret-$(date +%s)
base=http://127.0.0.1:$HTTP_PORT
api=$base/v2/apps/me
# Every client of the benchmark is on loopback: no per-address connection cap,
# no API concurrency limit (they would refuse the benchmark, not measure it).
ROOMCAST_APP_KEY=$key ROOMCAST_APP_SECRET=$secret "$BIN" \
  --data "$data" --http-addr 127.0.0.1:$HTTP_PORT --rtmp-addr 127.0.0.1:$RTMP_PORT \
  --public-http-url $base --public-rtmp-url rtmp://127.0.0.1:$RTMP_PORT \
  --max-conns-per-ip 0 --max-api-requests 0 --log-level warn $EXTRA 2>"$data/server.log" &
pid=$!
lpid=
cleanup() {
  [ -n "$lpid" ] && { kill -INT $lpid 2>/dev/null || true; wait $lpid 2>/dev/null || true; }
  kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 50); do
  curl -fsS $base/readyz >/dev/null 2>&1 && break
  sleep 0.1
done

call() { # method path [json body]
  curl -fsS -u "$key:$secret" -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$api$2"
}
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

call POST /members '{"appUserId":"bench","appUserName":"bench"}' >/dev/null
call POST /members '{"appUserId":"viewer","appUserName":"viewer"}' >/dev/null
sk=$(call GET /members/bench/stream-key | field streamKey)
room=$(call POST /video-rooms "{\"appUserId\":\"bench\",\"type\":\"BROADCAST_RTMP\",\"title\":\"bench\",\"accessLevel\":\"PUBLIC\",\"scheduledAt\":\"$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%S.000Z)\"}" | field id)

./bin/roomcast-load --file "$FILE" --streams 1 --keys "$sk" --progress 0 \
  --publish-url "rtmp://127.0.0.1:$RTMP_PORT/live/{key}?mode=CMAF" --duration 0 >/dev/null 2>"$data/load.log" &
lpid=$!
for _ in $(seq 100); do
  call POST /video-rooms/$room/rtmp-broadcast/state/live >/dev/null 2>&1 && break
  sleep 0.1
done
hls=$(call GET /video-rooms/$room | field cmafHlsPlayUrl)
tok=$(call POST /members/viewer/tokens '{}' | field streamingToken)
media=${hls%index.m3u8}video1.m3u8?streamingToken=$tok
for _ in $(seq 100); do # until the first segment is listed
  curl -fsS -o /dev/null "$media" 2>/dev/null && break
  sleep 0.1
done

# cpu_ticks: utime+stime of the server in clock ticks (for CPU per request, which
# stays comparable on a busy machine where req/s does not).
cpu_ticks() { awk '{print $14+$15}' /proc/$pid/stat; }
run_wrk() { # label url [header]
  local before after out reqs
  echo "== $1 ($CONNS connections, $THREADS threads, $DURATION)"
  before=$(cpu_ticks)
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency ${3:+-H "$3"} "$2")
  after=$(cpu_ticks)
  echo "$out" | sed -n '/Latency Distribution/,$p'
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -v t=$((after - before)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "Server CPU per request: %.1f µs\n", t / hz * 1e6 / n }'
}
run_wrk "media playlist with token check: GET ${media%%\?*}?streamingToken=…" "$media"
run_wrk "App API GET room: GET $api/video-rooms/$room" "$api/video-rooms/$room" \
  "Authorization: Basic $(printf %s "$key:$secret" | base64 -w0)"
