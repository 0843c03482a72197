package charts

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hostaccess"
)

const testNS = "tenant-a"

func render(t *testing.T, values map[string]any) *Rendered {
	t.Helper()
	c, err := Load(NestChart)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(c, Release{Name: "dev", Namespace: testNS, Values: values})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// find returns the object of kind and name, converted to out.
func find(t *testing.T, r *Rendered, kind, name string, out any) bool {
	t.Helper()
	for _, o := range r.Objects {
		if o.GetKind() == kind && o.GetName() == name {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out); err != nil {
				t.Fatalf("%s %s: %v", kind, name, err)
			}
			return true
		}
	}
	return false
}

func kindsAndNames(r *Rendered) []string {
	var out []string
	for _, o := range r.Objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	slices.Sort(out)
	return out
}

func TestSyncerRulesFileIsGenerated(t *testing.T) {
	t.Parallel()
	want, err := SyncerRules()
	if err != nil {
		t.Fatal(err)
	}
	got, err := files.ReadFile(NestChart + "/" + SyncerRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from pkg/hostaccess.Rules: run `go generate ./charts`", SyncerRulesFile)
	}
}

func TestSyncerClusterRulesFileIsGenerated(t *testing.T) {
	t.Parallel()
	want, err := SyncerClusterRules()
	if err != nil {
		t.Fatal(err)
	}
	got, err := files.ReadFile(NestChart + "/" + SyncerClusterRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from pkg/hostaccess.ClusterRulesBySetting: run `go generate ./charts`", SyncerClusterRulesFile)
	}
}

// TestRenderClusterRules: the chart grants cluster-scoped rules only when
// its config turns on a kind that needs them or reads the host's nodes,
// exactly pkg/hostaccess.ChartClusterRules of that config.
func TestRenderClusterRules(t *testing.T) {
	t.Parallel()
	enabled := map[string]any{"enabled": true}
	tests := []struct {
		name string
		sync map[string]any
	}{ // a name with "node reads" must grant reading the host's nodes
		{"defaults: none", nil},
		{"namespaced opt-in kinds: none", map[string]any{"toHost": map[string]any{"serviceaccounts": enabled, "ingresses": enabled}}},
		{"priority classes down", map[string]any{"toHost": map[string]any{"priorityclasses": enabled}}},
		{"classes up", map[string]any{"fromHost": map[string]any{"storageclasses": enabled, "ingressclasses": enabled}}},
		{"all three", map[string]any{"toHost": map[string]any{"priorityclasses": enabled}, "fromHost": map[string]any{"storageclasses": enabled, "ingressclasses": enabled}}},
		{"fake nodes (explicit): none", map[string]any{"fromHost": map[string]any{"nodes": map[string]any{"mode": "fake"}}}},
		{"real nodes: node reads", map[string]any{"fromHost": map[string]any{"nodes": map[string]any{"mode": "real"}}}},
		{"every host node: node reads", map[string]any{"fromHost": map[string]any{"nodes": map[string]any{"all": true}}}},
		{"every host node by selector, fake data: node reads", map[string]any{"fromHost": map[string]any{"nodes": map[string]any{"all": true, "mode": "fake", "selector": map[string]any{"matchLabels": map[string]any{"pool": "a"}}}}}},
		{"real nodes, explicitly enabled: node reads", map[string]any{"fromHost": map[string]any{"nodes": map[string]any{"enabled": true, "mode": "real"}}}},
		{"real nodes, nodes not synced: none", map[string]any{"fromHost": map[string]any{"nodes": map[string]any{"enabled": false, "mode": "real"}}}},
		{"classes up and node reads", map[string]any{"fromHost": map[string]any{"nodes": map[string]any{"mode": "real"}, "storageclasses": enabled}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			values := map[string]any{}
			var cfg config.Sync
			if tt.sync != nil {
				values["controlPlane"] = map[string]any{"config": map[string]any{"sync": tt.sync}}
				data, err := json.Marshal(tt.sync)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(data, &cfg); err != nil {
					t.Fatal(err)
				}
			}
			want := hostaccess.ChartClusterRules(cfg)
			if reads := slices.ContainsFunc(want, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "nodes") }); reads != strings.Contains(tt.name, "node reads") {
				t.Fatalf("pkg/hostaccess.ChartClusterRules(%v) reads nodes: %v", tt.sync, reads)
			}
			r := render(t, values)
			var role rbacv1.ClusterRole
			found := find(t, r, "ClusterRole", "dev-nest-"+testNS, &role)
			if len(want) == 0 {
				if found {
					t.Fatalf("a ClusterRole for %v: %v", tt.sync, role.Rules)
				}
				return
			}
			if !found {
				t.Fatal("no ClusterRole")
			}
			slices.SortFunc(role.Rules, func(a, b rbacv1.PolicyRule) int { return strings.Compare(a.Resources[0], b.Resources[0]) })
			slices.SortFunc(want, func(a, b rbacv1.PolicyRule) int { return strings.Compare(a.Resources[0], b.Resources[0]) })
			if !equality.Semantic.DeepEqual(role.Rules, want) {
				t.Errorf("cluster role rules:\n got  %v\n want %v", role.Rules, want)
			}
			var b rbacv1.ClusterRoleBinding
			find(t, r, "ClusterRoleBinding", "dev-nest-"+testNS, &b)
			if len(b.Subjects) != 1 || b.Subjects[0].Name != "dev-nest" || b.Subjects[0].Namespace != testNS || b.RoleRef.Name != role.Name {
				t.Errorf("binding %v → %v", b.Subjects, b.RoleRef)
			}
		})
	}
}

