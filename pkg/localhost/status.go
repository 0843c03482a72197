package localhost

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/localhost/kwok"
)

// ComponentStatus is the health of one process of the host.
type ComponentStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
	Healthy bool   `json:"healthy"`
	// Message says why the component is not healthy.
	Message string `json:"message,omitempty"`
}

// Status is the health of the whole host.
type Status struct {
	// Exists is false when the host was never brought up.
	Exists     bool              `json:"exists"`
	Healthy    bool              `json:"healthy"`
	Server     string            `json:"server,omitempty"`
	Kubeconfig string            `json:"kubeconfig,omitempty"`
	Datastore  string            `json:"datastore,omitempty"`
	Components []ComponentStatus `json:"components"`
	Nodes      int               `json:"nodes"`
	NodesReady int               `json:"nodesReady"`
}

// Status checks every component and counts the simulated nodes.
func (h *Host) Status(ctx context.Context) (*Status, error) {
	s, err := h.loadState()
	if err != nil {
		return nil, err
	}
	if s == nil {
		return &Status{}, nil
	}
	st := &Status{
		Exists:     true,
		Healthy:    true,
		Server:     fmt.Sprintf("https://127.0.0.1:%d", s.Ports.APIServer),
		Kubeconfig: h.KubeconfigPath(),
		Datastore:  s.Datastore,
	}
	for _, c := range h.components(s, h.pkiPaths(), "kwok") {
		cs := ComponentStatus{Name: c.name}
		pid, err := exec.ReadPIDFile(h.pidPath(c.name))
		switch {
		case err != nil:
			cs.Message = err.Error()
		case !exec.Alive(pid, h.dir):
			cs.Message = "not running"
		default:
			cs.PID, cs.Running = pid, true
			probeCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			if err := c.healthy(probeCtx); err != nil {
				cs.Message = err.Error()
			} else {
				cs.Healthy = true
			}
			cancel()
		}
		st.Healthy = st.Healthy && cs.Healthy
		st.Components = append(st.Components, cs)
	}
	if st.Components[1].Healthy { // the apiserver answers: count nodes
		client, err := h.Client()
		if err != nil {
			return nil, err
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list local host nodes: %w", err)
		}
		for _, n := range nodes.Items {
			if n.Annotations[kwok.NodeAnnotation] != kwok.NodeAnnotationValue {
				continue
			}
			st.Nodes++
			if nodeReady(&n) {
				st.NodesReady++
			}
		}
		st.Healthy = st.Healthy && st.Nodes > 0 && st.NodesReady == st.Nodes
	}
	return st, nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
