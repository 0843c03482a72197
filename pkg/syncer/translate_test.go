package syncer

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/names"
)

func TestTranslatePod(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev"}
	v := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName:           "virtual-node",
			ServiceAccountName: "builder",
			PriorityClassName:  "high",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}},
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nest-syncer"}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "db"}}},
				{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
				}}}},
			},
			Containers: []corev1.Container{{
				Name: "app", Image: "shop/web:1",
				Env:     []corev1.EnvVar{{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db-pw"}, Key: "pw"}}}},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env"}}}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "cfg", MountPath: "/cfg"},
					{Name: "kube-api-access-abcde", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"},
				},
			}},
		},
	}
	h := s.translatePod(v)
	host := func(n string) string { return names.HostNameWithLimit(subdomainLimit, "dev", "shop", n) }
	tests := []struct {
		name      string
		got, want any
	}{
		{"name", h.Name, "web-x-shop-x-dev"},
		{"namespace", h.Namespace, "nest-dev"},
		{"managed-by label", h.Labels[names.LabelManagedBy], "nest"},
		{"virtual uid", h.Annotations[names.AnnotationVirtualUID], "uid-1"},
		{"virtual namespace", h.Annotations[annotationVirtualNS], "shop"},
		{"node left to the host scheduler", h.Spec.NodeName, ""},
		{"the workload service account of the host", h.Spec.ServiceAccountName, WorkloadServiceAccount},
		{"no token automount", *h.Spec.AutomountServiceAccountToken, false},
		{"no virtual priority class", h.Spec.PriorityClassName, ""},
		{"pull secret translated", h.Spec.ImagePullSecrets[0].Name, host("regcred")},
		{"configmap volume translated", h.Spec.Volumes[0].ConfigMap.Name, host("settings")},
		// A tenant naming a host object (here the syncer's own token) gets
		// the translated name, which Nest alone makes.
		{"secret volume translated", h.Spec.Volumes[1].Secret.SecretName, host("nest-syncer")},
		{"claim translated", h.Spec.Volumes[2].PersistentVolumeClaim.ClaimName, host("db")},
		{"service account volume kept under its name", h.Spec.Volumes[3].Name, "kube-api-access-abcde"},
		{"service account volume from the token secret", h.Spec.Volumes[3].Secret.SecretName, s.tokenSecretName("shop", "web")},
		{"token secret name hashed (no tenant secret can have it)", strings.HasPrefix(s.tokenSecretName("shop", "web"), "web-token-x-shop-x-dev-"), true},
		{"its mount kept", h.Spec.Containers[0].VolumeMounts[1].MountPath, "/var/run/secrets/kubernetes.io/serviceaccount"},
		{"host service links off", *h.Spec.EnableServiceLinks, false},
		{"no apiserver address, no DNS server: DNS policy untouched", h.Spec.DNSPolicy, corev1.DNSPolicy("")},
		{"secret env translated", h.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name, host("db-pw")},
		{"configmap envFrom translated", h.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name, host("env")},
		{"virtual pod untouched", v.Spec.Volumes[1].Secret.SecretName, "nest-syncer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestIsolationPolicy(t *testing.T) {
	t.Parallel()
	yes := true
	container := func(sc *corev1.SecurityContext) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{{Name: "a", SecurityContext: sc}}}
	}
	restrictedSpec := corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{Name: "a", SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(bool), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}}},
	}
	tests := []struct {
		name   string
		spec   corev1.PodSpec
		policy config.Isolation
		want   string // "" means allowed
	}{
		{name: "plain pod", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}},
		{name: "host network", spec: corev1.PodSpec{HostNetwork: true}, want: "hostNetwork=true"},
		{name: "host PID", spec: corev1.PodSpec{HostPID: true}, want: "hostPID=true"},
		{name: "host network allowed", spec: corev1.PodSpec{HostNetwork: true}, policy: config.Isolation{AllowHostNetwork: true}},
		{name: "host port allowed", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}}}}, policy: config.Isolation{AllowHostPorts: true}},
		{name: "host path", spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}}, want: `hostPath volumes (volume "root")`},
		{name: "host path allowed", spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}}, policy: config.Isolation{AllowHostPath: true}},
		{name: "privileged init container", spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}, want: `privileged (container "i"`},
		{name: "privileged ephemeral container", spec: corev1.PodSpec{EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}, want: `container "debug"`},
		{name: "privileged allowed", spec: container(&corev1.SecurityContext{Privileged: &yes}), policy: config.Isolation{AllowPrivileged: true}},
		{name: "added capability", spec: container(&corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}), want: "SYS_ADMIN"},
		{name: "host port", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}}}}, want: "hostPort"},
		{name: "unmasked proc", spec: container(&corev1.SecurityContext{ProcMount: ptrTo(corev1.UnmaskedProcMount)}), want: "procMount"},
		{name: "unsafe sysctl", spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"}}}}, want: "kernel.msgmax"},
		{name: "everything at privileged", spec: container(&corev1.SecurityContext{Privileged: &yes}), policy: config.Isolation{PodSecurity: config.PodSecurityPrivileged}},
		{name: "root at restricted", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}, policy: config.Isolation{PodSecurity: config.PodSecurityRestricted}, want: "runAsNonRoot"},
		{name: "hardened pod at restricted", spec: restrictedSpec, policy: config.Isolation{PodSecurity: config.PodSecurityRestricted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			policy, err := newIsolationPolicy(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			got := policy.violation(&corev1.Pod{Spec: tt.spec})
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("violation = %q, want one with %q", got, tt.want)
			}
		})
	}
}

func TestPodRefs(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}},
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-vol"}}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s-proj"}}},
			}}}},
		},
		InitContainers: []corev1.Container{{EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s-envfrom"}}}}}},
		Containers:     []corev1.Container{{Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-env"}}}}}}},
	}}
	refs := podRefs(pod)
	tests := []struct {
		kind refKind
		name string
	}{
		{refSecret, "pull"}, {refConfigMap, "cm-vol"}, {refSecret, "s-proj"}, {refSecret, "s-envfrom"}, {refConfigMap, "cm-env"},
	}
	for _, tt := range tests {
		if !refs[tt.kind][tt.name] {
			t.Errorf("podRefs lacks %s %s: %v", tt.kind, tt.name, refs)
		}
	}
	if n := len(refs[refConfigMap]) + len(refs[refSecret]); n != len(tests) {
		t.Errorf("podRefs found %d references, want %d: %v", n, len(tests), refs)
	}
}
