package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nestcluster/nest/pkg/pki"
)

// TestAdminEndpointOnlyAdmin: the admin endpoint lets through the
// cluster's admin certificate only (the TLS layer has verified the chain
// against the cluster's CA by then).
func TestAdminEndpointOnlyAdmin(t *testing.T) {
	t.Parallel()
	cert := func(cn string, orgs ...string) *tls.ConnectionState {
		return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: cn, Organization: orgs}}}}}
	}
	tests := []struct {
		name string
		tls  *tls.ConnectionState
		want int
	}{
		{"no TLS", nil, http.StatusUnauthorized},
		{"no client certificate", &tls.ConnectionState{}, http.StatusUnauthorized},
		{"admin", cert(pki.AdminCommonName, pki.AdminOrganization), http.StatusOK},
		{"admin name without system:masters", cert(pki.AdminCommonName), http.StatusForbidden},
		{"another system:masters certificate", cert("kube-apiserver-kubelet-client", pki.AdminOrganization), http.StatusForbidden},
		{"a user", cert("alice", "devs"), http.StatusForbidden},
	}
	a := &adminServer{log: slog.New(slog.DiscardHandler)}
	h := a.onlyAdmin(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, AdminCertsPath, nil)
			req.TLS = tt.tls
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d (%s)", rec.Code, tt.want, rec.Body.String())
			}
		})
	}
}
