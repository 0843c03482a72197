package reconciler

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRecentEvents: the newest events first, whichever of an event's
// times is set, bounded in number and in message length.
func TestRecentEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(name string, set func(*corev1.Event)) corev1.Event {
		e := corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.EventTypeNormal, Reason: name,
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0"}}
		set(&e)
		return e
	}
	items := []corev1.Event{
		ev("old", func(e *corev1.Event) { e.LastTimestamp = metav1.NewTime(t0) }),
		ev("series", func(e *corev1.Event) {
			e.Series = &corev1.EventSeries{LastObservedTime: metav1.NewMicroTime(t0.Add(3 * time.Minute))}
		}),
		ev("eventtime", func(e *corev1.Event) { e.EventTime = metav1.NewMicroTime(t0.Add(2 * time.Minute)) }),
		ev("created", func(e *corev1.Event) {
			e.CreationTimestamp = metav1.NewTime(t0.Add(time.Minute))
			e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "n1"}
			e.Type, e.Message = corev1.EventTypeWarning, strings.Repeat("x", 600)
		}),
	}
	tests := []struct {
		name string
		max  int
		want []string
	}{
		{name: "all, newest first", max: 10, want: []string{"series", "eventtime", "created", "old"}},
		{name: "bounded", max: 2, want: []string{"series", "eventtime"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := recentEvents(items, tc.max)
			var reasons []string
			for _, e := range got {
				reasons = append(reasons, e.Reason)
			}
			if strings.Join(reasons, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", reasons, tc.want)
			}
		})
	}
	all := recentEvents(items, 10)
	if c := all[2]; c.Object != "Node n1" || c.Type != corev1.EventTypeWarning || len(c.Message) != maxEventMessage+len("…") {
		t.Fatalf("the node's event: %+v", c)
	}
	if all[3].Object != "Pod default/web-0" || !all[3].LastSeen.Equal(t0) {
		t.Fatalf("the pod's event: %+v", all[3])
	}
}
