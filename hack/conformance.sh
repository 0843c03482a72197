#!/usr/bin/env bash
# Upstream conformance (`make conformance`, docs/conformance.md): builds the
# Kubernetes e2e suite of the pinned version (bin/e2e.test), starts a local
# host in a temporary NEST_HOME and a virtual cluster on it, runs the e2e
# tests against both, and compares them (hack/conformance): the tests that
# pass on the host are the baseline, and one of them not passing on the
# virtual cluster is a regression, which fails the run.
#
# Knobs (environment):
#   FOCUS     --ginkgo.focus (default: every [Conformance] test)
#   SKIP      --ginkgo.skip  (default: [Disruptive])
#   SLICE     a file of test names, one a line, to run instead of FOCUS;
#             each must pass on the host too (test/conformance/ci-slice.txt
#             is the slice hack/test.sh runs)
#   PARALLEL  ginkgo processes per cluster (default 8: most tests wait on
#             something, many for minutes; above 1 builds bin/ginkgo, the
#             ginkgo CLI of the version in the module graph)
#   TOGETHER  1 (default): run the host and the virtual cluster at the same
#             time; 0: one after the other
#   OUT       Markdown file to write the table into (default
#             docs/conformance.md; with SLICE, none: the table is printed
#             only when a test fails)
#   WORK      directory for reports and logs (default: a new /tmp dir,
#             removed after a run without problems)
#   NODES     simulated nodes of the host (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"

FOCUS="${FOCUS:-\[Conformance\]}"
SKIP="${SKIP:-\[Disruptive\]}"
PARALLEL="${PARALLEL:-8}"
TOGETHER="${TOGETHER:-1}"
NODES="${NODES:-3}"
KEEP_WORK=1
if [[ -z "${WORK:-}" ]]; then
  WORK="$(mktemp -d /tmp/nest-conformance-XXXXXX)"
  KEEP_WORK=0
fi
mkdir -p "$WORK"
if [[ -n "${SLICE:-}" ]]; then
  FOCUS="$(go run ./hack/conformance focus --slice "$SLICE")"
  OUT="${OUT:-}"
else
  OUT="${OUT-docs/conformance.md}"
fi

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

echo "== build (bin/nest, bin/kubectl, bin/kwok, bin/e2e.test)"
make --no-print-directory build >/dev/null
start="$(now)"
go test -c -o bin/e2e.test k8s.io/kubernetes/test/e2e
build_secs="$(since "$start")"
echo "e2e.test built in ${build_secs}s"
if (( PARALLEL > 1 )); then
  ginkgo_version="$(go list -m -f '{{.Version}}' github.com/onsi/ginkgo/v2)"
  if ! bin/ginkgo version 2>/dev/null | grep -q "${ginkgo_version#v}"; then
    # Its own module graph (like kwok), so it never touches Nest's go.mod.
    (cd /tmp && GOBIN="$OLDPWD/bin" GOFLAGS=-mod=mod go install "github.com/onsi/ginkgo/v2/ginkgo@$ginkgo_version")
  fi
fi

export NEST_HOME="$WORK/home"
export KUBECONFIG="$WORK/user.kubeconfig" # never the user's kubeconfig
cleanup() {
  nest delete conformance >/dev/null 2>&1 || true
  nest host down >/dev/null 2>&1 || true
  rm -rf "$NEST_HOME"
}
trap cleanup EXIT
# On Ctrl-C, stop the e2e runs (their pids are in $WORK/*.pid), then clean up.
trap 'for p in "$WORK"/*.pid; do [[ -f "$p" ]] && kill "$(cat "$p")" 2>/dev/null; done; exit 130' INT TERM

echo "== local host and virtual cluster (NEST_HOME=$NEST_HOME)"
nest host up --nodes "$NODES" --simulate-exec
HOST_KUBECONFIG="$(nest host kubeconfig)"
# Every host node shown, with its real data (test/conformance/nest.yaml):
# the suite lists the ready, schedulable nodes before it runs a pod.
nest create conformance --config test/conformance/nest.yaml --timeout 5m
VC_KUBECONFIG="$NEST_HOME/clusters/conformance/kubeconfig"

# run NAME KUBECONFIG [e2e flags...]: the e2e tests against one cluster;
# their report goes to $WORK/NAME.json, their log to $WORK/NAME.log, how
# long they took to $WORK/NAME.seconds.
run() {
  local name="$1" kubeconfig="$2"; shift 2
  local args=(--provider=skeleton --kubeconfig="$kubeconfig" --kubectl-path="$PWD/bin/kubectl"
    --report-dir="$WORK/$name" --dump-logs-on-failure=false "$@")
  mkdir -p "$WORK/$name"
  local start; start="$(now)"
  echo "== e2e on the $name ($PARALLEL process(es)), log in $WORK/$name.log"
  if (( PARALLEL > 1 )); then
    bin/ginkgo --procs="$PARALLEL" --focus="$FOCUS" --skip="$SKIP" --timeout=24h --no-color \
      --output-dir="$WORK" --json-report="$name.json" bin/e2e.test -- "${args[@]}" >"$WORK/$name.log" 2>&1 &
  else
    bin/e2e.test --ginkgo.focus="$FOCUS" --ginkgo.skip="$SKIP" --ginkgo.timeout=24h --ginkgo.no-color \
      --ginkgo.json-report="$WORK/$name.json" "${args[@]}" >"$WORK/$name.log" 2>&1 &
  fi
  echo $! >"$WORK/$name.pid"
  wait $! || true # failed tests are for the report to judge
  rm -f "$WORK/$name.pid"
  since "$start" >"$WORK/$name.seconds"
  echo "== e2e on the $name done: $(grep -E '^(Ran |FAIL!|SUCCESS!)' "$WORK/$name.log" | tr '\n' ' ')"
}
if [[ "$TOGETHER" == 1 ]]; then
  run host "$HOST_KUBECONFIG" &
  run virtual-cluster "$VC_KUBECONFIG" &
  wait
else
  run host "$HOST_KUBECONFIG"
  run virtual-cluster "$VC_KUBECONFIG"
fi

echo "== report"
go run ./hack/conformance report --host "$WORK/host.json" --virtual "$WORK/virtual-cluster.json" \
  --out "$OUT" ${SLICE:+--slice "$SLICE"} \
  --commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (dirty)')" \
  --kubernetes "$(go list -m -f '{{.Version}}' k8s.io/kubernetes)" \
  --focus "${SLICE:-$FOCUS}" --skip "$SKIP" --parallel "$PARALLEL" \
  --build "${build_secs}s (go test -c, cache as it was)" \
  --host-seconds "$(cat "$WORK/host.seconds")" --virtual-seconds "$(cat "$WORK/virtual-cluster.seconds")" ||
  { echo "Reports and logs: $WORK"; exit 1; }
# Stop the clusters while their state is still there (it is under $WORK).
cleanup
trap - EXIT
if [[ "$KEEP_WORK" == 0 ]]; then
  rm -rf "$WORK"
else
  echo "Reports and logs: $WORK"
fi
