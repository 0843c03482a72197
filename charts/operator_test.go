package charts

import (
	"cmp"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"

	"github.com/nestcluster/nest/pkg/hostaccess"
)

func renderOperator(t *testing.T, values map[string]any) *Rendered {
	t.Helper()
	c, err := Load(NestOperatorChart)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(c, Release{Name: "ops", Namespace: "nest-system", Values: values})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRenderNestOperatorChart: the objects, the operator's args, and its
// pod's security settings, for a few value sets.
func TestRenderNestOperatorChart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		values   map[string]any
		want     []string
		wantArgs []string
		// wantClaim is the records' claim: its storage class, size, and
		// whether it is kept on uninstall; nil: an emptyDir.
		wantClaim *wantClaim
	}{
		{
			name: "defaults",
			want: []string{"ClusterRole/ops-nest-operator", "ClusterRoleBinding/ops-nest-operator", "ConfigMap/ops-nest-operator",
				"CustomResourceDefinition/virtualclusters.nest.dev", "Deployment/ops-nest-operator", "PersistentVolumeClaim/ops-nest-operator-state",
				"Role/ops-nest-operator", "RoleBinding/ops-nest-operator", "ServiceAccount/ops-nest-operator"},
			wantArgs:  []string{"operator", "--kubeconfig=/etc/nest-operator/host.kubeconfig", "--install-crd=false", "--leader-election-namespace=$(POD_NAMESPACE)", "--state-dir=/var/lib/nest-operator"},
			wantClaim: &wantClaim{size: "1Gi", keep: true},
		},
		{
			name:   "records on a claim of a class, not kept",
			values: map[string]any{"persistence": map[string]any{"storageClass": "fast", "size": "64Mi", "keep": false, "accessModes": []any{"ReadWriteOncePod"}}},
			want: []string{"ClusterRole/ops-nest-operator", "ClusterRoleBinding/ops-nest-operator", "ConfigMap/ops-nest-operator",
				"CustomResourceDefinition/virtualclusters.nest.dev", "Deployment/ops-nest-operator", "PersistentVolumeClaim/ops-nest-operator-state",
				"Role/ops-nest-operator", "RoleBinding/ops-nest-operator", "ServiceAccount/ops-nest-operator"},
			wantClaim: &wantClaim{class: "fast", size: "64Mi", mode: corev1.ReadWriteOncePod},
		},
		{
			name: "one namespace, no CRD, chart values, no persistence",
			values: map[string]any{"watchNamespace": "team-a", "crds": map[string]any{"install": false}, "chartValues": map[string]any{"persistence": map[string]any{"enabled": false}},
				"persistence": map[string]any{"enabled": false}},
			want: []string{"ClusterRole/ops-nest-operator", "ClusterRoleBinding/ops-nest-operator", "ConfigMap/ops-nest-operator",
				"Deployment/ops-nest-operator", "Role/ops-nest-operator", "RoleBinding/ops-nest-operator", "ServiceAccount/ops-nest-operator"},
			wantArgs: []string{"--namespace=team-a", "--chart-values=/etc/nest-operator/chart-values.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := renderOperator(t, tt.values)
			slices.Sort(tt.want)
			if got := kindsAndNames(r); !slices.Equal(got, tt.want) {
				t.Fatalf("objects:\n got  %v\n want %v", got, tt.want)
			}
			var dep appsv1.Deployment
			find(t, r, "Deployment", "ops-nest-operator", &dep)
			args := dep.Spec.Template.Spec.Containers[0].Args
			for _, want := range tt.wantArgs {
				if !slices.Contains(args, want) {
					t.Errorf("args %v lack %s", args, want)
				}
			}
			if sc := dep.Spec.Template.Spec.Containers[0].SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("container security context %+v, want a read-only root filesystem", sc)
			}
			// Two pods never share the records: the old one is gone before
			// the new one starts.
			if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				t.Errorf("strategy %q, want Recreate", dep.Spec.Strategy.Type)
			}
			checkStateVolume(t, r, &dep, tt.wantClaim)
		})
	}
}

