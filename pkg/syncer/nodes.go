package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/names"
)

// Virtual nodes are the nodes a virtual pod is bound to: one per host node
// that runs the cluster's pods, made when a pod lands there and removed
// when none is left; with sync.fromHost.nodes.all, also one per host node
// matching sync.fromHost.nodes.selector (every node without one), for as
// long as the host node exists. sync.fromHost.nodes.mode chooses what they
// show:
//
//   - real: the host node's name, labels, taints, capacity, allocatable,
//     conditions, addresses and nodeInfo, kept up to date from a watch on
//     the host's nodes. That needs the read grant on host nodes made at
//     create time (pkg/hostaccess); without it the nodes show fake data,
//     and the syncer says so once.
//   - fake (the default): nothing of the host: a name made from a hash of
//     the host node's name and the cluster's, and generated capacity and
//     node info (with all, the host node's taints and unschedulable too, so
//     that daemon sets and tolerations decide as the host will).
//
// A pod that names virtual nodes (spec.nodeName, a daemon set pod's node
// affinity on metadata.name, in fake mode the kubernetes.io/hostname label)
// gets the host nodes they stand for in its host copy's node affinity, so
// the host scheduler puts it where the tenant asked.
//
// Either way the node's first InternalIP and its kubelet port are the
// syncer's kubelet API (logs, exec, ...), and it carries nest.dev/managed-by.

// annotationNodeMode says which mode a virtual node was made in.
const annotationNodeMode = names.Domain + "/node-mode"

// fakeNodeCapacity is what a fake virtual node reports.
var fakeNodeCapacity = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("16"),
	corev1.ResourceMemory: resource.MustParse("64Gi"),
	corev1.ResourcePods:   resource.MustParse("110"),
}

// nodeMode is the cluster's sync.fromHost.nodes.mode; a cluster that does
// not sync nodes from the host, or does not ask for real ones, gets fake ones.
func (s *Syncer) nodeMode() config.NodeMode {
	nodes := s.rules.FromHost["nodes"]
	if nodes.IsEnabled() && nodes.Mode == config.NodeModeReal {
		return config.NodeModeReal
	}
	return config.NodeModeFake
}

// hostNodeState is what the syncer knows of the host's nodes beyond the
// host nodes lister.
type hostNodeState struct {
	// hostNodeIndex indexes the host's nodes by the name of their virtual
	// node; nil when the host's nodes are not read.
	hostNodeIndex cache.Indexer
	// shownNodes selects the host nodes shown whether or not they run the
	// cluster's pods (sync.fromHost.nodes.all); nil: none.
	shownNodes labels.Selector
	// hostNodeNames maps the virtual node names handed out (fake mode) to
	// their host nodes, for translating pods that name virtual nodes when
	// the host's nodes are not read.
	hostNodeNames sync.Map
}

// indexVirtualNodeName indexes host nodes by their virtual node's name.
const indexVirtualNodeName = "virtualNodeName"

// labelHostname is the well-known node label of a node's host name.
const labelHostname = "kubernetes.io/hostname"

// virtualNodeName is the name of the virtual node standing for a host node.
func (s *Syncer) virtualNodeName(hostNode string) string {
	if s.nodeMode() == config.NodeModeReal {
		return hostNode
	}
	sum := sha256.Sum256([]byte(s.vc + "/" + hostNode))
	name := "vnode-" + hex.EncodeToString(sum[:])[:10]
	s.hostNodeNames.Store(name, hostNode)
	return name
}

