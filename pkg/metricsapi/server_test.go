package metricsapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// fakeSource has two pods in two namespaces and one node.
type fakeSource struct{ err error }

func (f fakeSource) Pods(_ context.Context, ns string, sel labels.Selector) ([]metricsv1beta1.PodMetrics, error) {
	if f.err != nil {
		return nil, f.err
	}
	all := []metricsv1beta1.PodMetrics{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}},
			Containers: []metricsv1beta1.ContainerMetrics{{Name: "main", Usage: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lone", Namespace: "other"}},
	}
	var out []metricsv1beta1.PodMetrics
	for _, p := range all {
		if (ns == "" || p.Namespace == ns) && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f fakeSource) Nodes(context.Context, labels.Selector) ([]metricsv1beta1.NodeMetrics, error) {
	return []metricsv1beta1.NodeMetrics{{ObjectMeta: metav1.ObjectMeta{Name: "vnode-1"}}}, f.err
}

// authorizer allows jane to read pod metrics in shop only, and admins all.
func authorizer() *fake.Clientset {
	client := fake.NewClientset()
	client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		attrs := sar.Spec.ResourceAttributes
		allowed := sar.Spec.User == "admin" ||
			sar.Spec.User == "jane" && attrs.Namespace == "shop" && attrs.Resource == "pods" && attrs.Group == Group
		sar.Status.Allowed = allowed
		return true, sar, nil
	})
	return client
}

func TestHandler(t *testing.T) {
	t.Parallel()
	aggregatorCert := &x509.Certificate{Subject: pkix.Name{CommonName: "front-proxy-client"}}
	stranger := &x509.Certificate{Subject: pkix.Name{CommonName: "someone"}}
	tests := []struct {
		name     string
		path     string
		cert     *x509.Certificate
		user     string
		source   fakeSource
		wantCode int
		wantBody string
	}{
		{name: "discovery", path: "/apis/metrics.k8s.io/v1beta1", cert: aggregatorCert, user: "system:kube-aggregator", wantCode: 200, wantBody: `"kind":"PodMetrics"`},
		{name: "no client certificate", path: "/apis/metrics.k8s.io/v1beta1", user: "admin", wantCode: 401},
		{name: "a certificate of another name", path: "/apis/metrics.k8s.io/v1beta1/pods", cert: stranger, user: "admin", wantCode: 401, wantBody: "not an allowed front proxy"},
		{name: "no user", path: "/apis/metrics.k8s.io/v1beta1/pods", cert: aggregatorCert, wantCode: 401, wantBody: "no user"},
		{name: "pods of a namespace", path: "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods", cert: aggregatorCert, user: "jane", wantCode: 200, wantBody: `"name":"web"`},
		{name: "pods by label", path: "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods?labelSelector=app%3Dother", cert: aggregatorCert, user: "jane", wantCode: 200, wantBody: `"items":[]`},
		{name: "a bad label selector", path: "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods?labelSelector=a%3D%3D%3Db", cert: aggregatorCert, user: "jane", wantCode: 400, wantBody: "labelSelector"},
		{name: "one pod", path: "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/web", cert: aggregatorCert, user: "jane", wantCode: 200, wantBody: `"kind":"PodMetrics"`},
		{name: "a missing pod", path: "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods/gone", cert: aggregatorCert, user: "jane", wantCode: 404, wantBody: `podmetrics.metrics.k8s.io \"gone\" not found`},
		{name: "another namespace is forbidden", path: "/apis/metrics.k8s.io/v1beta1/namespaces/other/pods", cert: aggregatorCert, user: "jane", wantCode: 403, wantBody: `in the namespace \"other\"`},
		{name: "all namespaces are forbidden", path: "/apis/metrics.k8s.io/v1beta1/pods", cert: aggregatorCert, user: "jane", wantCode: 403},
		{name: "nodes are forbidden", path: "/apis/metrics.k8s.io/v1beta1/nodes", cert: aggregatorCert, user: "jane", wantCode: 403, wantBody: "at the cluster scope"},
		{name: "nodes", path: "/apis/metrics.k8s.io/v1beta1/nodes", cert: aggregatorCert, user: "admin", wantCode: 200, wantBody: `"kind":"NodeMetricsList"`},
		{name: "one node", path: "/apis/metrics.k8s.io/v1beta1/nodes/vnode-1", cert: aggregatorCert, user: "admin", wantCode: 200, wantBody: `"name":"vnode-1"`},
		{name: "aggregated discovery is not served", path: "/apis", cert: aggregatorCert, user: "admin", wantCode: 404},
		{name: "a source's status", path: "/apis/metrics.k8s.io/v1beta1/pods", cert: aggregatorCert, user: "admin",
			source: fakeSource{err: &StatusError{Code: 503, Err: errors.New("the host serves no metrics API")}}, wantCode: 503, wantBody: "the host serves no metrics API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := &Config{Source: tt.source, Authorizer: authorizer(), AllowedNames: []string{"front-proxy-client"}}
			_ = cfg.validate()
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.cert != nil {
				req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{tt.cert}}}
			}
			if tt.user != "" {
				req.Header.Set("X-Remote-User", tt.user)
				req.Header.Add("X-Remote-Group", "system:authenticated")
			}
			rec := httptest.NewRecorder()
			cfg.handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("GET %s = %d %s, want %d with %q", tt.path, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("GET %s answered no JSON: %s", tt.path, rec.Body)
			}
		})
	}
}

func TestAuthenticateExtra(t *testing.T) {
	t.Parallel()
	cfg := &Config{}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: "x"}}}}}
	req.Header.Set("X-Remote-User", "jane")
	req.Header.Add("X-Remote-Group", "dev")
	req.Header.Add("X-Remote-Group", "ops")
	req.Header.Set("X-Remote-Extra-Scopes%2fmine", "a")
	u, err := cfg.authenticate(req)
	if err != nil {
		t.Fatal(err)
	}
	if u.name != "jane" || strings.Join(u.groups, ",") != "dev,ops" || strings.Join(u.extra["scopes/mine"], ",") != "a" {
		t.Errorf("user = %+v, want jane in dev and ops with extra scopes/mine=a", u)
	}
}

func TestAddUsage(t *testing.T) {
	t.Parallel()
	got := AddUsage(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("1Mi")})
	if cpu, mem := got[corev1.ResourceCPU], got[corev1.ResourceMemory]; cpu.MilliValue() != 120 || mem.Value() != 1<<20 {
		t.Errorf("AddUsage = %v, want 120m and 1Mi", got)
	}
	if got := AddUsage(nil, nil); len(got) != 2 {
		t.Errorf("AddUsage(nil, nil) = %v, want zero CPU and memory", got)
	}
}
