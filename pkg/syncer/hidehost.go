package syncer

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nestcluster/nest/pkg/config"
)

// In the fake node mode (the default) a virtual cluster learns nothing of
// the host's nodes: its pods are bound to generated nodes (nodes.go), and
// what comes up from the host is rewritten the same way. A virtual pod's
// status.hostIP (and hostIPs) is its fake node's address, the syncer's
// kubelet endpoint, not the host node's; a host event copied up names the
// fake node where it named a host node running the cluster's pods (message,
// source host, reporting instance), and the fake node's address where it
// named the pod's host IP. In the real mode, both stay the host's.

// fallbackNodeIP is the fake nodes' address when the syncer serves no
// kubelet endpoint (no certificates): loopback, which tells nothing.
const fallbackNodeIP = "127.0.0.1"

// hidesHostNodes reports whether host node names and IPs are rewritten.
func (s *Syncer) hidesHostNodes() bool { return s.nodeMode() == config.NodeModeFake }

// fakeNodeIP is the address every fake node shows first (setKubelet).
func (s *Syncer) fakeNodeIP() string {
	if s.kubelet != nil && s.kubelet.address != "" {
		return s.kubelet.address
	}
	return fallbackNodeIP
}

// hideHostIP replaces the host node's addresses in a virtual pod's status
// with its fake node's.
func (s *Syncer) hideHostIP(status *corev1.PodStatus) {
	if !s.hidesHostNodes() {
		return
	}
	ip := s.fakeNodeIP()
	if status.HostIP != "" {
		status.HostIP = ip
	}
	if len(status.HostIPs) > 0 {
		status.HostIPs = []corev1.HostIP{{IP: ip}}
	}
}

// hostNodeRenames maps what a host event may say of host nodes to what the
// virtual cluster may see: the host nodes that run the cluster's pods, the
// event's source host (a kubelet's node) and hpod's node (if given) to their
// fake nodes, and hpod's host IP to the fake node's address. Nil in the
// real mode.
func (s *Syncer) hostNodeRenames(hpod *corev1.Pod, sourceHost string) map[string]string {
	if !s.hidesHostNodes() {
		return nil
	}
	renames := map[string]string{}
	if sourceHost != "" {
		renames[sourceHost] = s.virtualNodeName(sourceHost)
	}
	if s.hostPodIndex != nil {
		for _, node := range s.hostPodIndex.ListIndexFuncValues(indexPodNodeName) {
			renames[node] = s.virtualNodeName(node)
		}
	}
	if hpod != nil {
		if node := hpod.Spec.NodeName; node != "" {
			renames[node] = s.virtualNodeName(node)
		}
		ip := s.fakeNodeIP()
		if hpod.Status.HostIP != "" {
			renames[hpod.Status.HostIP] = ip
		}
		for _, h := range hpod.Status.HostIPs {
			renames[h.IP] = ip
		}
	}
	return renames
}

// hideHostNodes rewrites an event copied up with renames (hostNodeRenames).
func hideHostNodes(ev *corev1.Event, renames map[string]string) {
	if len(renames) == 0 {
		return
	}
	ev.Message = replaceNames(ev.Message, renames)
	if to, ok := renames[ev.Source.Host]; ok {
		ev.Source.Host = to
	}
	if to, ok := renames[ev.ReportingInstance]; ok {
		ev.ReportingInstance = to
	}
}

// replaceNames replaces each key of renames in s by its value where it
// stands as a whole name or address: not inside a longer one ("node-1" in
// "node-10", "10.0.0.1" in "10.0.0.12"). The longest keys go first.
func replaceNames(s string, renames map[string]string) string {
	keys := make([]string, 0, len(renames))
	for k := range renames {
		if k != "" {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) })
	for _, old := range keys {
		s = replaceWord(s, old, renames[old])
	}
	return s
}

// replaceWord replaces the occurrences of old in s that are whole names.
func replaceWord(s, old, replacement string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		whole := (i == 0 || !isNameByte(s[i-1]) && s[i-1] != '.') &&
			(end == len(s) || !isNameByte(s[end]) && (s[end] != '.' || end+1 == len(s) || !isNameByte(s[end+1])))
		b.WriteString(s[:i])
		if whole {
			b.WriteString(replacement)
		} else {
			b.WriteString(old)
		}
		s = s[end:]
	}
}

// isNameByte reports whether c may continue a node name or an address.
func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