func TestRenderNestChart(t *testing.T) {
	t.Parallel()
	always := []string{
		"ConfigMap/dev-nest-config", "Role/dev-nest", "RoleBinding/dev-nest",
		"Service/dev-nest", "Service/dev-nest-headless", "ServiceAccount/dev-nest", "StatefulSet/dev-nest",
	}
	tests := []struct {
		name   string
		values map[string]any
		// extra objects on top of always; exactly these.
		extra []string
		// dnsOff: the DNS Service (on by default) is not rendered.
		dnsOff bool
		check  func(t *testing.T, r *Rendered, sts *appsv1.StatefulSet)
	}{
		{
			name:  "defaults: baseline preset",
			extra: []string{"LimitRange/dev-nest", "NetworkPolicy/dev-nest-apiserver", "NetworkPolicy/dev-nest-namespace"},
			check: func(t *testing.T, r *Rendered, sts *appsv1.StatefulSet) {
				if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "state" {
					t.Errorf("volume claim templates = %v, want one named state", sts.Spec.VolumeClaimTemplates)
				}
				var svc corev1.Service
				find(t, r, "Service", "dev-nest", &svc)
				if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Port != 443 {
					t.Errorf("service = %s port %d, want ClusterIP 443", svc.Spec.Type, svc.Spec.Ports[0].Port)
				}
				args := sts.Spec.Template.Spec.Containers[0].Args
				if !slices.Contains(args, "--restore-secret=dev-nest-restore") {
					t.Errorf("args %v lack --restore-secret=dev-nest-restore", args)
				}
				if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[1].Name != "admin" || svc.Spec.Ports[1].Port != 6444 {
					t.Errorf("service ports = %v, want https and admin 6444", svc.Spec.Ports)
				}
				var dns corev1.Service
				find(t, r, "Service", "dev-nest-dns", &dns)
				if dns.Spec.Type != corev1.ServiceTypeClusterIP || dns.Spec.ClusterIP != "" || len(dns.Spec.Ports) != 2 ||
					dns.Spec.Ports[0].Port != 53 || dns.Spec.Ports[0].Protocol != corev1.ProtocolUDP || dns.Spec.Ports[0].TargetPort.StrVal != "dns-udp" ||
					dns.Spec.Ports[1].Port != 53 || dns.Spec.Ports[1].Protocol != corev1.ProtocolTCP || dns.Spec.Ports[1].TargetPort.StrVal != "dns-tcp" {
					t.Errorf("DNS service = %s %q %v, want ClusterIP, UDP and TCP 53 to the pod's dns ports", dns.Spec.Type, dns.Spec.ClusterIP, dns.Spec.Ports)
				}
				ports := sts.Spec.Template.Spec.Containers[0].Ports
				if !slices.ContainsFunc(ports, func(p corev1.ContainerPort) bool {
					return p.Name == "dns-udp" && p.ContainerPort == 1053 && p.Protocol == corev1.ProtocolUDP
				}) ||
					!slices.ContainsFunc(ports, func(p corev1.ContainerPort) bool {
						return p.Name == "dns-tcp" && p.ContainerPort == 1053 && p.Protocol == corev1.ProtocolTCP
					}) {
					t.Errorf("container ports %v lack dns-udp and dns-tcp 1053", ports)
				}
				for _, want := range []string{"--kubeconfig-secret=dev-nest-kubeconfig", "--kubeconfig-server=https://dev-nest.tenant-a.svc:443",
					"--admin-port=6444", "--admin-server=https://dev-nest.tenant-a.svc:6444", "--dns-listen=:1053", "--dns-service=dev-nest-dns"} {
					if !slices.Contains(args, want) {
						t.Errorf("args %v lack %s", args, want)
					}
				}
				if !strings.Contains(r.Notes, "get secret dev-nest-kubeconfig") {
					t.Errorf("NOTES.txt does not say where the kubeconfig is:\n%s", r.Notes)
				}
				if !strings.Contains(r.Notes, "port-forward svc/dev-nest") || !strings.Contains(r.Notes, "pod-security.kubernetes.io/enforce=baseline") {
					t.Errorf("NOTES.txt lacks how to connect or the namespace labels:\n%s", r.Notes)
				}
			},
		},
		{
			name:   "preset none",
			values: map[string]any{"isolation": map[string]any{"preset": "none"}},
		},
		{
			name:   "DNS with a fixed service IP and upstreams",
			values: map[string]any{"dns": map[string]any{"serviceIP": "10.96.0.53", "port": 5353, "upstreams": []any{"1.1.1.1", "[2606:4700::1111]:53"}}},
			extra:  []string{"LimitRange/dev-nest", "NetworkPolicy/dev-nest-apiserver", "NetworkPolicy/dev-nest-namespace"},
			check: func(t *testing.T, r *Rendered, sts *appsv1.StatefulSet) {
				var dns corev1.Service
				find(t, r, "Service", "dev-nest-dns", &dns)
				if dns.Spec.ClusterIP != "10.96.0.53" {
					t.Errorf("DNS service cluster IP %q, want 10.96.0.53", dns.Spec.ClusterIP)
				}
				args := sts.Spec.Template.Spec.Containers[0].Args
				for _, want := range []string{"--dns-listen=:5353", "--dns-upstream=1.1.1.1", "--dns-upstream=[2606:4700::1111]:53"} {
					if !slices.Contains(args, want) {
						t.Errorf("args %v lack %s", args, want)
					}
				}
			},
		},
		{
			name:   "DNS off",
			values: map[string]any{"dns": map[string]any{"enabled": false}},
			extra:  []string{"LimitRange/dev-nest", "NetworkPolicy/dev-nest-apiserver", "NetworkPolicy/dev-nest-namespace"},
			dnsOff: true,
			check: func(t *testing.T, r *Rendered, sts *appsv1.StatefulSet) {
				for _, a := range sts.Spec.Template.Spec.Containers[0].Args {
					if strings.HasPrefix(a, "--dns-") {
						t.Errorf("DNS off, but args have %s", a)
					}
				}
			},
		},
		{
			name: "no restore, admin endpoint off",
			values: map[string]any{
				"restore":      map[string]any{"enabled": false},
				"controlPlane": map[string]any{"adminPort": 0},
			},
			extra: []string{"LimitRange/dev-nest", "NetworkPolicy/dev-nest-apiserver", "NetworkPolicy/dev-nest-namespace"},
			check: func(t *testing.T, r *Rendered, sts *appsv1.StatefulSet) {
				args := sts.Spec.Template.Spec.Containers[0].Args
				for _, a := range args {
					if strings.HasPrefix(a, "--admin-") || strings.HasPrefix(a, "--restore-") {
						t.Errorf("admin endpoint and restore off, but args have %s", a)
					}
				}
				var svc corev1.Service
				find(t, r, "Service", "dev-nest", &svc)
				if len(svc.Spec.Ports) != 1 {
					t.Errorf("service ports = %v, want https only", svc.Spec.Ports)
				}
			},
		},
		{
			name: "preset none, each object asked for",
			values: map[string]any{
				"isolation":     map[string]any{"preset": "none"},
				"resourceQuota": map[string]any{"enabled": true}, "limitRange": map[string]any{"enabled": true}, "networkPolicy": map[string]any{"enabled": true},
			},
			extra: []string{"LimitRange/dev-nest", "NetworkPolicy/dev-nest-apiserver", "NetworkPolicy/dev-nest-namespace", "ResourceQuota/dev-nest"},
		},
		{
			name:   "restricted preset with its namespace",
			values: map[string]any{"isolation": map[string]any{"preset": "restricted", "createNamespace": true}},
			extra:  []string{"LimitRange/dev-nest", "Namespace/" + testNS, "NetworkPolicy/dev-nest-apiserver", "NetworkPolicy/dev-nest-namespace", "ResourceQuota/dev-nest"},
			check: func(t *testing.T, r *Rendered, _ *appsv1.StatefulSet) {
				var ns corev1.Namespace
				find(t, r, "Namespace", testNS, &ns)
				if ns.Labels[psapi.EnforceLevelLabel] != "restricted" {
					t.Errorf("namespace labels = %v, want enforce=restricted", ns.Labels)
				}
				var q corev1.ResourceQuota
				find(t, r, "ResourceQuota", "dev-nest", &q)
				if q.Spec.Hard.Pods().String() != "100" {
					t.Errorf("quota = %v, want 100 pods", q.Spec.Hard)
				}
			},
		},
		{
			name: "node port, ingress with passthrough, extra SANs",
			values: map[string]any{
				"isolation":    map[string]any{"preset": "none"},
				"service":      map[string]any{"type": "NodePort", "nodePort": 31443},
				"ingress":      map[string]any{"enabled": true, "host": "dev.nest.example.com", "className": "nginx"},
				"controlPlane": map[string]any{"tlsSANs": []any{"203.0.113.7"}},
			},
			extra: []string{"Ingress/dev-nest"},
			check: func(t *testing.T, r *Rendered, sts *appsv1.StatefulSet) {
				var svc corev1.Service
				find(t, r, "Service", "dev-nest", &svc)
				if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.Ports[0].NodePort != 31443 {
					t.Errorf("service = %s node port %d, want NodePort 31443", svc.Spec.Type, svc.Spec.Ports[0].NodePort)
				}
				var ing networkingv1.Ingress
				find(t, r, "Ingress", "dev-nest", &ing)
				if ing.Annotations["nginx.ingress.kubernetes.io/ssl-passthrough"] != "true" || ing.Spec.Rules[0].Host != "dev.nest.example.com" {
					t.Errorf("ingress = %v %v, want passthrough for dev.nest.example.com", ing.Annotations, ing.Spec.Rules)
				}
				args := sts.Spec.Template.Spec.Containers[0].Args
				for _, want := range []string{"--tls-san=dev.nest.example.com", "--tls-san=203.0.113.7"} {
					if !slices.Contains(args, want) {
						t.Errorf("args %v lack %s", args, want)
					}
				}
			},
		},
		{
			name: "load balancer, postgres from a secret, no persistence",
			values: map[string]any{
				"isolation":   map[string]any{"preset": "none"},
				"service":     map[string]any{"type": "LoadBalancer", "loadBalancerSourceRanges": []any{"10.0.0.0/8"}},
				"datastore":   map[string]any{"type": "postgres", "endpointSecret": map[string]any{"name": "pg", "key": "url"}},
				"persistence": map[string]any{"enabled": false},
			},
			check: func(t *testing.T, r *Rendered, sts *appsv1.StatefulSet) {
				c := sts.Spec.Template.Spec.Containers[0]
				if !slices.Contains(c.Args, "--datastore=$(NEST_DATASTORE)") {
					t.Errorf("args %v lack --datastore", c.Args)
				}
				i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "NEST_DATASTORE" })
				if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef.Name != "pg" || c.Env[i].ValueFrom.SecretKeyRef.Key != "url" {
					t.Errorf("env %v lacks NEST_DATASTORE from secret pg/url", c.Env)
				}
				if len(sts.Spec.VolumeClaimTemplates) != 0 || !slices.ContainsFunc(sts.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "state" && v.EmptyDir != nil }) {
					t.Errorf("want an emptyDir state volume and no claim templates")
				}
				var svc corev1.Service
				find(t, r, "Service", "dev-nest", &svc)
				if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || !slices.Equal(svc.Spec.LoadBalancerSourceRanges, []string{"10.0.0.0/8"}) {
					t.Errorf("service = %s %v, want LoadBalancer from 10.0.0.0/8", svc.Spec.Type, svc.Spec.LoadBalancerSourceRanges)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := render(t, tt.values)
			want := append(slices.Clone(always), tt.extra...)
			if !tt.dnsOff {
				want = append(want, "Service/dev-nest-dns")
			}
			slices.Sort(want)
			if got := kindsAndNames(r); !slices.Equal(got, want) {
				t.Fatalf("objects:\n got  %v\n want %v", got, want)
			}
			for _, o := range r.Objects {
				if o.GetKind() != "Namespace" && o.GetNamespace() != testNS {
					t.Errorf("%s/%s is in namespace %q, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), testNS)
				}
				if o.GetLabels()["nest.dev/virtual-cluster"] != "dev" {
					t.Errorf("%s/%s labels %v lack nest.dev/virtual-cluster=dev", o.GetKind(), o.GetName(), o.GetLabels())
				}
			}
			checkRBAC(t, r)
			var sts appsv1.StatefulSet
			find(t, r, "StatefulSet", "dev-nest", &sts)
			checkPod(t, &sts)
			if tt.check != nil {
				tt.check(t, r, &sts)
			}
		})
	}
}

