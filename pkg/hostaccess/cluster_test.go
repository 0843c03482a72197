package hostaccess

import (
	"testing"

	"github.com/nestcluster/nest/pkg/config"
)

func TestClusterRules(t *testing.T) {
	t.Parallel()
	on := func() *bool { b := true; return &b }
	tests := []struct {
		name string
		sync config.Sync
		want []string // group/resource:verbs
	}{
		{"defaults: namespace only", config.Sync{}, nil},
		{"priority classes down", config.Sync{ToHost: map[string]config.ToHostSync{"priorityclasses": {Enabled: on()}}},
			[]string{"scheduling.k8s.io/priorityclasses:7"}},
		{"classes up: read only", config.Sync{FromHost: map[string]config.FromHostSync{"storageclasses": {Enabled: on()}, "ingressclasses": {Enabled: on()}}},
			[]string{"storage.k8s.io/storageclasses:3", "networking.k8s.io/ingressclasses:3"}},
		{"storage classes and volumes down", config.Sync{ToHost: map[string]config.ToHostSync{"storageclasses": {Enabled: on()}, "persistentvolumes": {Enabled: on()}}},
			[]string{"storage.k8s.io/storageclasses:7", "/persistentvolumes:7"}},
		{"priority classes up: read only", config.Sync{FromHost: map[string]config.FromHostSync{"priorityclasses": {Enabled: on()}}},
			[]string{"scheduling.k8s.io/priorityclasses:3"}},
		{"namespaced opt-in kinds need nothing more", config.Sync{ToHost: map[string]config.ToHostSync{"serviceaccounts": {Enabled: on()}, "ingresses": {Enabled: on()}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, r := range ClusterRules(tt.sync) {
				got = append(got, r.APIGroups[0]+"/"+r.Resources[0]+":"+string(rune('0'+len(r.Verbs))))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("rules %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("rules %v, want %v", got, tt.want)
				}
			}
		})
	}
}
