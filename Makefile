# Nest's build. `make up` runs the main job, `make test` every test.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
KWOK_VERSION := v0.8.0

export PATH := $(BIN):$(PATH)

.PHONY: all build nest kwok up down test test-unit bench clean tools

all: build

build: nest kwok ## Build bin/nest and bin/kwok

nest:
	$(GO) build -o $(BIN)/nest ./cmd/nest

# KWOK simulates the local host's nodes; built from source at a pinned version
# with its own module graph, so it never constrains Nest's dependencies.
kwok: $(BIN)/kwok
$(BIN)/kwok:
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)

up: build ## Start the local host and a virtual cluster, print how to use them
	./hack/up.sh

down: ## Stop everything `make up` started
	$(BIN)/nest host down

test: build ## Run every test (starts and stops its own local hosts)
	./hack/test.sh

bench: build ## Run the benchmarks and write docs/benchmarks.md
	./hack/bench.sh

clean:
	rm -rf $(BIN)