// checkRBAC: the Role is exactly pkg/hostaccess.Rules, bound to the
// service account the pod runs as, and nothing is cluster-scoped.
func checkRBAC(t *testing.T, r *Rendered) {
	t.Helper()
	var role rbacv1.Role
	find(t, r, "Role", "dev-nest", &role)
	if !equality.Semantic.DeepEqual(role.Rules, hostaccess.Rules()) {
		t.Errorf("role rules differ from pkg/hostaccess.Rules:\n got  %v\n want %v", role.Rules, hostaccess.Rules())
	}
	var rb rbacv1.RoleBinding
	find(t, r, "RoleBinding", "dev-nest", &rb)
	wantSubject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "dev-nest", Namespace: testNS}
	if len(rb.Subjects) != 1 || rb.Subjects[0] != wantSubject || rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != "dev-nest" {
		t.Errorf("role binding = %v → %v, want %v → Role dev-nest", rb.Subjects, rb.RoleRef, wantSubject)
	}
	for _, o := range r.Objects {
		if k := o.GetKind(); k == "ClusterRole" || k == "ClusterRoleBinding" {
			t.Errorf("the chart renders a %s", k)
		}
	}
}

// checkPod: the control plane runs as the chart's service account with
// in-cluster host credentials (args_test.go checks that `nest controlplane`
// accepts its flags), and
// its pod passes the restricted Pod Security level (so every preset admits it).
func checkPod(t *testing.T, sts *appsv1.StatefulSet) {
	t.Helper()
	spec := sts.Spec.Template.Spec
	if spec.ServiceAccountName != "dev-nest" {
		t.Errorf("service account = %q, want dev-nest", spec.ServiceAccountName)
	}
	c := spec.Containers[0]
	for _, want := range []string{"controlplane", "--host-in-cluster", "--host-namespace=$(POD_NAMESPACE)", "--name=dev", "--bind-address=0.0.0.0",
		"--tls-san=dev-nest,dev-nest.tenant-a,dev-nest.tenant-a.svc,dev-nest.tenant-a.svc.cluster.local"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
		t.Errorf("readiness probe = %v, want HTTPS /readyz", c.ReadinessProbe)
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("root filesystem is writable")
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range evaluator.EvaluatePod(psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}, &sts.Spec.Template.ObjectMeta, &spec) {
		if !res.Allowed {
			t.Errorf("pod breaks Pod Security restricted: %s: %s", res.ForbiddenReason, res.ForbiddenDetail)
		}
	}
}

