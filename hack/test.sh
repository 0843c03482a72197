#!/usr/bin/env bash
# Every test (`make test`): static checks, unit tests, and the end-to-end
# tests that start real local host clusters and virtual clusters.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"

# The Postgres datastore test runs a real PostgreSQL from Debian's packages.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is needed by the tests: sudo apt-get install postgresql" >&2
    exit 1
  fi
fi

# The web UI's browser tests drive Debian's Chromium; without it they skip.
if ! command -v chromium >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted="$(gofmt -l cmd pkg internal test bench 2>/dev/null || true)"
if [[ -n "$unformatted" ]]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
echo "== go test"
# Tests start their own local hosts in temporary NEST_HOMEs; -p 2 matches
# the two cores and keeps concurrent apiservers to a sane number.
go test -count=1 -p 2 -timeout 40m ./...
echo "== conformance slice"
# Upstream [Conformance] tests of the pinned Kubernetes (docs/conformance.md):
# the checked-in slice, on a local host and a virtual cluster at once; fails
# on a regression. Not part of `go test ./...`: the e2e suite is a binary of
# its own (bin/e2e.test), built here.
SLICE=test/conformance/ci-slice.txt OUT= PARALLEL="${CONFORMANCE_PARALLEL:-4}" TOGETHER=1 \
  ./hack/conformance.sh
echo "== fuzz (short)"
# Each fuzz target for 20,000 inputs beyond its seed corpus
# (which `go test` above already ran); `go test -fuzz` takes one package at
# a time. A count, not a duration: with a duration, go test fails a target
# with "context deadline exceeded" when gathering the corpus's baseline
# coverage takes longer than that on a loaded machine.
for target in "FuzzHostName ./pkg/names" "FuzzParse ./pkg/config" \
  "FuzzDecode ./pkg/hub/api" "FuzzReader ./pkg/snapshot"; do
  read -r fn pkg <<<"$target"
  go test -run '^$' -fuzz "^${fn}\$" -fuzztime "${FUZZTIME:-20000x}" -parallel 2 "$pkg"
done
