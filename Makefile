# Meridian — targets a newcomer guesses.
GO       ?= go
BIN      ?= bin/meridian
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...
FUZZTIME ?= 30s
SOAKTIME ?= 60s

.PHONY: all build run test vet lint bench bench-dns bench-scale fuzz soak cover clean web-vendor

all: build

## build: a static, version-stamped binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/meridian

## run: build and start Meridian with the bundled example and its demo backends (DNS 127.0.0.1:1053, HTTP 127.0.0.1:8053, backends control 127.0.0.1:18080, state in ./data)
run: build
	@./$(BIN) demo-backends & demo=$$!; \
	trap 'kill $$demo 2>/dev/null' EXIT INT TERM; \
	./$(BIN) serve --config examples/meridian.yaml

## test: go vet and the race-enabled test suite (needs unbound: .ci/run installs it)
test: vet
	$(GO) test -race -count=1 -timeout 9m $(PKGS)

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags soak ./cmd/meridian/

## lint: go vet and staticcheck
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

## bench: Go benchmarks with allocation counts
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 $(PKGS)

## bench-dns: Meridian, gdnsd and Knot serving the same zone (static, geo by ECS, health-checked), each pinned to CPU 0 with dnsperf on CPU 1, ROUNDS (default 3) interleaved rounds; prints per query type median QPS, server CPU µs per query, loss, p50/p99 at a fixed rate, RSS and the ratios to gdnsd (installs dnsperf, gdnsd, knot; about 11 minutes; not part of make test)
bench-dns:
	GO='$(GO)' .ci/bench-dns

## bench-scale: one `meridian serve` with SERVICES (default 100,000) geo services at rest: start to ready, peak RSS, RSS (anonymous and mapped file) at ready and 30/60/120 s later, idle CPU; CHECKS=1 checks every endpoint (about 3 minutes; not part of make test)
bench-scale:
	GO='$(GO)' .ci/bench-scale

## fuzz: every fuzz target (.ci/fuzz finds them), one after another, each for FUZZTIME (default 30s); prints how long each ran and what it found, fails when any finds a crasher (not part of make test)
fuzz:
	GO='$(GO)' FUZZTIME='$(FUZZTIME)' .ci/fuzz

## soak: dnsperf at 30000 qps against the geo service for SOAKTIME (default 60s) while the state is re-applied every 100 ms and a backend flaps every second, then the same built with -race at 3000 qps, then on two nodes sharing an etcd (applies through one, dnsperf against the other); prints answered, lost, SERVFAIL, p99, goroutines and memory, fails on SERVFAIL, loss or growth (installs dnsperf; not part of make test)
soak:
	@command -v dnsperf >/dev/null 2>&1 || { \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; echo "installing: dnsperf"; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends dnsperf; }
	SOAK_TIME='$(SOAKTIME)' $(GO) test -tags soak -run TestSoak -count=1 -v -timeout 10m ./cmd/meridian/

## cover: test coverage report in cover.html
cover:
	$(GO) test -race -coverprofile=cover.out $(PKGS)
	$(GO) tool cover -html=cover.out -o cover.html

## web-vendor: re-fetch the dashboard's browser libraries and world map from the npm registry into web/vendor/ (needs npm; the result is committed)
WEB_VENDOR := d3-array@3.2.5 d3-geo@3.1.2 topojson-client@3.1.0 world-atlas@2.0.2
web-vendor:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	( cd "$$tmp" && npm pack --silent $(WEB_VENDOR) >/dev/null ) && \
	for pkg in $(WEB_VENDOR); do \
	  name=$${pkg%@*}; mkdir -p "$$tmp/$$name" && \
	  tar -xzf "$$tmp/$$name-$${pkg##*@}.tgz" -C "$$tmp/$$name" --strip-components=1 || exit 1; \
	done && \
	rm -rf web/vendor && mkdir -p web/vendor && \
	for name in d3-array d3-geo topojson-client; do \
	  cp "$$tmp/$$name/dist/$$name.min.js" web/vendor/ && cp "$$tmp/$$name/LICENSE" "web/vendor/$$name.LICENSE" || exit 1; \
	done && \
	cp "$$tmp/world-atlas/countries-110m.json" web/vendor/ && \
	cp "$$tmp/world-atlas/LICENSE" web/vendor/world-atlas.LICENSE && \
	printf '%s\n' $(WEB_VENDOR) > web/vendor/VERSIONS && \
	ls -l web/vendor

clean:
	rm -rf bin cover.out cover.html
