package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/config"
)

func syncerWith(toHost ...string) *Syncer {
	rules := config.Sync{ToHost: map[string]config.ToHostSync{}}
	for _, k := range toHost {
		rules.ToHost[k] = config.ToHostSync{Enabled: ptrTo(true)}
	}
	return &Syncer{vc: "dev", hostNamespace: "nest-dev", rules: rules}
}

func TestTranslatePriority(t *testing.T) {
	t.Parallel()
	pod := func(class string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Spec: corev1.PodSpec{PriorityClassName: class, Priority: ptrTo(int32(1000)), PreemptionPolicy: ptrTo(corev1.PreemptNever)}}
	}
	tests := []struct {
		name   string
		s      *Syncer
		class  string
		wantPC string
	}{
		{"classes not synced: the host's default", syncerWith(), "gold", ""},
		{"synced: the host copy of the class", syncerWith(kindPriorityClass), "gold", "gold-x-dev"},
		{"a system class stays the virtual cluster's", syncerWith(kindPriorityClass), "system-cluster-critical", ""},
		{"no class", syncerWith(kindPriorityClass), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := pod(tt.class)
			spec := v.Spec.DeepCopy()
			tt.s.translatePriority(v, spec)
			if spec.PriorityClassName != tt.wantPC || spec.Priority != nil || spec.PreemptionPolicy != nil {
				t.Fatalf("class %q priority %v preemption %v; want class %q and the rest left to the host's admission",
					spec.PriorityClassName, spec.Priority, spec.PreemptionPolicy, tt.wantPC)
			}
		})
	}
}

func TestTranslatePriorityClass(t *testing.T) {
	t.Parallel()
	s := syncerWith(kindPriorityClass)
	never := corev1.PreemptNever
	v := &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: "gold", UID: "u1", Labels: map[string]string{"tier": "1", "nest.dev/managed-by": "me"}},
		Value:      1000, GlobalDefault: true, Description: "for the shop", PreemptionPolicy: &never,
	}
	h := s.translatePriorityClass(v, s.hostPriorityClassName("gold"))
	tests := []struct {
		name      string
		got, want any
	}{
		{"name", h.Name, "gold-x-dev"},
		{"cluster-scoped", h.Namespace, ""},
		{"value", h.Value, int32(1000)},
		{"never the host's global default", h.GlobalDefault, false},
		{"description", h.Description, "for the shop"},
		{"preemption policy", *h.PreemptionPolicy, corev1.PreemptNever},
		{"tenant labels kept", h.Labels["tier"], "1"},
		{"ownership", h.Labels["nest.dev/managed-by"] + "/" + h.Labels["nest.dev/virtual-cluster"], "nest/dev"},
		{"no virtual namespace", h.Labels["nest.dev/virtual-namespace"] + h.Annotations["nest.dev/virtual-namespace"], ""},
		{"origin", h.Annotations["nest.dev/virtual-name"] + "/" + h.Annotations["nest.dev/virtual-uid"], "gold/u1"},
		{"owned by this syncer", s.ownsObject(h, "", "gold"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !equality.Semantic.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestServiceAccounts(t *testing.T) {
	t.Parallel()
	on, off := syncerWith(kindServiceAccount), syncerWith()
	v := &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "builder", UID: "u2",
			Annotations: map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r", "nest.dev/virtual-name": "forged"}},
		Secrets:          []corev1.ObjectReference{{Name: "builder-token"}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
	}
	h := on.translateServiceAccount(v, on.hostObjectName("shop", "builder"))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
	tests := []struct {
		name      string
		got, want any
	}{
		{"name", h.Name, "builder-x-shop-x-dev"},
		{"tenant annotations kept", h.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::1:role/r"},
		{"nest.dev annotations are Nest's", h.Annotations["nest.dev/virtual-name"], "builder"},
		{"token never mounted", *h.AutomountServiceAccountToken, false},
		{"no secrets", len(h.Secrets) + len(h.ImagePullSecrets), 0},
		{"pods run as the copy of their account", on.hostServiceAccount(pod), "default-x-shop-x-dev"},
		{"not synced: pods run as nest-workload", off.hostServiceAccount(pod), WorkloadServiceAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !equality.Semantic.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestStorageClassCopy(t *testing.T) {
	t.Parallel()
	expand := true
	h := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: "fast", UID: "host-uid", ResourceVersion: "7",
			Labels:      map[string]string{"tier": "ssd"},
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "csi.example.com", Parameters: map[string]string{"type": "io2"}, AllowVolumeExpansion: &expand,
	}
	v := storageClassCopy(h)
	tests := []struct {
		name      string
		got, want any
	}{
		{"same name", v.Name, "fast"},
		{"marked as the host's", v.Labels["nest.dev/managed-by"], "nest"},
		{"host labels kept", v.Labels["tier"], "ssd"},
		{"default-class annotation kept", v.Annotations["storageclass.kubernetes.io/is-default-class"], "true"},
		{"provisioner", v.Provisioner, "csi.example.com"},
		{"parameters", v.Parameters["type"], "io2"},
		{"expansion", *v.AllowVolumeExpansion, true},
		{"no host identity", string(v.UID) + v.ResourceVersion, ""},
		{"host object untouched", len(h.Labels), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !equality.Semantic.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}