// setUpHostNodes watches the host's nodes when the cluster reads them (real
// node data, or every host node shown) and the grant allows it; each change
// queues the host node's virtual node.
func (s *Syncer) setUpHostNodes(ctx context.Context) []informerHandler {
	if !s.rules.ReadsHostNodes() {
		return nil
	}
	if !s.canReadHostNodes(ctx) {
		s.log.Warn("Cannot read the host's nodes: virtual nodes show generated data, and only the nodes that run the cluster's pods (sync.fromHost.nodes.mode real and sync.fromHost.nodes.all need the read grant made by nest create)")
		return nil
	}
	if s.rules.ShowsAllHostNodes() {
		s.shownNodes = labels.Everything()
		if sel := s.rules.FromHost["nodes"].Selector; sel != nil {
			selector, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil { // config.Validate refuses it first
				s.log.Warn("Invalid sync.fromHost.nodes.selector: showing only the nodes that run the cluster's pods", "error", err)
			}
			s.shownNodes = selector
		}
	}
	f := informers.NewSharedInformerFactory(s.host, 0)
	nodes := f.Core().V1().Nodes()
	if err := nodes.Informer().AddIndexers(cache.Indexers{indexVirtualNodeName: func(obj any) ([]string, error) {
		if n, ok := obj.(*corev1.Node); ok {
			return []string{s.virtualNodeName(n.Name)}, nil
		}
		return nil, nil
	}}); err != nil {
		s.log.Warn("Cannot index the host's nodes: virtual nodes show generated data", "error", err)
		s.shownNodes = nil
		return nil
	}
	s.hostNodes = nodes.Lister()
	s.hostNodeIndex = nodes.Informer().GetIndexer()
	s.extraInformers = append(s.extraInformers, f)
	return []informerHandler{{nodes.Informer(), func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if n, ok := obj.(*corev1.Node); ok {
			s.queue.Add(queueKey(kindNode, s.virtualNodeName(n.Name)))
		}
	}}}
}

// hostNodeOf is the host node a virtual node stands for, when the host's
// nodes are read and it exists.
func (s *Syncer) hostNodeOf(virtualName string) *corev1.Node {
	if s.hostNodeIndex == nil {
		return nil
	}
	objs, err := s.hostNodeIndex.ByIndex(indexVirtualNodeName, virtualName)
	if err != nil || len(objs) == 0 {
		return nil
	}
	n, _ := objs[0].(*corev1.Node)
	return n
}

// shown reports whether a virtual node stands for a host node shown
// whether or not it runs the cluster's pods (sync.fromHost.nodes.all).
func (s *Syncer) shown(virtualName string) bool {
	if s.shownNodes == nil {
		return false
	}
	h := s.hostNodeOf(virtualName)
	return h != nil && s.shownNodes.Matches(labels.Set(h.Labels))
}

// hostNodeName is the name of the host node a virtual node stands for,
// and its kubernetes.io/hostname label; ok is false for a name that stands
// for no host node Nest knows of (a tenant's own node, or a node name
// made up).
func (s *Syncer) hostNodeName(virtualName string) (name, hostname string, ok bool) {
	if h := s.hostNodeOf(virtualName); h != nil {
		hostname = h.Labels[labelHostname]
		if hostname == "" {
			hostname = h.Name
		}
		return h.Name, hostname, true
	}
	if s.hostNodes != nil && s.nodeMode() == config.NodeModeReal {
		return "", "", false // the host's nodes are read, and it is none of them
	}
	if s.nodeMode() == config.NodeModeFake {
		if _, known := s.hostNodeNames.Load(virtualName); !known && s.hostPods != nil {
			// After a restart: learn the names from the host copies' nodes.
			if pods, err := s.hostPods.List(labels.Everything()); err == nil {
				for _, p := range pods {
					if p.Spec.NodeName != "" {
						s.virtualNodeName(p.Spec.NodeName)
					}
				}
			}
		}
		if h, known := s.hostNodeNames.Load(virtualName); known {
			return h.(string), h.(string), true
		}
		return "", "", false
	}
	// Real node names without reading the host's nodes: a virtual node of
	// Nest's stands for the host node of its name.
	if n, ok, _ := found(s.virtualNodes.Get(virtualName)); ok && n.Labels[names.LabelManagedBy] == names.ManagedByValue {
		return virtualName, virtualName, true
	}
	return "", "", false
}

