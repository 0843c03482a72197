package metricsapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The request headers in which the aggregator names the user
// (kube-apiserver's --requestheader-*-headers, as Nest sets them).
const (
	headerUser        = "X-Remote-User"
	headerGroup       = "X-Remote-Group"
	headerExtraPrefix = "X-Remote-Extra-"
)

// tlsConfig asks every client for a certificate of the front-proxy CA, read
// afresh at each handshake.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if _, err := c.clientCAs(); err != nil {
		return nil, err
	}
	base := &tls.Config{Certificates: []tls.Certificate{c.Serving}, MinVersion: tls.VersionTLS12}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			pool, err := c.clientCAs()
			if err != nil {
				return nil, err
			}
			cfg := base.Clone()
			cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
			return cfg, nil
		},
	}, nil
}

func (c *Config) clientCAs() (*x509.CertPool, error) {
	data, err := os.ReadFile(c.FrontProxyCAFile)
	if err != nil {
		return nil, fmt.Errorf("read front-proxy CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("front-proxy CA %s holds no certificate", c.FrontProxyCAFile)
	}
	return pool, nil
}

// user is who the aggregator says is asking.
type user struct {
	name   string
	groups []string
	extra  map[string]authorizationv1.ExtraValue
}

// authenticate accepts requests of the aggregator only: a verified client
// certificate of an allowed name (the TLS handshake checked the CA) and a
// user in the request headers.
func (c *Config) authenticate(r *http.Request) (user, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return user{}, fmt.Errorf("no verified client certificate")
	}
	cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
	if len(c.AllowedNames) > 0 && !slices.Contains(c.AllowedNames, cn) {
		return user{}, fmt.Errorf("client certificate %q is not an allowed front proxy", cn)
	}
	u := user{name: r.Header.Get(headerUser), groups: r.Header.Values(headerGroup)}
	if u.name == "" {
		return user{}, fmt.Errorf("no user in %s", headerUser)
	}
	for k, v := range r.Header {
		if !hasPrefixFold(k, headerExtraPrefix) {
			continue
		}
		key, err := url.PathUnescape(strings.ToLower(k[len(headerExtraPrefix):]))
		if err != nil {
			continue
		}
		if u.extra == nil {
			u.extra = map[string]authorizationv1.ExtraValue{}
		}
		u.extra[key] = append(u.extra[key], v...)
	}
	return u, nil
}

// authenticated serves h to the aggregator's requests only (discovery, which
// every authenticated user may read).
func (c *Config) authenticated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := c.authenticate(r); err != nil {
			writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized: "+err.Error())
			return
		}
		h(w, r)
	}
}

// authorized serves h when the user may verb the resource of the request
// (in its namespace, of its name), as the apiserver's RBAC says.
func (c *Config) authorized(verb, resource string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := c.authenticate(r)
		if err != nil {
			writeStatus(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized: "+err.Error())
			return
		}
		attrs := &authorizationv1.ResourceAttributes{
			Namespace: r.PathValue("namespace"), Verb: verb, Group: Group, Version: Version,
			Resource: resource, Name: r.PathValue("name"),
		}
		allowed, err := c.review(r.Context(), u, attrs)
		if err != nil {
			c.writeError(w, r, err)
			return
		}
		if !allowed {
			scope := "at the cluster scope"
			if attrs.Namespace != "" {
				scope = fmt.Sprintf("in the namespace %q", attrs.Namespace)
			}
			writeStatus(w, http.StatusForbidden, metav1.StatusReasonForbidden,
				fmt.Sprintf("%s.%s is forbidden: User %q cannot %s resource %q in API group %q %s", resource, Group, u.name, verb, resource, Group, scope))
			return
		}
		h(w, r)
	}
}

func (c *Config) review(ctx context.Context, u user, attrs *authorizationv1.ResourceAttributes) (bool, error) {
	sar, err := c.Authorizer.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: u.name, Groups: u.groups, Extra: u.extra, ResourceAttributes: attrs},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("review access of %q: %w", u.name, err)
	}
	return sar.Status.Allowed, nil
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case (HTTP header names).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
