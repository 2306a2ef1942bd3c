# Roomcast — see README.md. `make run` starts the server, `make test` runs the tests.
GO      ?= go
BIN     := bin/roomcast
LOADBIN := bin/roomcast-load
PKGS    := ./...

# SeaweedFS's weed is the tests' S3 server (internal/s3test): built once from the
# module tools/seaweedfs pins (about 8 minutes) and cached under $(HOME)/.cache.
# WEED_VERSION is the commit of that pin; internal/s3test checks they agree.
WEED_VERSION := 7506e5f91cd6
WEED         := $(HOME)/.cache/roomcast/weed-$(WEED_VERSION)

.PHONY: run build test lint vet fmt-check e2e e2e-deps faults bench clean weed

run: build
	./$(BIN)

build:
	$(GO) build -o $(BIN) ./cmd/roomcast

lint: vet fmt-check

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every test that needs no network beyond loopback, with the race detector.
# The storage suite runs twice: on bbolt, and on a three-member etcd cluster
# (Debian's etcd-server) that the tests start on loopback.
test: lint weed
	ROOMCAST_WEED=$(WEED) $(GO) test -race -count=1 -timeout 15m $(PKGS)
	ROOMCAST_TEST_STORE=etcd $(GO) test -race -count=1 -timeout 15m ./storage/...

# Real clients against the real binary: ffmpeg and GStreamer publish like OBS; hls.js,
# dash.js, Shaka Player (headless Chromium), GStreamer, ffmpeg and an RTMP relay player
# play; VODs are checked with ffprobe. About 4 minutes (see e2e/doc.go), then
# about 5 for the cluster and object-store tests of cmd/roomcast.
e2e-deps:
	cd e2e && npm ci --no-audit --no-fund

e2e: build e2e-deps weed
	ROOMCAST_WEED=$(WEED) $(GO) test -tags e2e -count=1 -timeout 15m -parallel 4 -v ./e2e/
	ROOMCAST_WEED=$(WEED) $(GO) test -tags cluster -count=1 -timeout 20m -v -run 'Cluster|ObjectStore' ./cmd/roomcast/

# Fault injection against the whole server: a media disk (tmpfs) filled during a
# live broadcast, descriptors exhausted under a live stream, slow request bodies,
# kill -9, damaged and full stores, EMFILE at accept. The tmpfs test needs root (CI
# runs as root) and skips, saying why, otherwise. Figures: FAULT-REPORT lines.
FAULT_TESTS := Fault|Crash|SlowBodies|Refuses|BadPage|Damaged|TruncatedWhileOpen|StorageFull|ENOSPC|EMFILE|CheckCommand|Backup
faults: build
	$(GO) test -tags faults -count=1 -timeout 20m -v -run '$(FAULT_TESTS)' ./cmd/roomcast/ ./storage/ ./ingest/

# Go benchmarks of the hot paths, then a 60 s load scenario and the HTTP throughput
# (wrk) — see BENCHMARKS.md. Not part of `make test`: benchmarks are not timed tests.
bench: build weed
	$(GO) build -o $(LOADBIN) ./cmd/roomcast-load
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)
	./scripts/bench-load.sh
	ROOMCAST_WEED=$(WEED) ./scripts/bench-upload.sh
	@if command -v wrk >/dev/null; then ./scripts/bench-http.sh; \
	else echo "wrk not installed (apt-get install -y wrk): skipping scripts/bench-http.sh"; fi

# Builds weed only when the cached binary is missing (into a temporary name, so an
# interrupted build leaves nothing that looks finished).
weed: $(WEED)

$(WEED):
	grep -Eq 'seaweedfs/seaweedfs v0\.0\.0-[0-9]+-$(WEED_VERSION)( |$$)' tools/seaweedfs/go.mod
	mkdir -p $(dir $(WEED))
	cd tools/seaweedfs && $(GO) build -o $(WEED).tmp github.com/seaweedfs/seaweedfs/weed
	mv $(WEED).tmp $(WEED)

clean:
	rm -rf bin
