#!/usr/bin/env bash
# The main job (`make up`): bring up the local host cluster, prove it runs
# workloads, create a virtual cluster on it, and print how to use both.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"

nest host up
HOST_KUBECONFIG="$(nest host kubeconfig)"

echo
echo "Running a sample Deployment of 10 replicas on the local host..."
kubectl --kubeconfig "$HOST_KUBECONFIG" create namespace nest-sample --dry-run=client -o yaml |
  kubectl --kubeconfig "$HOST_KUBECONFIG" apply -f - >/dev/null
kubectl --kubeconfig "$HOST_KUBECONFIG" -n nest-sample create deployment sample \
  --image=registry.k8s.io/pause:3.10 --replicas=10 --dry-run=client -o yaml |
  kubectl --kubeconfig "$HOST_KUBECONFIG" apply -f - >/dev/null
kubectl --kubeconfig "$HOST_KUBECONFIG" -n nest-sample rollout status deployment/sample --timeout=120s

echo
if nest list -o json | grep -q '"name": "demo"'; then
  nest resume demo
else
  nest create demo
fi
VC_KUBECONFIG="${NEST_HOME:-$HOME/.nest}/clusters/demo/kubeconfig"

echo
echo "Running a sample Deployment of 3 replicas in the virtual cluster (the syncer runs its pods on the host)..."
kubectl --kubeconfig "$VC_KUBECONFIG" create deployment hello \
  --image=registry.k8s.io/pause:3.10 --replicas=3 --dry-run=client -o yaml |
  kubectl --kubeconfig "$VC_KUBECONFIG" apply -f - >/dev/null
kubectl --kubeconfig "$VC_KUBECONFIG" rollout status deployment/hello --timeout=120s
kubectl --kubeconfig "$VC_KUBECONFIG" create service clusterip hello --tcp=80:8080 --dry-run=client -o yaml |
  kubectl --kubeconfig "$VC_KUBECONFIG" apply -f - >/dev/null

cat <<MSG

Everything is up. Nodes are simulated by KWOK: pods are scheduled and
reported Running, no containers run.

The local host cluster:
  kubectl --kubeconfig $HOST_KUBECONFIG get nodes
  kubectl --kubeconfig $HOST_KUBECONFIG -n nest-sample get pods

The virtual cluster "demo" (you are its cluster-admin):
  kubectl --kubeconfig $VC_KUBECONFIG get pods -o wide
  kubectl --kubeconfig $HOST_KUBECONFIG -n nest-demo get pods   # the same pods on the host
  kubectl --kubeconfig $VC_KUBECONFIG get service hello         # its cluster IP is the host copy's:
  kubectl --kubeconfig $HOST_KUBECONFIG -n nest-demo get services
  nest connect demo      # merge context nest_demo into ~/.kube/config

kubectl is in ./bin (export PATH="\$PWD/bin:\$PATH"). Stop everything with:
  nest delete demo && nest host down
MSG
