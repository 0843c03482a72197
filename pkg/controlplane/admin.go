package controlplane

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/pki"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// The admin endpoint: day-2 operations on a control plane whose state
// directory is out of reach, such as the chart's pod (its volume). It is an
// HTTPS server of its own next to the apiserver (--admin-port), with the
// apiserver's serving certificate, that accepts only the cluster's admin
// client certificate (CN=nest-admin, O=system:masters, signed by the
// cluster's CA: the one in the published kubeconfig). Routes:
//
//	GET  /nest/v1/snapshot      a snapshot (pkg/snapshot format) of the datastore, read at one revision
//	GET  /nest/v1/certs         the certificates and their expiry (JSON []pki.CertInfo)
//	POST /nest/v1/certs/rotate  re-issue every leaf certificate now (JSON []pki.Change)
const (
	AdminSnapshotPath = "/nest/v1/snapshot"
	AdminCertsPath    = "/nest/v1/certs"
	AdminRotatePath   = "/nest/v1/certs/rotate"
)

// AdminURLSecretKey is the key of the admin endpoint's URL in the
// published kubeconfig Secret.
const AdminURLSecretKey = "admin-url"

// adminServer serves the admin endpoint.
type adminServer struct {
	name     string
	cluster  *config.Config
	layout   Layout
	bundle   *pki.Bundle
	server   string // the apiserver's local URL (for rotation)
	certOpts CertOptions
	etcd     []string // the datastore's etcd v3 endpoints
	prefix   string
	rotated  *rotationSignal
	log      *slog.Logger
}

// serveAdmin serves the admin endpoint on addr until ctx ends.
func (a *adminServer) serve(ctx context.Context, addr string) error {
	caPEM, err := os.ReadFile(a.bundle.CACert())
	if err != nil {
		return fmt.Errorf("admin endpoint: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("admin endpoint: no certificate in %s", a.bundle.CACert())
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  pool,
		// Read at each handshake: the serving certificate rotates.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			pair, err := tls.LoadX509KeyPair(a.bundle.APIServerCert(), a.bundle.APIServerKey())
			return &pair, err
		},
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin endpoint: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+AdminSnapshotPath, a.snapshot)
	mux.HandleFunc("GET "+AdminCertsPath, a.certs)
	mux.HandleFunc("POST "+AdminRotatePath, a.rotate)
	srv := &http.Server{Handler: a.onlyAdmin(mux), TLSConfig: tc, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	a.log.Info("Admin endpoint is serving", "address", ln.Addr().String())
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin endpoint: %w", err)
	}
	return nil
}

// onlyAdmin lets through the cluster's admin certificate only.
func (a *adminServer) onlyAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "a client certificate of the cluster's CA is required", http.StatusUnauthorized)
			return
		}
		leaf := r.TLS.VerifiedChains[0][0]
		if leaf.Subject.CommonName != pki.AdminCommonName || !slices.Contains(leaf.Subject.Organization, pki.AdminOrganization) {
			http.Error(w, fmt.Sprintf("%q is not the cluster's admin", leaf.Subject.CommonName), http.StatusForbidden)
			return
		}
		a.log.Info("Admin request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		next.ServeHTTP(w, r)
	})
}

// snapshot streams a snapshot of the datastore. Its integrity is the
// file's checksum: a client checks it before it keeps the file.
func (a *adminServer) snapshot(w http.ResponseWriter, r *http.Request) {
	client, err := datastoreClient(a.cluster, a.etcd) // over TLS for an https:// etcd
	if err != nil {
		http.Error(w, fmt.Sprintf("connect to the datastore: %v", err), http.StatusInternalServerError)
		return
	}
	defer client.Close()
	// A datastore that refuses (an etcd wanting another client
	// certificate) makes the client retry forever: an answer instead.
	probe, cancel := context.WithTimeout(r.Context(), datastoreProbeTimeout)
	_, err = client.Get(probe, a.prefix+"/health")
	cancel()
	if err != nil {
		http.Error(w, fmt.Sprintf("the datastore does not answer: %v", err), http.StatusServiceUnavailable)
		return
	}
	ep, _ := config.ParseEndpoint(a.cluster.Datastore.Endpoint)
	h := snapshot.Header{
		Cluster: a.name, KubernetesVersion: config.SupportedKubernetesVersion,
		Datastore: string(ep.Kind), Created: time.Now().UTC(),
		ServiceAccountKey: ServiceAccountKeySum(a.layout),
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	start := time.Now()
	h, err = snapshot.Take(r.Context(), client, a.prefix, h, w)
	if err != nil {
		// Headers are gone once the body started: the client sees a
		// truncated file, which its checksum refuses.
		a.log.Error("Snapshot failed", "error", err)
		return
	}
	a.log.Info("Snapshot served", "keys", h.Keys, "revision", h.Revision, "elapsed", time.Since(start).Round(time.Millisecond))
}

func (a *adminServer) certs(w http.ResponseWriter, _ *http.Request) {
	certs, err := PKI(a.layout).Certificates()
	if err != nil {
		http.Error(w, fmt.Sprintf("certificates: %v", err), http.StatusInternalServerError)
		return
	}
	writeJSON(w, certs)
}

func (a *adminServer) rotate(w http.ResponseWriter, _ *http.Request) {
	opts := a.certOpts
	opts.Force = true
	b, err := PrepareCerts(a.layout, a.server, opts)
	if err != nil {
		http.Error(w, fmt.Sprintf("rotate certificates: %v", err), http.StatusInternalServerError)
		return
	}
	a.log.Info("Certificates rotated on request", "files", len(b.Changes))
	a.rotated.fire() // the published kubeconfig carries the new admin certificate
	writeJSON(w, b.Changes)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ServiceAccountKeySum is the SHA-256 (hex) of a cluster's service-account
// public key, "" if it has none yet: a snapshot's header records it.
func ServiceAccountKeySum(layout Layout) string {
	data, err := os.ReadFile((&pki.Bundle{Dir: layout.PKIDir()}).ServiceAccountPub())
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// adminAddress is the listen address of the admin endpoint.
func adminAddress(bindAddress string, port int) string {
	return net.JoinHostPort(bindAddress, strconv.Itoa(port))
}

// etcdEndpoints turns the apiserver's --etcd-servers into client endpoints.
func etcdEndpoints(servers string) []string { return strings.Split(servers, ",") }
