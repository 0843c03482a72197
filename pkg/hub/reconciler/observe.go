package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/names"
)

// observeTimeout bounds one reading of a virtual cluster's objects and
// events: a slow cluster must not hold a reconcile worker.
const observeTimeout = 20 * time.Second

// maxEventMessage bounds the text kept of one event.
const maxEventMessage = 512

// syncedKinds are the kinds the syncer copies to the host that are worth
// counting, each with how to count it in a namespace ("" is all).
var syncedKinds = []struct {
	kind  string
	count func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (int, error)
}{
	{"Pod", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (int, error) {
		l, err := c.CoreV1().Pods(ns).List(ctx, o)
		return lenOf(l, err, func() int { return len(l.Items) })
	}},
	{"Service", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (int, error) {
		l, err := c.CoreV1().Services(ns).List(ctx, o)
		return lenOf(l, err, func() int { return len(l.Items) })
	}},
	{"ConfigMap", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (int, error) {
		l, err := c.CoreV1().ConfigMaps(ns).List(ctx, o)
		return lenOf(l, err, func() int { return len(l.Items) })
	}},
	{"Secret", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (int, error) {
		l, err := c.CoreV1().Secrets(ns).List(ctx, o)
		return lenOf(l, err, func() int { return len(l.Items) })
	}},
	{"PersistentVolumeClaim", func(ctx context.Context, c kubernetes.Interface, ns string, o metav1.ListOptions) (int, error) {
		l, err := c.CoreV1().PersistentVolumeClaims(ns).List(ctx, o)
		return lenOf(l, err, func() int { return len(l.Items) })
	}},
}

func lenOf[T any](l *T, err error, n func() int) (int, error) {
	if err != nil || l == nil {
		return 0, err
	}
	return n(), nil
}

// observation is what the reconciler read of a running virtual cluster.
type observation struct {
	objects []store.ObjectCount
	events  []store.ClusterEvent
}

// observeInto records in a Ready virtual cluster's status its object
// counts and recent events, at most every ObserveInterval; it writes only
// when they changed (then ObservedAt says when). Failing to read them is logged, never fatal: the
// cluster stays Ready, and the next resync reads again.
func (r *Reconciler) observeInto(ctx context.Context, id, name, hostKubeconfig, hostNamespace string, log *slog.Logger) {
	r.observedMu.Lock()
	if r.observed == nil {
		r.observed = map[string]time.Time{}
	}
	if last, ok := r.observed[id]; ok && time.Since(last) < r.cfg.ObserveInterval {
		r.observedMu.Unlock()
		return
	}
	r.observed[id] = time.Now()
	r.observedMu.Unlock()
	kubeconfig, err := r.provider.KubeconfigBytes(ctx, name)
	if err == nil {
		var o *observation
		if o, err = observe(ctx, kubeconfig, hostKubeconfig, hostNamespace); err == nil {
			err = r.setStatus(ctx, id, func(s *store.VirtualClusterStatus) {
				if reflect.DeepEqual(s.Objects, o.objects) && reflect.DeepEqual(s.Events, o.events) {
					return
				}
				s.Objects, s.Events, s.ObservedAt = o.objects, o.events, time.Now().UTC().Truncate(time.Microsecond)
			})
		}
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("Could not read the virtual cluster's objects and events", "err", err)
	}
}

// observe reads, through the virtual cluster's kubeconfig, the counts of
// the kinds the syncer copies and its most recent events, and, through the
// host's, the synced copies in its host namespace (those the syncer
// labelled with their virtual namespace). It only reads.
func observe(ctx context.Context, virtualKubeconfig []byte, hostKubeconfig, hostNamespace string) (*observation, error) {
	ctx, cancel := context.WithTimeout(ctx, observeTimeout)
	defer cancel()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(virtualKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("virtual cluster kubeconfig: %w", err)
	}
	virtual, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("virtual cluster client: %w", err)
	}
	host, err := kube.Clientset(hostKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("host cluster client: %w", err)
	}
	o := &observation{}
	synced := metav1.ListOptions{LabelSelector: names.LabelVirtualNamespace}
	for _, k := range syncedKinds {
		v, err := k.count(ctx, virtual, "", metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("count %ss in the virtual cluster: %w", k.kind, err)
		}
		h, err := k.count(ctx, host, hostNamespace, synced)
		if err != nil {
			return nil, fmt.Errorf("count synced %ss in host namespace %s: %w", k.kind, hostNamespace, err)
		}
		o.objects = append(o.objects, store.ObjectCount{Kind: k.kind, Virtual: v, Host: h})
	}
	events, err := virtual.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list the virtual cluster's events: %w", err)
	}
	o.events = recentEvents(events.Items, store.MaxClusterEvents)
	return o, nil
}

// recentEvents returns the newest max events, newest first.
func recentEvents(items []corev1.Event, max int) []store.ClusterEvent {
	out := make([]store.ClusterEvent, 0, len(items))
	for i := range items {
		e := &items[i]
		obj := e.InvolvedObject.Kind + " "
		if e.InvolvedObject.Namespace != "" {
			obj += e.InvolvedObject.Namespace + "/"
		}
		obj += e.InvolvedObject.Name
		msg := e.Message
		if len(msg) > maxEventMessage {
			msg = msg[:maxEventMessage] + "…"
		}
		out = append(out, store.ClusterEvent{Type: e.Type, Reason: e.Reason, Object: obj, Message: msg, Count: e.Count,
			LastSeen: eventTime(e).UTC().Truncate(time.Second)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	if len(out) > max {
		out = out[:max]
	}
	return out
}

// eventTime is when an event last happened, whichever of its times is set.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