type wantClaim struct {
	class, size string
	mode        corev1.PersistentVolumeAccessMode
	keep        bool
}

// checkStateVolume: the state directory (--state-dir) is on the release's
// claim as want says, writable by the pod's group, or an emptyDir.
func checkStateVolume(t *testing.T, r *Rendered, dep *appsv1.Deployment, want *wantClaim) {
	t.Helper()
	pod := dep.Spec.Template.Spec
	if !slices.ContainsFunc(pod.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == "state" && m.MountPath == "/var/lib/nest-operator" && !m.ReadOnly
	}) {
		t.Errorf("mounts %+v, want state at /var/lib/nest-operator", pod.Containers[0].VolumeMounts)
	}
	i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "state" })
	if i < 0 {
		t.Fatal("no state volume")
	}
	v := pod.Volumes[i]
	if want == nil {
		if v.EmptyDir == nil {
			t.Errorf("state volume %+v, want an emptyDir", v.VolumeSource)
		}
		return
	}
	if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "ops-nest-operator-state" {
		t.Fatalf("state volume %+v, want the claim ops-nest-operator-state", v.VolumeSource)
	}
	if sc := pod.SecurityContext; sc == nil || sc.FSGroup == nil || *sc.FSGroup != 65532 {
		t.Errorf("pod security context %+v, want fsGroup 65532 (the claim writable by the non-root user)", sc)
	}
	var pvc corev1.PersistentVolumeClaim
	find(t, r, "PersistentVolumeClaim", "ops-nest-operator-state", &pvc)
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != want.size {
		t.Errorf("claim size %s, want %s", got.String(), want.size)
	}
	if got := ptr.Deref(pvc.Spec.StorageClassName, ""); got != want.class {
		t.Errorf("claim storage class %q, want %q", got, want.class)
	}
	if mode := cmp.Or(want.mode, corev1.ReadWriteOnce); !slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{mode}) {
		t.Errorf("claim access modes %v, want %s", pvc.Spec.AccessModes, mode)
	}
	if kept := pvc.Annotations["helm.sh/resource-policy"] == "keep"; kept != want.keep {
		t.Errorf("claim kept on uninstall: %v, want %v", kept, want.keep)
	}
}

// TestNestOperatorValuesSchemaRejects: bad values name the value.
func TestNestOperatorValuesSchemaRejects(t *testing.T) {
	t.Parallel()
	c, err := Load(NestOperatorChart)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"unknown key", map[string]any{"replicas": 2}, "replicas"},
		{"workers", map[string]any{"workers": 0}, "/workers"},
		{"namespace", map[string]any{"watchNamespace": "Team_A"}, "/watchNamespace"},
		{"pull policy", map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, "/image/pullPolicy"},
		{"crds as string", map[string]any{"crds": map[string]any{"install": "yes"}}, "/crds/install"},
		{"persistence unknown key", map[string]any{"persistence": map[string]any{"existing": "x"}}, "persistence"},
		{"persistence enabled as string", map[string]any{"persistence": map[string]any{"enabled": "true"}}, "/persistence/enabled"},
		{"persistence size", map[string]any{"persistence": map[string]any{"size": "lots"}}, "/persistence/size"},
		{"persistence access mode", map[string]any{"persistence": map[string]any{"accessModes": []any{"ReadOnlyMany"}}}, "/persistence/accessModes/0"},
		{"persistence no access mode", map[string]any{"persistence": map[string]any{"accessModes": []any{}}}, "/persistence/accessModes"},
		{"cluster grant of no setting", map[string]any{"clusterGrants": []any{"fromHost.secrets"}}, "/clusterGrants/0"},
		{"cluster grants as a string", map[string]any{"clusterGrants": "fromHost.nodes"}, "/clusterGrants"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Render(c, Release{Name: "ops", Namespace: "nest-system", Values: tt.values})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("values %v: %v, want an error naming %s", tt.values, err, tt.want)
			}
		})
	}
}

