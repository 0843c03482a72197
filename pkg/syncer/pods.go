package syncer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/names"
)

// syncPod converges one virtual pod and its host copy.
func (s *Syncer) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	vpod, _, err := found(s.virtualPods.Pods(ns).Get(name))
	if err != nil {
		return err
	}
	hname := s.hostPodName(ns, name)
	hpod, _, err := found(s.hostPods.Get(hname))
	if err != nil {
		return err
	}
	if hpod != nil && !s.ownsObject(hpod, ns, name) {
		return s.refuseForeign(ctx, objectRef(vpod, "Pod"), "pod", hname)
	}

	switch {
	case vpod == nil:
		// The virtual pod is gone: so must its host copy be, and its token.
		if hpod != nil {
			if err := s.deleteHostPod(ctx, hpod, nil); err != nil {
				return err
			}
		}
		return s.deleteToken(ctx, ns, name)
	case vpod.DeletionTimestamp != nil:
		// Being deleted: the host pod goes first; once it is gone the
		// syncer, standing in for the kubelet, finishes the virtual delete.
		if hpod != nil {
			return s.deleteHostPod(ctx, hpod, vpod.DeletionGracePeriodSeconds)
		}
		if err := s.deleteToken(ctx, ns, name); err != nil {
			return err
		}
		zero := int64(0)
		err := s.virtual.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &vpod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("finish deleting virtual pod %s: %w", key, err)
		}
		return nil
	case hpod == nil:
		if _, ok := s.recent.get(recentPod+hname, vpod.UID); ok {
			// Made a moment ago and not in the informer yet (recent.go):
			// its add event brings the pod back.
			s.queue.AddAfter(queueKey(kindPod, key), recentTTL)
			return nil
		}
		ran := vpod.Status.HostIP != "" || vpod.Status.Phase == corev1.PodSucceeded || vpod.Status.Phase == corev1.PodFailed
		if ran && !s.resume.recreates(vpod) {
			// It ran on the host (its status came from there) and its copy
			// was deleted there: a pod is not re-run, it is reported lost,
			// as after a node loss. (Unless a pause removed it: then it is
			// put back.)
			return s.markLost(ctx, vpod)
		}
		if s.waitsForVirtualScheduler(vpod) {
			return nil // its bind brings it back
		}
		if reason := s.isolation.violation(vpod); reason != "" {
			return s.reject(ctx, vpod, reason)
		}
		// What the pod uses goes first, so that it starts with its config.
		for kind, refs := range podRefs(vpod) {
			if !s.enabled(string(kind)) {
				continue
			}
			for ref := range refs {
				if err := s.syncRef(ctx, kind, ns, ref); err != nil {
					return err
				}
			}
		}
		if err := s.syncPodDependencies(ctx, vpod); err != nil {
			return err
		}
		// The pod's token Secret and the pod itself are written at the
		// same time: the token comes from the virtual apiserver, which in
		// a fresh cluster's first seconds (its controllers starting, the
		// tokens of the pods made before it was ready) answers in hundreds
		// of milliseconds, and waiting for it before the pod was the
		// sync benchmark's tail. A host pod starts after the host has
		// scheduled it, and its kubelet mounts the Secret then.
		tokenErr := make(chan error, 1)
		go func() { tokenErr <- s.keepToken(ctx, vpod, key) }()
		err := s.createHostPod(ctx, vpod, key, hname)
		return errors.Join(err, <-tokenErr)
	default:
		s.recent.forget(recentPod + hname)
		if hpod.Annotations[names.AnnotationVirtualUID] != string(vpod.UID) {
			// A host copy of an earlier pod of the same name: replace it.
			return s.deleteHostPod(ctx, hpod, nil)
		}
		if vpod.Status.Phase != corev1.PodSucceeded && vpod.Status.Phase != corev1.PodFailed &&
			needsToken(vpod) && s.tokensAllowed() && !s.tokenFresh(vpod) && !s.tokenWrittenRecently(vpod) {
			// On the host already: its token is the token queue's work.
			s.queueToken(key, 0)
		}
		if want := s.hostLabels(vpod.Labels, ns); !maps.Equal(hpod.Labels, want) {
			// Labels are what host services select on: keep them equal.
			updated := hpod.DeepCopy()
			updated.Labels = want
			if _, err := s.host.CoreV1().Pods(s.hostNamespace).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
				return ignoreGone(err, "update labels of host pod "+hname)
			}
		}
		return s.syncStatus(ctx, vpod, hpod)
	}
}

