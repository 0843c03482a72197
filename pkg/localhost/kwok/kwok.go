// Package kwok knows how to run KWOK, the simulator that stands in for the
// local host's kubelets: it keeps simulated nodes Ready and moves pods bound
// to them to Running, without any container runtime.
package kwok

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	osexec "os/exec"
)

// Stages is the node and pod lifecycle stages of KWOK's configuration.
//
//go:embed stages.yaml
var Stages []byte

// streams simulates port-forward (an echo); exec runs commands locally.
var (
	//go:embed streams.yaml
	streams []byte
	//go:embed exec.yaml
	execConfig []byte
)

// Config is KWOK's configuration: Stages, a port-forward that echoes, and
// with simulateExec, exec running the command on this machine.
func Config(simulateExec bool) []byte {
	out := append(append([]byte{}, Stages...), streams...)
	if simulateExec {
		out = append(out, execConfig...)
	}
	return out
}

// PortForwardCRD is the CustomResourceDefinition of KWOK's PortForward
// (kwok.x-k8s.io/v1alpha1, from the kwok version bin/kwok is built from).
// With it installed and kwok run with EnablePortForwardCRD, a PortForward
// object named after a pod, in the pod's namespace, says where a
// port-forward to that pod goes (a local address or a command); pods
// without one keep the echo of the configuration.
//
//go:embed portforward-crd.yaml
var PortForwardCRD []byte

// EnablePortForwardCRD is kwok's flag that makes it read PortForward
// objects from the cluster instead of its configuration.
const EnablePortForwardCRD = "--enable-crds=PortForward"

// NodeAnnotation marks the nodes that KWOK manages.
const NodeAnnotation = "kwok.x-k8s.io/node"

// NodeAnnotationValue is the value of NodeAnnotation on simulated nodes.
const NodeAnnotationValue = "fake"

// BinaryEnvVar overrides where the kwok binary is found.
const BinaryEnvVar = "NEST_KWOK"

// FindBinary returns the kwok binary: $NEST_KWOK, else `kwok` next to the
// nest binary at nestPath (where `make build` puts it), else `kwok` on PATH.
func FindBinary(nestPath string) (string, error) {
	if p := os.Getenv(BinaryEnvVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnvVar, p, err)
		}
		return p, nil
	}
	p := filepath.Join(filepath.Dir(nestPath), "kwok")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := osexec.LookPath("kwok"); err == nil {
		return p, nil
	}
	return "", errors.New("kwok binary not found next to nest, on PATH or in $" + BinaryEnvVar + ": run `make build` (it builds bin/kwok)")
}

// Args returns kwok's flags for a cluster reached through kubeconfig. Its
// simulated kubelet API (logs, exec) serves on serverPort, which the nodes
// advertise, so that the apiserver's kubelet requests reach it. extra
// flags (EnablePortForwardCRD) come last.
func Args(kubeconfig, configPath string, serverPort int, podCIDR string, extra ...string) []string {
	return append([]string{
		"--kubeconfig=" + kubeconfig,
		"--config=" + configPath,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + NodeAnnotation + "=" + NodeAnnotationValue,
		"--server-address=127.0.0.1:" + strconv.Itoa(serverPort),
		"--node-port=" + strconv.Itoa(serverPort),
		"--cidr=" + podCIDR,
		"--node-ip=127.0.0.1",
	}, extra...)
}
