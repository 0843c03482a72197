package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestVirtualPodStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		virtualQOS  corev1.PodQOSClass
		hostQOS     corev1.PodQOSClass
		wantQOS     corev1.PodQOSClass
		nominated   string
		wantPhase   corev1.PodPhase
		wantPodIP   string
		hostPhase   corev1.PodPhase
		hostPodIP   string
		wantNominee string
	}{
		{name: "host LimitRange made it burstable", virtualQOS: corev1.PodQOSBestEffort, hostQOS: corev1.PodQOSBurstable, wantQOS: corev1.PodQOSBestEffort,
			hostPhase: corev1.PodRunning, wantPhase: corev1.PodRunning, hostPodIP: "10.0.0.9", wantPodIP: "10.0.0.9"},
		{name: "same class", virtualQOS: corev1.PodQOSGuaranteed, hostQOS: corev1.PodQOSGuaranteed, wantQOS: corev1.PodQOSGuaranteed,
			hostPhase: corev1.PodPending, wantPhase: corev1.PodPending},
		{name: "host nomination dropped", virtualQOS: corev1.PodQOSBurstable, hostQOS: corev1.PodQOSBurstable, wantQOS: corev1.PodQOSBurstable,
			nominated: "host-node-1", hostPhase: corev1.PodPending, wantPhase: corev1.PodPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vpod := &corev1.Pod{Status: corev1.PodStatus{QOSClass: tt.virtualQOS}}
			hpod := &corev1.Pod{Status: corev1.PodStatus{QOSClass: tt.hostQOS, Phase: tt.hostPhase, PodIP: tt.hostPodIP, NominatedNodeName: tt.nominated}}
			got := virtualPodStatus(vpod, hpod)
			if got.QOSClass != tt.wantQOS || got.Phase != tt.wantPhase || got.PodIP != tt.wantPodIP || got.NominatedNodeName != tt.wantNominee {
				t.Errorf("status = qos %s phase %s ip %q nominated %q, want qos %s phase %s ip %q nominated %q",
					got.QOSClass, got.Phase, got.PodIP, got.NominatedNodeName, tt.wantQOS, tt.wantPhase, tt.wantPodIP, tt.wantNominee)
			}
			if hpod.Status.QOSClass != tt.hostQOS {
				t.Errorf("the host pod's status was changed")
			}
		})
	}
}
