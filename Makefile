# Nest's build. `make up` runs the main job, `make test` every test.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
KWOK_VERSION := v0.8.0
# The Kubernetes version Nest embeds; stamped into the binaries so that
# `kubectl version` against any Nest cluster tells the truth.
KUBE_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes)
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
NEST_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION_PKGS := k8s.io/component-base/version k8s.io/client-go/pkg/version
LDFLAGS := $(foreach p,$(VERSION_PKGS),-X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=$(KUBE_MINOR) -X $(p).gitTreeState=clean) \
	-X github.com/nestcluster/nest/pkg/version.Version=$(NEST_VERSION)

export PATH := $(BIN):$(PATH)

.PHONY: all build nest nest-static image kwok kubectl terraform-provider up down test bench conformance clean

all: build

build: nest kwok kubectl ## Build bin/nest, bin/kwok and bin/kubectl

nest:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/nest ./cmd/nest

# The Terraform provider (docs/terraform/index.md shows how to use a local
# build with dev_overrides).
terraform-provider:
	$(GO) build -ldflags '-X main.version=$(NEST_VERSION)' -o $(BIN)/terraform-provider-nest ./cmd/terraform-provider-nest

# nest for the container image: linux, statically linked (mattn/go-sqlite3
# is cgo; the image has no C library), no dlopen of SQLite extensions, pure
# Go user and DNS lookups, paths trimmed so that builds are reproducible.
ARCH ?= $(shell $(GO) env GOARCH)
STATIC_TAGS := osusergo,netgo,sqlite_omit_load_extension
nest-static:
	CGO_ENABLED=1 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath -tags $(STATIC_TAGS) \
		-ldflags '$(LDFLAGS) -s -w -buildid= -linkmode external -extldflags -static' \
		-o $(BIN)/linux-$(ARCH)/nest ./cmd/nest

# The container image, without a container engine (pkg/image, docs/image.md):
# an OCI layout in bin/image and a `docker load`-able bin/nest-image.tar,
# tagged nestcluster/nest:$(NEST_VERSION). SOURCE_DATE_EPOCH dates it
# (default: the last commit's time), so the same commit gives the same digest.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
image: nest-static ## Build the container image (OCI layout + tarball), no Docker needed
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./hack/image \
		--binary $(BIN)/linux-$(ARCH)/nest --arch $(ARCH) --version $(NEST_VERSION) \
		--revision "$(shell git rev-parse HEAD 2>/dev/null)" \
		--layout $(BIN)/image --tar $(BIN)/nest-image.tar

# kubectl from the same pinned k8s.io/kubernetes (a `tool` in go.mod), for
# the quick start and the tests.
kubectl:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl k8s.io/kubernetes/cmd/kubectl

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

# Upstream conformance (docs/conformance.md): the [Conformance] tests of the
# pinned Kubernetes e2e suite on the local host and on a virtual cluster;
# FOCUS, SKIP, SLICE and PARALLEL narrow or speed up a run.
conformance: build ## Run the upstream conformance tests on the host and a virtual cluster, write docs/conformance.md
	./hack/conformance.sh

clean:
	rm -rf $(BIN)
