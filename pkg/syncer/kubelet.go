package syncer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/nestcluster/nest/pkg/pki"
)

// The virtual apiserver reaches a pod's logs through the kubelet of the
// pod's node. Virtual nodes therefore point at this kubelet endpoint, which
// the syncer serves: it answers the kubelet's log API by asking the host
// apiserver for the logs of the pod's host copy, with the syncer's
// namespace-scoped credentials. exec, attach and port-forward are proxied
// to the host apiserver's subresources of the host copy, upgrade and all.
// Only the virtual apiserver may call it: it must present a client
// certificate of the virtual cluster's CA (its kubelet client certificate).

// kubeletEndpoint is where the syncer's kubelet API listens.
type kubeletEndpoint struct {
	address string // an IP the virtual apiserver can reach
	port    int32
}

// serveKubelet starts the kubelet API on a free port of 127.0.0.1 (the
// virtual apiserver runs in this process) until ctx ends.
func (s *Syncer) serveKubelet(ctx context.Context, bundle *pki.Bundle, validity time.Duration) (kubeletEndpoint, error) {
	serving := &renewingCert{
		certFile: filepath.Join(bundle.Dir, "syncer-kubelet.crt"), keyFile: filepath.Join(bundle.Dir, "syncer-kubelet.key"),
		validity: validity,
	}
	if _, err := serving.get(nil); err != nil {
		return kubeletEndpoint{}, err
	}
	caPEM, err := os.ReadFile(bundle.CACert())
	if err != nil {
		return kubeletEndpoint{}, fmt.Errorf("kubelet API client CA: %w", err)
	}
	clientCAs := x509.NewCertPool()
	if !clientCAs.AppendCertsFromPEM(caPEM) {
		return kubeletEndpoint{}, fmt.Errorf("kubelet API client CA %s holds no certificate", bundle.CACert())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return kubeletEndpoint{}, fmt.Errorf("kubelet API: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.serveLogs)
	stream, err := s.newStreamProxy()
	if err != nil {
		return kubeletEndpoint{}, err
	}
	// The apiserver asks with GET or POST, depending on the client's protocol.
	for _, sub := range []string{"exec", "attach"} {
		mux.Handle("/"+sub+"/{namespace}/{pod}/{container}", stream.handler(sub))
	}
	mux.Handle("/portForward/{namespace}/{pod}", stream.handler("portforward"))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{GetCertificate: serving.get, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, MinVersion: tls.VersionTLS12},
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("Kubelet API stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return kubeletEndpoint{address: "127.0.0.1", port: int32(ln.Addr().(*net.TCPAddr).Port)}, nil
}

// renewingCert is the kubelet API's self-signed serving certificate,
// renewed on the first handshake after two thirds of its lifetime.
type renewingCert struct {
	certFile, keyFile string
	validity          time.Duration // 0 is pki.LeafValidity

	mu      sync.Mutex
	cert    *tls.Certificate
	renewAt time.Time
}

func (r *renewingCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cert != nil && time.Now().Before(r.renewAt) {
		return r.cert, nil
	}
	validity := r.validity
	if validity == 0 {
		validity = pki.LeafValidity
	}
	if _, err := pki.EnsureSelfSignedFor(r.certFile, r.keyFile, "nest-syncer-kubelet", validity, []net.IP{net.ParseIP("127.0.0.1")}, nil); err != nil {
		return nil, fmt.Errorf("kubelet API certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet API certificate: %w", err)
	}
	r.cert, r.renewAt = &cert, pki.RenewAt(cert.Leaf)
	return r.cert, nil
}

// logParams are the kubelet log API's query parameters that the pods/log
// subresource takes under the same names.
var logParams = []string{"follow", "previous", "sinceSeconds", "sinceTime", "timestamps", "tailLines", "limitBytes", "stream"}

// serveLogs streams the logs of a virtual pod's container from its host copy.
func (s *Syncer) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	req := s.host.CoreV1().RESTClient().Get().
		Namespace(s.hostNamespace).Resource("pods").Name(s.hostPodName(ns, pod)).SubResource("log").
		Param("container", container)
	for _, p := range logParams {
		if v := r.URL.Query().Get(p); v != "" {
			req = req.Param(p, v)
		}
	}
	stream, err := req.Stream(r.Context())
	if err != nil {
		var status apierrors.APIStatus
		code := http.StatusBadGateway
		if errors.As(err, &status) && status.Status().Code != 0 {
			code = int(status.Status().Code)
		}
		http.Error(w, strings.TrimPrefix(err.Error(), "the server rejected our request for an unknown reason: "), code)
		return
	}
	defer stream.Close()
	w.Header().Set("Content-Type", "text/plain")
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32*1024)
	for {
		n, err := stream.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush() // --follow: show lines as they come
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && r.Context().Err() == nil {
				s.log.Warn("Log stream from the host ended", "pod", ns+"/"+pod, "container", container, "error", err)
			}
			return
		}
	}
}
