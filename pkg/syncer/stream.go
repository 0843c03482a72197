package syncer

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

// streamProxy answers the kubelet's streaming paths (exec, attach,
// port-forward) by proxying them, upgrade included, to the host apiserver's
// pods/exec, pods/attach and pods/portforward of the host copy, with the
// syncer's host credentials. The host apiserver then goes to the host
// node's kubelet. The protocol (SPDY or WebSocket, as the virtual apiserver
// speaks it) passes through untouched: only the path and the query change.
type streamProxy struct {
	s         *Syncer
	server    *url.URL // the host apiserver
	transport http.RoundTripper
	upgrade   proxy.UpgradeRequestRoundTripper
}

func (s *Syncer) newStreamProxy() (*streamProxy, error) {
	server, _, err := rest.DefaultServerUrlFor(s.hostConfig)
	if err != nil {
		return nil, fmt.Errorf("kubelet API: host apiserver address: %w", err)
	}
	rt, err := rest.TransportFor(s.hostConfig)
	if err != nil {
		return nil, fmt.Errorf("kubelet API: host transport: %w", err)
	}
	// Upgrades need HTTP/1.1 and the credentials set on the request itself,
	// as kubectl proxy does.
	tc, err := s.hostConfig.TransportConfig()
	if err != nil {
		return nil, fmt.Errorf("kubelet API: host transport: %w", err)
	}
	tlsConfig, err := transport.TLSConfigFor(tc)
	if err != nil {
		return nil, fmt.Errorf("kubelet API: host TLS: %w", err)
	}
	conn := utilnet.SetOldTransportDefaults(&http.Transport{
		TLSClientConfig: tlsConfig,
		DialContext:     (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	})
	wrappers, err := transport.HTTPWrappersForConfig(tc, proxy.MirrorRequest)
	if err != nil {
		return nil, fmt.Errorf("kubelet API: host credentials: %w", err)
	}
	return &streamProxy{s: s, server: server, transport: rt, upgrade: proxy.NewUpgradeRequestRoundTripper(conn, wrappers)}, nil
}

// handler serves one kubelet path for the host subresource sub.
func (p *streamProxy) handler(sub string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ns, pod, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
		loc := p.location(sub, p.s.hostPodName(ns, pod), container, r.URL.Query())
		// The host credentials go on the request: nothing of the caller's.
		r.Header.Del("Authorization")
		for k := range r.Header {
			if strings.HasPrefix(k, "Impersonate-") {
				r.Header.Del(k)
			}
		}
		p.s.log.Debug("Proxying a kubelet stream to the host", "subresource", sub, "pod", ns+"/"+pod, "container", container)
		h := proxy.NewUpgradeAwareHandler(loc, p.transport, false, true, proxyResponder{p.s})
		h.UpgradeTransport = p.upgrade
		h.UseLocationHost = true
		h.ServeHTTP(w, r)
	})
}

// location is the host apiserver's URL for a kubelet streaming request:
// the subresource of the host pod, with the kubelet's query parameters
// (input, output, error, tty, command; port) under the names the API takes
// (stdin, stdout, stderr, tty, command, container; ports).
func (p *streamProxy) location(sub, hostPod, container string, kubelet url.Values) *url.URL {
	loc := *p.server
	loc.Path = strings.TrimSuffix(loc.Path, "/") + "/api/v1/namespaces/" + p.s.hostNamespace + "/pods/" + hostPod + "/" + sub
	loc.RawQuery = hostStreamQuery(sub, container, kubelet).Encode()
	return &loc
}

// hostStreamQuery translates a kubelet streaming query to the pods
// subresource's.
func hostStreamQuery(sub, container string, kubelet url.Values) url.Values {
	q := url.Values{}
	if sub == "portforward" {
		for _, v := range kubelet["port"] {
			for port := range strings.SplitSeq(v, ",") {
				if port = strings.TrimSpace(port); port != "" {
					q.Add("ports", port)
				}
			}
		}
		return q
	}
	q.Set("container", container)
	for kubeletName, apiName := range map[string]string{"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"} {
		if on(kubelet.Get(kubeletName)) {
			q.Set(apiName, "true")
		}
	}
	if sub == "exec" {
		q["command"] = kubelet["command"]
	}
	return q
}

// on reads a kubelet boolean parameter ("1" from the apiserver).
func on(v string) bool { return v == "1" || v == "true" }

// proxyResponder reports an error setting up a proxied stream.
type proxyResponder struct{ s *Syncer }

func (r proxyResponder) Error(w http.ResponseWriter, req *http.Request, err error) {
	r.s.log.Warn("Kubelet stream to the host failed", "path", req.URL.Path, "error", err)
	code := http.StatusBadGateway
	if status, ok := err.(apierrors.APIStatus); ok && status.Status().Code != 0 {
		code = int(status.Status().Code)
	}
	http.Error(w, err.Error(), code)
}