// translateNodeNames points a host copy at the host nodes its virtual pod
// names: spec.nodeName becomes a required node affinity on the host node's
// name (the host scheduler places the copy, honouring the rest of its
// spec), and a required or preferred node affinity on metadata.name (a
// daemon set pod's) or, in fake mode, on kubernetes.io/hostname (and a
// node selector on it) names host nodes instead of virtual ones. Names
// that stand for no known host node are left as they are: no host node
// has them, as no virtual node stands for one.
func (s *Syncer) translateNodeNames(nodeName string, spec *corev1.PodSpec) {
	fake := s.nodeMode() == config.NodeModeFake
	translate := func(values []string, hostname bool) []string {
		out := make([]string, len(values))
		for i, v := range values {
			out[i] = v
			if name, label, ok := s.hostNodeName(v); ok {
				out[i] = name
				if hostname {
					out[i] = label
				}
			}
		}
		return out
	}
	translateTerm := func(t *corev1.NodeSelectorTerm) {
		for i := range t.MatchFields {
			if t.MatchFields[i].Key == "metadata.name" {
				t.MatchFields[i].Values = translate(t.MatchFields[i].Values, false)
			}
		}
		for i := range t.MatchExpressions {
			if fake && t.MatchExpressions[i].Key == labelHostname {
				t.MatchExpressions[i].Values = translate(t.MatchExpressions[i].Values, true)
			}
		}
	}
	if fake {
		if v, ok := spec.NodeSelector[labelHostname]; ok {
			spec.NodeSelector[labelHostname] = translate([]string{v}, true)[0]
		}
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil {
		if r := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			for i := range r.NodeSelectorTerms {
				translateTerm(&r.NodeSelectorTerms[i])
			}
		}
		for i := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			translateTerm(&a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i].Preference)
		}
	}
	if nodeName == "" {
		return
	}
	host, _, ok := s.hostNodeName(nodeName)
	if !ok {
		return // bound to a node that is not the host's: the host picks one
	}
	on := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{host}}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	r := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if r == nil || len(r.NodeSelectorTerms) == 0 {
		spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{on}}},
		}
		return
	}
	for i := range r.NodeSelectorTerms { // terms are ORed: each gets it
		r.NodeSelectorTerms[i].MatchFields = append(r.NodeSelectorTerms[i].MatchFields, on)
	}
}

// canReadHostNodes asks the host whether the syncer may list and watch nodes.
func (s *Syncer) canReadHostNodes(ctx context.Context) bool {
	for _, verb := range []string{"list", "watch"} {
		review, err := s.host.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: "nodes"}},
		}, metav1.CreateOptions{})
		if err != nil {
			s.log.Warn("Cannot ask the host whether the syncer may read nodes", "error", err)
			return false
		}
		if !review.Status.Allowed {
			return false
		}
	}
	return true
}

// wantNode is the virtual node of that name, in the cluster's mode: real
// data when the host node is known, generated data otherwise.
func (s *Syncer) wantNode(name string) *corev1.Node {
	host := s.hostNodeOf(name)
	node := fakeNode(name)
	switch {
	case host != nil && s.nodeMode() == config.NodeModeReal:
		node = realNode(host)
	case host != nil:
		// Where pods may go is the host node's: daemon sets and
		// tolerations then decide as the host scheduler will.
		node.Spec.Taints, node.Spec.Unschedulable = host.Spec.Taints, host.Spec.Unschedulable
	}
	s.setKubelet(node)
	recordHostOwned(node)
	return node
}

// fakeNode is a node that tells nothing about the host.
func fakeNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", names.LabelManagedBy: names.ManagedByValue},
			Annotations: map[string]string{annotationNodeMode: string(config.NodeModeFake)},
		},
		Status: corev1.NodeStatus{
			Capacity:    fakeNodeCapacity,
			Allocatable: fakeNodeCapacity,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "HostNode",
				Message: "runs this virtual cluster's pods on the host",
			}},
			NodeInfo: corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "nest"},
		},
	}
}