// createHostPod creates the host copy of a virtual pod that has none.
func (s *Syncer) createHostPod(ctx context.Context, vpod *corev1.Pod, key, hname string) error {
	ns := vpod.Namespace
	if _, tooMany := s.linkedServices(vpod); tooMany {
		msg := fmt.Sprintf("namespace %s has more than %d services: the pod gets only the apiserver's service variables", ns, maxServiceLinks)
		if err := s.warn(ctx, objectRef(vpod, "Pod"), "TooManyServiceLinks", msg); err != nil {
			return err
		}
	}
	_, err := s.host.CoreV1().Pods(s.hostNamespace).Create(ctx, s.translatePod(vpod), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Not in our informer: either ours and not seen yet, or a pod
		// Nest does not own (the informer only sees Nest's).
		existing, gerr := s.host.CoreV1().Pods(s.hostNamespace).Get(ctx, hname, metav1.GetOptions{})
		if gerr == nil && !s.ownsObject(existing, ns, vpod.Name) {
			return s.refuseForeign(ctx, objectRef(vpod, "Pod"), "pod", hname)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("create host pod %s for %s: %w", hname, key, err)
	}
	s.recent.add(recentPod+hname, vpod.UID, time.Time{})
	return nil
}

// keepToken keeps the token Secret of a pod that mounts one fresh, and
// queues its renewal. Before the token gate opens it does nothing: the
// gate queues the pod's token then (see watchTokensReady).
func (s *Syncer) keepToken(ctx context.Context, vpod *corev1.Pod, key string) error {
	if !needsToken(vpod) || !s.tokensAllowed() {
		return nil
	}
	renewIn, err := s.syncToken(ctx, vpod)
	if err != nil || renewIn <= 0 { // none: a foreign Secret has the name (told)
		return err
	}
	s.queueToken(key, renewIn)
	return nil
}

func (s *Syncer) deleteHostPod(ctx context.Context, hpod *corev1.Pod, grace *int64) error {
	err := s.host.CoreV1().Pods(s.hostNamespace).Delete(ctx, hpod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: grace, Preconditions: &metav1.Preconditions{UID: &hpod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete host pod %s: %w", hpod.Name, err)
	}
	return nil
}

// syncStatus binds the virtual pod to the host pod's node and copies the
// host pod's status up.
func (s *Syncer) syncStatus(ctx context.Context, vpod, hpod *corev1.Pod) error {
	if vpod.Spec.NodeName != "" {
		// Its node may have been swept while the bind was on its way.
		if err := s.ensureNode(ctx, vpod.Spec.NodeName); err != nil {
			return err
		}
	}
	if vpod.Spec.NodeName == "" && hpod.Spec.NodeName != "" {
		node := s.virtualNodeName(hpod.Spec.NodeName)
		if err := s.ensureNode(ctx, node); err != nil {
			return err
		}
		err := s.virtual.CoreV1().Pods(vpod.Namespace).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: vpod.Name, Namespace: vpod.Namespace, UID: vpod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: node},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("bind virtual pod %s/%s to %s: %w", vpod.Namespace, vpod.Name, node, err)
		}
		// The bind changes the virtual pod; its event brings us back.
		return nil
	}
	status := virtualPodStatus(vpod, hpod)
	keepVirtualConditions(&status, vpod)
	s.hideHostIP(&status)
	if equality.Semantic.DeepEqual(status, vpod.Status) {
		return nil
	}
	updated := vpod.DeepCopy()
	updated.Status = status
	if _, err := s.virtual.CoreV1().Pods(vpod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of virtual pod %s/%s: %w", vpod.Namespace, vpod.Name, err)
	}
	return nil
}

// virtualPodStatus is the host pod's status as the virtual pod gets it. The
// QoS class stays the virtual one: the virtual apiserver computes it from the
// virtual spec and it is immutable, while the host may differ (a host
// LimitRange, such as the chart's isolation presets add, gives containers
// requests and limits the tenant never wrote).
func virtualPodStatus(vpod, hpod *corev1.Pod) corev1.PodStatus {
	status := *hpod.Status.DeepCopy()
	status.NominatedNodeName = ""
	status.QOSClass = vpod.Status.QOSClass
	return status
}

