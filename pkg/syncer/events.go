package syncer

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nestcluster/nest/pkg/names"
)

// Events that the host records about Nest's copies (the scheduler placing a
// pod, a kubelet pulling an image, a failed mount...) are copied up onto the
// virtual objects, with host names rewritten to virtual ones, so that
// `kubectl describe` in the virtual cluster tells the whole story.

// kindEvent is the queue kind of host events; their keys are host names.
const kindEvent = "events"

// syncEvent copies one host event up, or leaves it when it is not about an
// object of this virtual cluster. Virtual events expire with the virtual
// apiserver's event TTL, like any other.
func (s *Syncer) syncEvent(ctx context.Context, hostName string) error {
	hev, ok, err := found(s.hostEvents.Get(hostName))
	if err != nil || !ok {
		return err
	}
	ref, hostObj, ok := s.virtualOrigin(ctx, hev.InvolvedObject)
	if !ok {
		return nil
	}
	hostObjName := hostObj.GetName()
	vev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: virtualEventName(ref.Name, hev.Name), Namespace: ref.Namespace},
		InvolvedObject:      ref,
		Reason:              hev.Reason,
		Message:             s.virtualMessage(hev.Message, hostObjName, ref),
		Type:                hev.Type,
		Source:              hev.Source,
		FirstTimestamp:      hev.FirstTimestamp,
		LastTimestamp:       hev.LastTimestamp,
		EventTime:           hev.EventTime,
		Count:               hev.Count,
		Action:              hev.Action,
		ReportingController: hev.ReportingController,
		ReportingInstance:   hev.ReportingInstance,
	}
	vev.InvolvedObject.FieldPath = hev.InvolvedObject.FieldPath
	hpod, _ := hostObj.(*corev1.Pod)
	if hpod != nil && hpod.Spec.NodeName == "" && s.hidesHostNodes() {
		// The scheduler records its event once the bind is done, which the
		// pod cache may not show yet: ask, so that the node is hidden.
		if fresh, err := s.host.CoreV1().Pods(s.hostNamespace).Get(ctx, hpod.Name, metav1.GetOptions{}); err == nil && fresh.UID == hpod.UID {
			hpod = fresh
		}
	}
	hideHostNodes(vev, s.hostNodeRenames(hpod, vev.Source.Host))
	events := s.virtual.CoreV1().Events(ref.Namespace)
	_, err = events.Create(ctx, vev, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return ignoreGone(err, "copy host event "+hostName+" up")
	}
	existing, err := events.Get(ctx, vev.Name, metav1.GetOptions{})
	if err != nil {
		return ignoreGone(err, "read virtual event "+vev.Name)
	}
	if existing.Count == vev.Count && existing.LastTimestamp.Equal(&vev.LastTimestamp) && existing.Message == vev.Message {
		return nil
	}
	existing.Count, existing.LastTimestamp, existing.Message = vev.Count, vev.LastTimestamp, vev.Message
	_, err = events.Update(ctx, existing, metav1.UpdateOptions{})
	return ignoreGone(err, "update virtual event "+vev.Name)
}

// virtualOrigin maps the object a host event is about to the virtual object
// Nest copied it from, if it is one of this syncer's copies.
func (s *Syncer) virtualOrigin(ctx context.Context, involved corev1.ObjectReference) (ref corev1.ObjectReference, host metav1.Object, ok bool) {
	if involved.Namespace != s.hostNamespace {
		return ref, nil, false
	}
	switch involved.Kind {
	case "Pod":
		if s.hostPods == nil {
			break
		}
		if p, have, _ := found(s.hostPods.Get(involved.Name)); have {
			host = p
		} else if p, err := s.host.CoreV1().Pods(s.hostNamespace).Get(ctx, involved.Name, metav1.GetOptions{}); err == nil &&
			s.ownsObject(p, p.Annotations[annotationVirtualNS], p.Annotations[names.AnnotationVirtualName]) {
			// The scheduler's event can come before the pod cache shows
			// the pod it was just created for.
			host = p
		}
	case "Service":
		if s.hostServices == nil {
			break
		}
		if svc, have, _ := found(s.hostServices.Get(involved.Name)); have {
			host = svc
		}
	case "PersistentVolumeClaim":
		if s.hostPVCs == nil {
			break
		}
		if pvc, have, _ := found(s.hostPVCs.Get(involved.Name)); have {
			host = pvc
		}
	}
	if host == nil {
		return ref, nil, false
	}
	a := host.GetAnnotations()
	ns, name := a[annotationVirtualNS], a[names.AnnotationVirtualName]
	if ns == "" || name == "" || (involved.UID != "" && involved.UID != host.GetUID()) {
		return ref, nil, false // about an earlier object of that name
	}
	return corev1.ObjectReference{
		Kind: involved.Kind, APIVersion: involved.APIVersion, Namespace: ns, Name: name,
		UID: types.UID(a[names.AnnotationVirtualUID]),
	}, host, true
}

// virtualEventName keeps the host event's unique suffix ("<object>.<hex>").
func virtualEventName(virtualObject, hostEvent string) string {
	suffix := hostEvent
	if i := strings.LastIndex(hostEvent, "."); i >= 0 {
		suffix = hostEvent[i+1:]
	}
	return fmt.Sprintf("%s.%s", virtualObject, suffix)
}

// virtualMessage rewrites host names in an event message to virtual ones.
func (s *Syncer) virtualMessage(msg, hostName string, ref corev1.ObjectReference) string {
	msg = strings.ReplaceAll(msg, s.hostNamespace+"/"+hostName, ref.Namespace+"/"+ref.Name)
	return strings.ReplaceAll(msg, hostName, ref.Name)
}
