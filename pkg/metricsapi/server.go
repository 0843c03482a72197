// Package metricsapi serves the resource metrics API (metrics.k8s.io/v1beta1:
// PodMetrics and NodeMetrics, what `kubectl top` reads) as an aggregated API
// of a kube-apiserver, from any Source of figures. It authenticates the
// aggregator by its front-proxy client certificate, authorizes the user the
// aggregator names with a SubjectAccessReview, and registers itself with
// Register (an ExternalName Service to this machine and an APIService).
// pkg/vmetrics (virtual clusters) and pkg/simmetrics (the local host's
// simulated figures) are its two sources.
package metricsapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// Group and Version of the API served.
const (
	Group   = "metrics.k8s.io"
	Version = "v1beta1"
)

// Source gives the figures. Both calls return what the caller may see once
// authorized; errors of type *StatusError keep their HTTP code.
type Source interface {
	// Pods returns the metrics of the pods of namespace ("" for every
	// namespace) that match selector.
	Pods(ctx context.Context, namespace string, selector labels.Selector) ([]metricsv1beta1.PodMetrics, error)
	// Nodes returns the metrics of the nodes that match selector.
	Nodes(ctx context.Context, selector labels.Selector) ([]metricsv1beta1.NodeMetrics, error)
}

// StatusError is an error with the HTTP status it should be answered with.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// Config of a metrics API server.
type Config struct {
	// Source of the figures.
	Source Source
	// Authorizer is a client of the apiserver the API is aggregated into:
	// it reviews each request's user (SubjectAccessReview).
	Authorizer kubernetes.Interface
	// FrontProxyCAFile is the CA of the aggregator's client certificate
	// (kube-apiserver's --requestheader-client-ca-file); read at every
	// handshake, so a renewed CA is picked up.
	FrontProxyCAFile string
	// AllowedNames are the common names the aggregator's client certificate
	// may have (--requestheader-allowed-names); empty allows any name the
	// CA signed.
	AllowedNames []string
	// Serving is the server's certificate (see NewServingCert).
	Serving tls.Certificate
	Logger  *slog.Logger
}

func (c *Config) validate() error {
	var errs []error
	if c.Source == nil {
		errs = append(errs, errors.New("source is required"))
	}
	if c.Authorizer == nil {
		errs = append(errs, errors.New("authorizer is required"))
	}
	if c.FrontProxyCAFile == "" {
		errs = append(errs, errors.New("front-proxy CA file is required"))
	}
	if len(c.Serving.Certificate) == 0 {
		errs = append(errs, errors.New("serving certificate is required"))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}

// Serve answers the API on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("metrics API config: %w", err)
	}
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           cfg.handler(),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics API on %s: %w", l.Addr(), err)
	}
	return nil
}

// handler routes the API's paths.
func (c *Config) handler() http.Handler {
	mux := http.NewServeMux()
	prefix := "/apis/" + Group + "/" + Version
	mux.HandleFunc("GET "+prefix, c.authenticated(discovery))
	mux.HandleFunc("GET "+prefix+"/nodes", c.authorized("list", "nodes", c.listNodes))
	mux.HandleFunc("GET "+prefix+"/nodes/{name}", c.authorized("get", "nodes", c.getNode))
	mux.HandleFunc("GET "+prefix+"/pods", c.authorized("list", "pods", c.listPods))
	mux.HandleFunc("GET "+prefix+"/namespaces/{namespace}/pods", c.authorized("list", "pods", c.listPods))
	mux.HandleFunc("GET "+prefix+"/namespaces/{namespace}/pods/{name}", c.authorized("get", "pods", c.getPod))
	// Everything else, /apis (aggregated discovery) included, is not
	// served: the aggregator then reads the legacy discovery above.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("the server could not find the requested resource %s", r.URL.Path))
	})
	return mux
}

