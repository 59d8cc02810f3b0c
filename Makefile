# Meridian — targets a newcomer guesses.
GO       ?= go
BIN      ?= bin/meridian
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...
FUZZTIME ?= 60s

.PHONY: all build run test vet lint bench fuzz cover clean

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

## lint: go vet and staticcheck
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

## bench: Go benchmarks with allocation counts
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 $(PKGS)

## fuzz: the packet-path fuzzer (not part of make test)
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzPacket -fuzztime=$(FUZZTIME) ./dnsserver/

## cover: test coverage report in cover.html
cover:
	$(GO) test -race -coverprofile=cover.out $(PKGS)
	$(GO) tool cover -html=cover.out -o cover.html

clean:
	rm -rf bin cover.out cover.html
