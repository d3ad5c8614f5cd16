# sohoa — make targets. `make demo` and `make test` install what is missing,
# start the local stack (Redis + S3 on loopback, data under .local/) and run.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO      ?= go
BIN     := bin/sohoa
STACK   := deploy/local/stack.sh
CORPUS  ?= ../shared/corpus/dev
# Tesseract must see this before it starts (OpenMP threads spin on 2 cores).
export OMP_THREAD_LIMIT := 1
export GOFLAGS := -buildvcs=false

.PHONY: all deps build stack stop demo test unit check bench eval eval-born-digital screenshots chaos scale-test clean

all: build

deps:
	@bash deploy/local/deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/sohoa

stack: deps
	@bash $(STACK) start

stop:
	@bash $(STACK) stop

# The whole pipeline on the dev corpus, then serve and a worker left running.
demo: deps build stack
	@eval "$$(bash $(STACK) env)"; \
	  $(BIN) demo --corpus $(CORPUS) 2>.local/logs/demo.log || { tail -n 20 .local/logs/demo.log; exit 1; }; \
	  bash $(STACK) start-app $(BIN); \
	  echo; echo "Staff web app: http://$$SOHOA_INTAKE_ADDR/   (a worker is running: uploads are processed)"; \
	  echo "  development sign-ins (development mode only; $$SOHOA_LOCAL_DIR/keys/dev-users.txt):"; \
	  grep -v '^#' "$$SOHOA_LOCAL_DIR/keys/dev-users.txt" | while read -r role user pass; do \
	    printf '    %-10s  user %-14s  password %s\n' "$$role" "$$user" "$$pass"; done; \
	  echo "  intake API token for scripts (development): $$(cat "$$SOHOA_LOCAL_DIR/keys/intake.token")"; \
	  echo "Reuse API: https://$$SOHOA_API_ADDR/v1/ (README: Fetching and verifying results)"; \
	  echo "Operations: metrics http://$$SOHOA_OPS_ADDR/metrics (serve) and http://$$SOHOA_WORKER_OPS_ADDR/metrics (worker);"; \
	  echo "  queue monitor http://$$SOHOA_OPS_ADDR/ops/queues/ (signed in as dev-supervisor, or: curl -H \"Authorization: Bearer \$$(cat $$SOHOA_LOCAL_DIR/keys/ops.token)\" http://$$SOHOA_OPS_ADDR/ops/queues/api/queues)"; \
	  echo "Logs: .local/logs/ (demo.log, serve.log, worker.log). Stop everything: make stop"

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

# Every test, unit and integration, against the real local stack. Strict:
# a missing tool or service fails the run instead of skipping a test
# (internal/testenv).
test: deps build stack check
	@eval "$$(bash $(STACK) env)"; \
	  SOHOA_TEST_STRICT=1 $(GO) test -count=1 -timeout 25m ./... 2>&1 | tee .local/logs/test.log

# The README's screenshots, taken by the browser tests against the real stack.
screenshots: deps build stack
	@mkdir -p docs/screenshots; eval "$$(bash $(STACK) env)"; \
	  SOHOA_TEST_STRICT=1 $(GO) test -count=1 -timeout 20m ./cmd/sohoa -run 'TestBrowser(OneDay|Intake)$$' \
	    -args -screenshots "$$PWD/docs/screenshots"

unit:
	$(GO) test -short -count=1 ./...

# The chaos harness (reliability.md §5): 1,000 jobs through serve, two
# workers, Redis and versitygw of its own (loopback, private ports), with
# worker SIGKILLs, a Redis restart, a FLUSHALL and an S3 outage longer than
# the retry budget. `make test` runs a short version (100 jobs) with a fixed
# seed; `make chaos` draws one (CHAOS_SEED=n replays a logged run).
CHAOS_JOBS  ?= 1000
CHAOS_KILLS ?= 24
CHAOS_SEED  ?= 0
chaos: deps
	$(GO) test -count=1 -timeout 40m -run '^TestChaos$$' ./cmd/sohoa -v -args -chaos.jobs=$(CHAOS_JOBS) -chaos.kills=$(CHAOS_KILLS) -chaos.seed=$(CHAOS_SEED) 2>&1 | tee .local/logs/chaos.log | grep -E '^chaos:|chaos_test|^(ok|FAIL|---)'

# The scale-out test (not in `make test`; about 10 minutes): a 4-node
# distributed MinIO (erasure coded), Redis, two `serve` and three `worker`
# processes on loopback ports 26380, 28180-28182, 28443-28445, 29001-29014,
# the dev corpus through both serves, one MinIO node, one worker and one
# serve killed mid-run; then a 1-worker phase. MinIO is built once from the
# Go module proxy into .local/tools/ (pinned).
MINIO_VERSION ?= v0.0.0-20260212201848-7aac2a2c5b7c
MINIO := .local/tools/minio
scale-test: deps
	@if ! $(GO) version -m $(MINIO) 2>/dev/null | grep -q "github.com/minio/minio[[:space:]]*$(MINIO_VERSION)[[:space:]]"; then \
	  echo "scale-test: go install github.com/minio/minio@$(MINIO_VERSION) into $(MINIO) (once; a few minutes)"; \
	  mkdir -p .local/tools .local/logs; GOBIN=$$PWD/.local/tools $(GO) install github.com/minio/minio@$(MINIO_VERSION); fi
	@mkdir -p .local/logs; SOHOA_SCALE_TEST=1 MINIO=$$PWD/$(MINIO) $(GO) test -count=1 -timeout 20m -run '^TestScale$$' ./cmd/sohoa -v 2>&1 \
	  | tee .local/logs/scale.log | grep -E '^scale:|scale_test|^(ok|FAIL|---|PASS)'

bench: deps build stack
	@eval "$$(bash $(STACK) env)"; bash deploy/local/bench.sh

# Extraction accuracy on each corpus (the system is also judged on scans it
# has never seen). EVAL_FLAGS=--ocr-cache=.local/ocr-cache reuses recognised
# pages while tuning extraction (development only).
EVAL_CORPORA ?= ../shared/corpus/dev ../shared/corpus/wide
eval: deps build
	@for c in $(EVAL_CORPORA); do echo "== $$c"; $(BIN) eval --corpus $$c $(EVAL_FLAGS) || exit 1; done

# The same truth as born-digital PDFs (text drawn with Liberation Serif and
# its Unicode map, generated from CORPUS's truth files), read from their
# text layer: make eval over a folder of generated fixtures.
BORN ?= .local/born-digital
eval-born-digital: deps build
	$(GO) run ./ocr/pdftext/testdata/mkborn -corpus $(CORPUS) -out $(BORN)
	$(BIN) eval --corpus $(BORN)

clean: stop
	rm -rf bin .local