// TestValuesSchemaRejects: values.schema.json turns bad values away, naming them.
func TestValuesSchemaRejects(t *testing.T) {
	t.Parallel()
	c, err := Load(NestChart)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		values  map[string]any
		wantErr []string // all in the message
	}{
		{"unknown key", map[string]any{"replicas": 3}, []string{"replicas"}},
		{"unknown nested key", map[string]any{"service": map[string]any{"typ": "NodePort"}}, []string{"typ"}},
		{"service type", map[string]any{"service": map[string]any{"type": "External"}}, []string{"/service/type", "ClusterIP"}},
		{"isolation preset", map[string]any{"isolation": map[string]any{"preset": "paranoid"}}, []string{"/isolation/preset", "restricted"}},
		{"datastore type", map[string]any{"datastore": map[string]any{"type": "mysql"}}, []string{"/datastore/type", "postgres"}},
		{"postgres without endpoint", map[string]any{"datastore": map[string]any{"type": "postgres"}}, []string{"/datastore"}},
		{"etcd with a postgres URL", map[string]any{"datastore": map[string]any{"type": "etcd", "endpoint": "postgres://u@h/db"}}, []string{"/datastore/endpoint"}},
		{"sqlite with an etcd URL", map[string]any{"datastore": map[string]any{"endpoint": "etcd://h:2379"}}, []string{"/datastore/endpoint"}},
		{"ingress without host", map[string]any{"ingress": map[string]any{"enabled": true}}, []string{"/ingress", "host"}},
		{"ingress host with a scheme", map[string]any{"ingress": map[string]any{"enabled": true, "host": "https://x.example.com"}}, []string{"/ingress/host"}},
		{"privileged port", map[string]any{"controlPlane": map[string]any{"port": 443}}, []string{"/controlPlane/port"}},
		{"node port as a string", map[string]any{"service": map[string]any{"nodePort": "31000"}}, []string{"/service/nodePort"}},
		{"storage size", map[string]any{"persistence": map[string]any{"size": "lots"}}, []string{"/persistence/size"}},
		{"image digest", map[string]any{"image": map[string]any{"digest": "latest"}}, []string{"/image/digest"}},
		{"flag without dashes", map[string]any{"controlPlane": map[string]any{"extraArgs": []any{"name=x"}}}, []string{"/controlPlane/extraArgs/0"}},
		{"cluster name", map[string]any{"clusterName": "Bad_Name"}, []string{"/clusterName"}},
		{"boolean as string", map[string]any{"persistence": map[string]any{"enabled": "true"}}, []string{"/persistence/enabled"}},
		{"kubeconfig server without https", map[string]any{"controlPlane": map[string]any{"kubeconfigSecret": map[string]any{"server": "http://x:6443"}}}, []string{"/controlPlane/kubeconfigSecret/server"}},
		{"privileged admin port", map[string]any{"controlPlane": map[string]any{"adminPort": 80}}, []string{"/controlPlane/adminPort"}},
		{"restore enabled as a string", map[string]any{"restore": map[string]any{"enabled": "yes"}}, []string{"/restore/enabled"}},
		{"DNS service IP", map[string]any{"dns": map[string]any{"serviceIP": "dns.example.com"}}, []string{"/dns/serviceIP"}},
		{"DNS port privileged", map[string]any{"dns": map[string]any{"port": 53}}, []string{"/dns/port"}},
		{"DNS upstream with a scheme", map[string]any{"dns": map[string]any{"upstreams": []any{"udp://1.1.1.1"}}}, []string{"/dns/upstreams/0"}},
		{"quota quantity", map[string]any{"resourceQuota": map[string]any{"hard": map[string]any{"pods": "many"}}}, []string{"/resourceQuota/hard/pods"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Render(c, Release{Name: "dev", Namespace: testNS, Values: tt.values})
			if err == nil {
				t.Fatalf("values %v rendered, want rejected", tt.values)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}
