#!/usr/bin/env bash
# Runs Nest's benchmarks and writes docs/benchmarks.md. `make bench` calls it
# after `make build` (it needs bin/nest and bin/kwok).
#
#   ./hack/bench.sh                      # every benchmark, full sample sizes
#   ./hack/bench.sh --quick              # smoke run, small samples
#   ./hack/bench.sh --only vc-create,api-latency --out /tmp/bench.md
#   BENCH_FLAGS=--quick make bench
#
# Benchmarks: host-startup, vc-create, vc-memory, api-latency. The program
# starts its own local hosts in a temporary NEST_HOME and removes them when it
# ends, also on Ctrl-C. Run it on a quiet machine: the numbers are only as
# good as the machine is idle.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}

for b in bin/nest bin/kwok; do
	if [[ ! -x $b ]]; then
		echo "hack/bench.sh: $b is missing: run \`make build\` first" >&2
		exit 1
	fi
done

"$GO" build -o bin/nestbench ./bench/cmd/nestbench
# BENCH_FLAGS is split on spaces on purpose (flags for `make bench`).
# shellcheck disable=SC2086
exec bin/nestbench ${BENCH_FLAGS:-} "$@"
