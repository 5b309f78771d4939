# sluice — build, run, test, benchmark. See README.md.
GO        ?= go
BIN       := bin/sluice
CONFIG    ?= conf/config.yaml
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Packages where goroutines, loops and shared state live: tested under -race.
RACE_PKGS := ./core/... ./l4/... ./l7/... ./plugin/... ./cmd/...

.PHONY: all build run test test-race test-unit bench bench-peers lint deps vet fmt clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sluice

run: build
	./$(BIN) run -c $(CONFIG)

# make test: everything CI runs. Kept under 10 minutes on 2 cores.
test: vet deps test-unit test-race
	cd bench && $(GO) vet ./... && $(GO) test -count=1 -timeout 5m ./...

vet:
	$(GO) vet ./...

deps:
	@bash scripts/check-deps.sh

test-unit:
	$(GO) test -count=1 -timeout 8m ./...

test-race:
	$(GO) test -race -count=1 -timeout 8m $(RACE_PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	cd bench && $(GO) test -run '^$$' -bench . -benchmem ./...

bench-peers: build
	bash scripts/install-peers.sh
	cd bench && $(GO) run ./cmd/peers -sluice ../$(BIN) $(PEERS_FLAGS)

lint: vet
	$(GO) run $(STATICCHECK) ./...
	cd bench && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