// realNode is the virtual copy of a host node: its labels, taints,
// capacity, conditions, addresses and node info. Addresses of types the
// virtual apiserver would prefer over the kubelet endpoint's InternalIP
// (Hostname, InternalDNS) are dropped; setKubelet puts the endpoint first.
func realNode(h *corev1.Node) *corev1.Node {
	labels := maps.Clone(h.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[names.LabelManagedBy] = names.ManagedByValue
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: h.Name, Labels: labels,
			Annotations: map[string]string{annotationNodeMode: string(config.NodeModeReal)},
		},
		Spec: corev1.NodeSpec{Taints: h.Spec.Taints, Unschedulable: h.Spec.Unschedulable},
		Status: corev1.NodeStatus{
			Capacity: h.Status.Capacity, Allocatable: h.Status.Allocatable,
			Conditions: h.Status.Conditions, NodeInfo: h.Status.NodeInfo,
		},
	}
	for _, a := range h.Status.Addresses {
		if a.Type != corev1.NodeHostName && a.Type != corev1.NodeInternalDNS {
			n.Status.Addresses = append(n.Status.Addresses, a)
		}
	}
	return n
}

// ensureNode makes sure the virtual cluster has a node of that name, so a
// virtual pod can be bound to where its host copy runs, and that it shows
// what it should.
func (s *Syncer) ensureNode(ctx context.Context, name string) error {
	if node, ok, err := found(s.virtualNodes.Get(name)); ok || err != nil {
		if ok {
			return s.refreshNode(ctx, node)
		}
		return err
	}
	node := s.wantNode(name)
	now := metav1.Now()
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].LastHeartbeatTime.IsZero() {
			node.Status.Conditions[i].LastHeartbeatTime, node.Status.Conditions[i].LastTransitionTime = now, now
		}
	}
	if _, err := s.virtual.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create virtual node %s: %w", name, err)
	}
	return nil
}

// setKubelet points a node at the syncer's kubelet API: its first
// InternalIP and its kubelet port.
func (s *Syncer) setKubelet(node *corev1.Node) {
	if s.kubelet == nil {
		return
	}
	endpoint := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: s.kubelet.address}
	addresses := []corev1.NodeAddress{endpoint}
	for _, a := range node.Status.Addresses {
		if a != endpoint { // the apiserver refuses duplicates
			addresses = append(addresses, a)
		}
	}
	node.Status.Addresses = addresses
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = s.kubelet.port
}

// refreshNode brings one of Nest's virtual nodes to what it should show:
// pointed at this process's kubelet API (an earlier one listened
// elsewhere), and in real mode, the host node's current data, keeping what
// the tenant added (nodemerge.go).
func (s *Syncer) refreshNode(ctx context.Context, node *corev1.Node) error {
	if node.Labels[names.LabelManagedBy] != names.ManagedByValue {
		return nil
	}
	want := s.wantNode(node.Name)
	keepTenantAdditions(node, want)
	if !sameNodeMeta(node, want) {
		updated := node.DeepCopy()
		updated.Labels, updated.Spec.Taints, updated.Spec.Unschedulable = want.Labels, want.Spec.Taints, want.Spec.Unschedulable
		if updated.Annotations == nil {
			updated.Annotations = map[string]string{}
		}
		maps.Copy(updated.Annotations, want.Annotations)
		stored, err := s.virtual.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{})
		if err != nil {
			return s.nodeGone(err, node.Name, "update virtual node")
		}
		node = stored
	}
	updated := node.DeepCopy()
	updated.Status.Capacity, updated.Status.Allocatable = want.Status.Capacity, want.Status.Allocatable
	updated.Status.Addresses, updated.Status.NodeInfo = want.Status.Addresses, want.Status.NodeInfo
	updated.Status.DaemonEndpoints = want.Status.DaemonEndpoints
	updated.Status.Conditions = mergeConditions(node.Status.Conditions, want.Status.Conditions)
	if equality.Semantic.DeepEqual(updated.Status, node.Status) {
		return nil
	}
	_, err := s.virtual.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return s.nodeGone(err, node.Name, "update the status of virtual node")
}