// markLost fails a virtual pod whose host copy disappeared.
func (s *Syncer) markLost(ctx context.Context, vpod *corev1.Pod) error {
	if vpod.Status.Phase == corev1.PodFailed || vpod.Status.Phase == corev1.PodSucceeded {
		return nil
	}
	updated := vpod.DeepCopy()
	updated.Status.Phase = corev1.PodFailed
	updated.Status.Reason = "HostPodLost"
	updated.Status.Message = "the pod's copy on the host cluster was deleted"
	_, err := s.virtual.CoreV1().Pods(vpod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("mark virtual pod %s/%s lost: %w", vpod.Namespace, vpod.Name, err)
	}
	return nil
}

// reject records why a pod will not be run on the host.
func (s *Syncer) reject(ctx context.Context, vpod *corev1.Pod, reason string) error {
	return s.warn(ctx, objectRef(vpod, "Pod"), "IsolationPolicy", reason)
}

// refuseForeign leaves a host object Nest does not own alone, and tells the
// virtual object that wanted its name.
func (s *Syncer) refuseForeign(ctx context.Context, virtual corev1.ObjectReference, kind, hname string) error {
	s.log.Warn("Host object not managed by Nest has the translated name; left alone", "kind", kind, "virtual", virtual.Namespace+"/"+virtual.Name, "host", hname)
	where := s.hostNamespace + "/" + hname
	if virtual.Namespace == "" { // a cluster-scoped copy
		where = hname
	}
	return s.warn(ctx, virtual, "HostNameTaken", fmt.Sprintf("host %s %s exists and is not managed by Nest; it is left alone", kind, where))
}

// objectRef refers to a core virtual object in events; an empty reference
// when there is none (a nil pointer).
func objectRef[T metav1.Object](obj T, kind string) corev1.ObjectReference {
	return objectRefKind(obj, kind, "v1")
}

// objectRefKind is objectRef for any API version.
func objectRefKind[T metav1.Object](obj T, kind, apiVersion string) corev1.ObjectReference {
	var zero T
	if any(obj) == any(zero) {
		return corev1.ObjectReference{}
	}
	return corev1.ObjectReference{Kind: kind, APIVersion: apiVersion, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID()}
}

// warn records a Warning event on a virtual object, once per reason.
func (s *Syncer) warn(ctx context.Context, obj corev1.ObjectReference, reason, message string) error {
	return s.record(ctx, obj, corev1.EventTypeWarning, reason, message)
}

// record records an event of a type on a virtual object, once per object
// and reason (the event's name is made of them).
func (s *Syncer) record(ctx context.Context, obj corev1.ObjectReference, typ, reason, message string) error {
	if obj.Name == "" {
		return nil
	}
	ns := obj.Namespace
	if ns == "" { // cluster-scoped: recorded in default, as Kubernetes does
		ns = metav1.NamespaceDefault
	}
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: obj.Name + "." + string(obj.UID)[:min(8, len(obj.UID))] + "." + strings.ToLower(reason), Namespace: ns},
		InvolvedObject: obj,
		Reason:         reason, Message: message, Type: typ,
		Source:         corev1.EventSource{Component: "nest-syncer"},
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1,
	}
	_, err := s.virtual.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("record event on %s %s/%s: %w", obj.Kind, obj.Namespace, obj.Name, err)
	}
	return nil
}

// syncPodDependencies makes the host objects a host pod names before the
// host's admission sees it: the copy of its priority class and of its
// service account, when those kinds are synced.
func (s *Syncer) syncPodDependencies(ctx context.Context, vpod *corev1.Pod) error {
	if name := vpod.Spec.PriorityClassName; name != "" && s.enabled(kindPriorityClass) && !isSystemPriorityClass(name) {
		if err := s.syncPriorityClass(ctx, name); err != nil {
			return err
		}
	}
	if s.enabled(kindServiceAccount) {
		return s.syncServiceAccount(ctx, vpod.Namespace, podServiceAccount(vpod))
	}
	return nil
}