// TestOperatorRulesCoverTheNestChart: the operator installs the nest chart,
// whose Role grants pkg/hostaccess.Rules; RBAC lets only a holder of those
// rights grant them, so the operator's ClusterRole must cover every one.
// Its CRD file is the shipped one.
func TestOperatorRulesCoverTheNestChart(t *testing.T) {
	t.Parallel()
	r := renderOperator(t, nil)
	var role rbacv1.ClusterRole
	find(t, r, "ClusterRole", "ops-nest-operator", &role)
	for _, want := range hostaccess.Rules() {
		for _, g := range want.APIGroups {
			for _, res := range want.Resources {
				for _, v := range want.Verbs {
					if !covers(role.Rules, g, res, v) {
						t.Errorf("the operator's ClusterRole does not grant %s %s.%s", v, res, g)
					}
				}
			}
		}
	}
	crd, err := files.ReadFile("nest-operator/files/crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile("../api/crds/virtualclusters.nest.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(crd) != string(shipped) {
		t.Error("nest-operator/files/crd.yaml differs from api/crds/virtualclusters.nest.dev.yaml: copy it")
	}
}

func covers(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if (slices.Contains(r.APIGroups, group) || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*")) &&
			(slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) {
			return true
		}
	}
	return false
}

// TestOperatorClusterGrants: clusterGrants (off by default) gives the
// operator exactly the rules of the listed sync settings, which the nest
// chart's ClusterRole grants for them (RBAC lets only a holder grant), and
// the management of ClusterRoles and their bindings; nothing else.
func TestOperatorClusterGrants(t *testing.T) {
	t.Parallel()
	copied, err := files.ReadFile(NestOperatorChart + "/" + SyncerClusterRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := SyncerClusterRules(); string(copied) != string(want) {
		t.Errorf("%s/%s is not the generated rules: go generate ./charts", NestOperatorChart, SyncerClusterRulesFile)
	}
	bySetting := hostaccess.ClusterRulesBySetting()
	all := slices.Sorted(maps.Keys(bySetting))
	tests := []struct {
		name     string
		settings []string
	}{
		{"off", nil},
		{"every host node shown", []string{"fromHost.nodes"}},
		{"storage", []string{"toHost.persistentvolumes", "toHost.storageclasses", "fromHost.storageclasses"}},
		{"every setting", all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			values := map[string]any{}
			if tt.settings != nil {
				var list []any // as values files decode
				for _, s := range tt.settings {
					list = append(list, s)
				}
				values["clusterGrants"] = list
			}
			r := renderOperator(t, values)
			var role rbacv1.ClusterRole
			if tt.settings == nil {
				for _, o := range r.Objects {
					if strings.HasSuffix(o.GetName(), "-cluster-grants") {
						t.Errorf("clusterGrants off, but %s %s is rendered", o.GetKind(), o.GetName())
					}
				}
				return
			}
			find(t, r, "ClusterRole", "ops-nest-operator-cluster-grants", &role)
			var binding rbacv1.ClusterRoleBinding
			find(t, r, "ClusterRoleBinding", "ops-nest-operator-cluster-grants", &binding)
			if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != "ops-nest-operator" || binding.Subjects[0].Namespace != "nest-system" {
				t.Errorf("binding %v → %v", binding.Subjects, binding.RoleRef)
			}
			want := []rbacv1.PolicyRule{{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles", "clusterrolebindings"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}
			for _, s := range all { // the template's order
				if slices.Contains(tt.settings, s) {
					want = append(want, bySetting[s]...)
				}
			}
			if !equality.Semantic.DeepEqual(role.Rules, want) {
				t.Errorf("rules\n%v\nwant\n%v", role.Rules, want)
			}
		})
	}
}