func (s *Syncer) nodeGone(err error, name, what string) error {
	if apierrors.IsNotFound(err) {
		// Deleted since the cache saw it: a pod still needs it.
		return fmt.Errorf("virtual node %s is gone, to be made again", name)
	}
	return ignoreGone(err, what+" "+name)
}

// sameNodeMeta compares what refreshNode keeps equal outside the status.
func sameNodeMeta(node, want *corev1.Node) bool {
	return maps.Equal(node.Labels, want.Labels) && node.Annotations[annotationNodeMode] == want.Annotations[annotationNodeMode] &&
		node.Annotations[annotationHostOwned] == want.Annotations[annotationHostOwned] &&
		equality.Semantic.DeepEqual(node.Spec.Taints, want.Spec.Taints) && node.Spec.Unschedulable == want.Spec.Unschedulable
}

// mergeConditions returns want's conditions, keeping the current ones
// where only their timestamps differ: a host's heartbeats alone do not
// rewrite the virtual node (a fake node's conditions have no timestamps).
func mergeConditions(current, want []corev1.NodeCondition) []corev1.NodeCondition {
	byType := map[corev1.NodeConditionType]corev1.NodeCondition{}
	for _, c := range current {
		byType[c.Type] = c
	}
	out := make([]corev1.NodeCondition, 0, len(want))
	for _, w := range want {
		if c, ok := byType[w.Type]; ok && c.Status == w.Status && c.Reason == w.Reason && c.Message == w.Message {
			out = append(out, c)
			continue
		}
		if w.LastHeartbeatTime.IsZero() {
			now := metav1.Now()
			w.LastHeartbeatTime, w.LastTransitionTime = now, now
		}
		out = append(out, w)
	}
	return out
}

// kindNode is the queue kind of virtual nodes, queued when a pod leaves one.
const kindNode = "nodes"

// syncNode removes a virtual node once no virtual pod is bound to it and
// its host node is not one shown anyway (sync.fromHost.nodes.all), and
// keeps it current while it stays; a shown host node gets its virtual node.
// Nodes a tenant made (without Nest's label) are left alone. A pod bound
// to it meanwhile brings it back through ensureNode on its next sync, long
// before the pod garbage collector would miss the node (40 s).
func (s *Syncer) syncNode(ctx context.Context, name string) error {
	node, ok, err := found(s.virtualNodes.Get(name))
	if err != nil {
		return err
	}
	pods, err := s.virtualPodIndex.ByIndex(indexPodNodeName, name)
	if err != nil {
		return err
	}
	shown := s.shown(name)
	if !ok {
		if len(pods) > 0 || shown {
			// Deleted while a pod was being bound to it (see below): the
			// pod garbage collector deletes pods of missing nodes. Or a
			// shown host node, new or deleted by the tenant.
			return s.ensureNode(ctx, name)
		}
		return nil
	}
	if node.Labels[names.LabelManagedBy] != names.ManagedByValue {
		return nil
	}
	if len(pods) > 0 || shown {
		return s.refreshNode(ctx, node)
	}
	// The pod cache may not show a bind made a moment ago: ask the
	// apiserver before deleting. (A bind after this question brings the
	// node back through the pod's sync or the node's deletion event.)
	live, err := s.virtual.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name, Limit: 1})
	if err != nil {
		return fmt.Errorf("list virtual pods on node %s: %w", name, err)
	}
	if len(live.Items) > 0 {
		return nil // their events bring the node back here
	}
	err = s.virtual.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &node.UID}})
	return ignoreGone(err, "delete unused virtual node "+name)
}