// discovery is the legacy discovery document of the group version.
func discovery(w http.ResponseWriter, _ *http.Request) {
	verbs := metav1.Verbs{"get", "list"}
	writeJSON(w, http.StatusOK, &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: Group + "/" + Version,
		APIResources: []metav1.APIResource{
			{Name: "nodes", SingularName: "", Namespaced: false, Kind: "NodeMetrics", Verbs: verbs},
			{Name: "pods", SingularName: "", Namespaced: true, Kind: "PodMetrics", Verbs: verbs},
		},
	})
}

func (c *Config) listPods(w http.ResponseWriter, r *http.Request) {
	selector, ok := labelSelector(w, r)
	if !ok {
		return
	}
	pods, err := c.Source.Pods(r.Context(), r.PathValue("namespace"), selector)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &metricsv1beta1.PodMetricsList{
		TypeMeta: listTypeMeta("PodMetricsList"),
		Items:    listItems(pods),
	})
}

func (c *Config) getPod(w http.ResponseWriter, r *http.Request) {
	pods, err := c.Source.Pods(r.Context(), r.PathValue("namespace"), labels.Everything())
	writeOne(c, w, r, pods, err, "PodMetrics", "podmetrics")
}

func (c *Config) listNodes(w http.ResponseWriter, r *http.Request) {
	selector, ok := labelSelector(w, r)
	if !ok {
		return
	}
	nodes, err := c.Source.Nodes(r.Context(), selector)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &metricsv1beta1.NodeMetricsList{
		TypeMeta: listTypeMeta("NodeMetricsList"),
		Items:    listItems(nodes),
	})
}

func (c *Config) getNode(w http.ResponseWriter, r *http.Request) {
	nodes, err := c.Source.Nodes(r.Context(), labels.Everything())
	writeOne(c, w, r, nodes, err, "NodeMetrics", "nodemetrics")
}

// metricsObject is a pointer to PodMetrics or NodeMetrics: both embed
// TypeMeta and ObjectMeta, so one code path serves either.
type metricsObject[T any] interface {
	*T
	GetName() string
	SetGroupVersionKind(schema.GroupVersionKind)
}

func listTypeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{Kind: kind, APIVersion: Group + "/" + Version}
}

// listItems clears the items' TypeMeta, as the apiserver's lists do, and
// never returns nil (an empty list is "items": [], not null).
func listItems[T any, PT metricsObject[T]](items []T) []T {
	for i := range items {
		PT(&items[i]).SetGroupVersionKind(schema.GroupVersionKind{})
	}
	if items == nil {
		return []T{}
	}
	return items
}

// writeOne writes the item named by the request's path, or a NotFound
// status naming resource.
func writeOne[T any, PT metricsObject[T]](c *Config, w http.ResponseWriter, r *http.Request, items []T, err error, kind, resource string) {
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	name := r.PathValue("name")
	for i := range items {
		if item := PT(&items[i]); item.GetName() == name {
			item.SetGroupVersionKind(schema.GroupVersionKind{Group: Group, Version: Version, Kind: kind})
			writeJSON(w, http.StatusOK, item)
			return
		}
	}
	writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s.%s %q not found", resource, Group, name))
}
func labelSelector(w http.ResponseWriter, r *http.Request) (labels.Selector, bool) {
	s, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf("labelSelector: %v", err))
		return nil, false
	}
	return s, true
}

func (c *Config) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	if se := (*StatusError)(nil); errors.As(err, &se) {
		code = se.Code
	}
	c.Logger.Warn("Metrics request failed", "path", r.URL.Path, "code", code, "err", err)
	writeStatus(w, code, reasonFor(code), err.Error())
}

func reasonFor(code int) metav1.StatusReason {
	switch code {
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	case http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	}
	return metav1.StatusReasonInternalError
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	writeJSON(w, code, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code), //nolint:gosec // HTTP codes fit
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// AddUsage returns a + b, with CPU and memory always present.
func AddUsage(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0"), corev1.ResourceMemory: resource.MustParse("0")}
	for _, l := range []corev1.ResourceList{a, b} {
		for name, q := range l {
			sum := out[name]
			sum.Add(q)
			out[name] = sum
		}
	}
	return out
}
