package config

import (
	"reflect"
	"slices"
	"testing"

	kcmnames "k8s.io/kubernetes/cmd/kube-controller-manager/names"
)

// TestKubeControllerManagerNames pins the translation to the canonical names
// of the embedded kube-controller-manager, so a rename upstream fails here.
func TestKubeControllerManagerNames(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"namespace":                           kcmnames.NamespaceController,
		"serviceaccount":                      kcmnames.ServiceAccountController,
		"serviceaccount-token":                kcmnames.ServiceAccountTokenController,
		"garbage-collector":                   kcmnames.GarbageCollectorController,
		"deployment":                          kcmnames.DeploymentController,
		"replicaset":                          kcmnames.ReplicaSetController,
		"statefulset":                         kcmnames.StatefulSetController,
		"daemonset":                           kcmnames.DaemonSetController,
		"job":                                 kcmnames.JobController,
		"cronjob":                             kcmnames.CronJobController,
		"endpoints":                           kcmnames.EndpointsController,
		"endpointslice":                       kcmnames.EndpointSliceController,
		"endpointslice-mirroring":             kcmnames.EndpointSliceMirroringController,
		"resourcequota":                       kcmnames.ResourceQuotaController,
		"ttl-after-finished":                  kcmnames.TTLAfterFinishedController,
		"pod-garbage-collector":               kcmnames.PodGarbageCollectorController,
		"csrsigning":                          kcmnames.CertificateSigningRequestSigningController,
		"csrapproving":                        kcmnames.CertificateSigningRequestApprovingController,
		"csrcleaner":                          kcmnames.CertificateSigningRequestCleanerController,
		"clusterrole-aggregation":             kcmnames.ClusterRoleAggregationController,
		"root-ca-certificate-publisher":       kcmnames.RootCACertificatePublisherController,
		"horizontal-pod-autoscaler":           kcmnames.HorizontalPodAutoscalerController,
		"disruption":                          kcmnames.DisruptionController,
		"replicationcontroller":               kcmnames.ReplicationControllerController,
		"ephemeral-volume":                    kcmnames.EphemeralVolumeController,
		"pvc-protection":                      kcmnames.PersistentVolumeClaimProtectionController,
		"legacy-serviceaccount-token-cleaner": kcmnames.LegacyServiceAccountTokenCleanerController,
		"validatingadmissionpolicy-status":    kcmnames.ValidatingAdmissionPolicyStatusController,
		"storageversion-garbage-collector":    kcmnames.StorageVersionGarbageCollectorController,
	}
	if got := KnownControllers(); len(got) != len(want) {
		t.Errorf("KnownControllers() has %d names, want %d", len(got), len(want))
	}
	for name, wantKCM := range want {
		if got, ok := KubeControllerManagerName(name); !ok || got != wantKCM {
			t.Errorf("KubeControllerManagerName(%q) = %q, %v; want %q", name, got, ok, wantKCM)
		}
	}
}

func TestControllersResolve(t *testing.T) {
	t.Parallel()
	all := KnownControllers()
	tests := []struct {
		name    string
		enabled []string
		want    []string
	}{
		{name: "wildcard", enabled: []string{"*"}, want: all},
		{name: "wildcard minus one", enabled: []string{"*", "-cronjob"}, want: slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == "cronjob" })},
		{name: "explicit list", enabled: []string{"job", "cronjob"}, want: []string{"cronjob", "job"}},
		{name: "none", enabled: []string{}, want: nil},
		{name: "unknown names ignored", enabled: []string{"job", "node-lifecycle"}, want: []string{"job"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Controllers{Enabled: tt.enabled}
			if got := c.Resolve(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve() = %q, want %q", got, tt.want)
			}
			kcm := c.KubeControllerManagerNames()
			if len(kcm) != len(tt.want) || slices.Contains(kcm, "*") {
				t.Errorf("KubeControllerManagerNames() = %q, want %d explicit names", kcm, len(tt.want))
			}
		})
	}
}
