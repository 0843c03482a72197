package syncer

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestKeepVirtualConditions(t *testing.T) {
	t.Parallel()
	disruption := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "PreemptionByScheduler"}
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
	stale := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse}
	tests := []struct {
		name          string
		host, virtual []corev1.PodCondition
		want          []corev1.PodCondition
	}{
		{name: "none", host: []corev1.PodCondition{ready}, want: []corev1.PodCondition{ready}},
		{name: "the virtual DisruptionTarget kept", host: []corev1.PodCondition{ready}, virtual: []corev1.PodCondition{stale, disruption}, want: []corev1.PodCondition{ready, disruption}},
		{name: "the host's own wins", host: []corev1.PodCondition{ready, {Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"}}, virtual: []corev1.PodCondition{disruption},
			want: []corev1.PodCondition{ready, {Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"}}},
		{name: "other virtual conditions are the host's", host: nil, virtual: []corev1.PodCondition{stale}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status := corev1.PodStatus{Conditions: slices.Clone(tt.host)}
			keepVirtualConditions(&status, &corev1.Pod{Status: corev1.PodStatus{Conditions: tt.virtual}})
			if !slices.Equal(status.Conditions, tt.want) {
				t.Errorf("conditions %+v, want %+v", status.Conditions, tt.want)
			}
		})
	}
}
