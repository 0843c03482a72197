package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/nestcluster/nest/pkg/kube"
)

// A pod-runtime cluster's apiserver and admin endpoint are published at
// the chart Service's in-cluster URLs. From outside the host's network
// Nest reaches them with a port-forward through the host's apiserver to
// the control plane's ready pod (pods/portforward in the cluster's host
// namespace, with the user's host kubeconfig: nothing cluster-wide). The
// port-forward carries bytes: TLS stays end to end, and Nest still checks
// the apiserver's certificate against the cluster's CA (127.0.0.1 is one
// of its names).

// Container port names of the chart's control-plane pod.
const (
	podPortAPIServer = "https"
	podPortAdmin     = "admin"
)

// AdminAccess says how Nest reaches a pod-runtime cluster's admin endpoint
// (snapshot, upgrade, certs).
type AdminAccess string

const (
	// AdminAccessAuto tries the published admin URL (a quick TCP connect)
	// and, when it cannot be reached from here, port-forwards to the pod.
	AdminAccessAuto AdminAccess = ""
	// AdminAccessDirect always uses the published admin URL.
	AdminAccessDirect AdminAccess = "direct"
	// AdminAccessPortForward always port-forwards to the pod.
	AdminAccessPortForward AdminAccess = "port-forward"
)

// WithAdminAccess sets how the admin endpoint of pod-runtime clusters is
// reached; the default tries the published URL, then a port-forward.
func WithAdminAccess(a AdminAccess) Option {
	return optionFunc(func(p *Provider) error { p.adminAccess = a; return nil })
}

// reachTimeout bounds the check that a published URL is reachable from
// here: outside the host a Service name does not resolve (at once), and a
// cluster IP that is not routed here never answers.
const reachTimeout = 2 * time.Second

// PortForwardOptions are the local side of a port-forward.
type PortForwardOptions struct {
	// Address is the local address to listen on; "" is 127.0.0.1.
	Address string
	// Port and AdminPort are the local ports of the apiserver and of the
	// admin endpoint; 0 picks a free one. AdminPort -1 forwards no admin
	// endpoint.
	Port, AdminPort int
}

func (o PortForwardOptions) validate() error {
	if o.Address != "" && net.ParseIP(o.Address) == nil && o.Address != "localhost" {
		return fmt.Errorf("--address %q: give an IP address (127.0.0.1, 0.0.0.0) or localhost", o.Address)
	}
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("--port %d: must be between 0 (a free port) and 65535", o.Port)
	}
	if o.AdminPort < -1 || o.AdminPort > 65535 {
		return fmt.Errorf("--admin-port %d: must be between 0 (a free port) and 65535, or -1 (none)", o.AdminPort)
	}
	if o.Port != 0 && o.Port == o.AdminPort {
		return fmt.Errorf("--port and --admin-port are both %d", o.Port)
	}
	return nil
}

// Forward is a running port-forward to a pod-runtime cluster's control
// plane. When the pod goes (a restart, an upgrade) it follows the next
// ready pod on the same local ports, until Close or its context ends.
type Forward struct {
	// Server is the apiserver's local URL, AdminURL the admin endpoint's
	// ("" when not forwarded).
	Server, AdminURL string
	// Kubeconfig is the cluster's published admin kubeconfig (context
	// ContextName(name)) with Server as its server.
	Kubeconfig *clientcmdapi.Config

	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// Done is closed when the forward has stopped.
func (f *Forward) Done() <-chan struct{} { return f.done }

// Err is why the forward stopped (nil after Close).
func (f *Forward) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close stops the forward and waits for it.
func (f *Forward) Close() error {
	f.cancel()
	<-f.done
	return nil
}

// PortForward forwards local ports to a pod-runtime cluster's apiserver
// and admin endpoint through the host's apiserver, with the kubeconfig it
// was created with. It returns once the local ports listen.
func (p *Provider) PortForward(ctx context.Context, name string, opts PortForwardOptions) (*Forward, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	r, err := p.loadRecord(name)
	if err != nil {
		return nil, err
	}
	if r.Runtime != RuntimePod {
		return nil, fmt.Errorf("port-forward %q: it runs as a process of this machine (runtime %s): its apiserver already listens here, use `nest connect %s`", name, RuntimeProcess, name)
	}
	kcfg, err := p.Kubeconfig(ctx, name)
	if err != nil {
		return nil, err
	}
	f, err := p.portForward(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	n := ContextName(name)
	cluster := *kcfg.Clusters[n]
	cluster.Server = f.Server
	if a := opts.Address; a != "" && a != "localhost" && !net.ParseIP(a).IsLoopback() && !net.ParseIP(a).IsUnspecified() {
		// The certificate names the Service and loopback, not this address.
		cluster.TLSServerName = chartFullname(name) + "." + r.HostNamespace + ".svc"
	}
	kcfg.Clusters[n] = &cluster
	f.Kubeconfig = kcfg
	return f, nil
}

// portForward starts the forward of a pod-runtime cluster r.
func (p *Provider) portForward(ctx context.Context, r *record, opts PortForwardOptions) (*Forward, error) {
	cfg, err := kube.RESTConfig(r.HostKubeconfig, "")
	if err != nil {
		return nil, err
	}
	host, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("host client: %w", err)
	}
	pod, err := p.readyControlPlanePod(ctx, host, r)
	if err != nil {
		return nil, err
	}
	remote, err := podPort(pod, podPortAPIServer)
	if err != nil {
		return nil, err
	}
	ports := []string{fmt.Sprintf("%d:%d", opts.Port, remote)}
	if opts.AdminPort >= 0 {
		admin, err := podPort(pod, podPortAdmin)
		if err != nil {
			return nil, fmt.Errorf("%w (the chart's controlPlane.adminPort is 0: forward with no admin port)", err)
		}
		ports = append(ports, fmt.Sprintf("%d:%d", opts.AdminPort, admin))
	}
	address := opts.Address
	if address == "" {
		address = "127.0.0.1"
	}
	fctx, cancel := context.WithCancel(context.Background())
	f := &Forward{cancel: cancel, done: make(chan struct{})}
	first, err := p.startForwarder(fctx, cfg, pod, address, ports)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	local, err := first.pf.GetPorts()
	if err != nil {
		cancel()
		return nil, err
	}
	urlHost := address
	if net.ParseIP(address) != nil && net.ParseIP(address).IsUnspecified() || address == "localhost" {
		urlHost = "127.0.0.1"
	}
	f.Server = "https://" + net.JoinHostPort(urlHost, strconv.Itoa(int(local[0].Local)))
	fixed := []string{fmt.Sprintf("%d:%d", local[0].Local, local[0].Remote)}
	if len(local) > 1 {
		f.AdminURL = "https://" + net.JoinHostPort(urlHost, strconv.Itoa(int(local[1].Local)))
		fixed = append(fixed, fmt.Sprintf("%d:%d", local[1].Local, local[1].Remote))
	}
	p.logger.Info("Forwarding to the control plane's pod", "name", r.Name, "pod", pod.Namespace+"/"+pod.Name, "server", f.Server, "admin", f.AdminURL)
	go func() {
		defer close(f.done)
		err := f.follow(fctx, p, host, cfg, r, address, fixed, first)
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
	}()
	// The caller's context ends the forward too.
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-f.done:
		}
	}()
	return f, nil
}

// follow waits for the running forwarder to end and, until ctx ends,
// starts the next one to the then ready pod on the same local ports.
func (f *Forward) follow(ctx context.Context, p *Provider, host kubernetes.Interface, cfg *rest.Config, r *record, address string, ports []string, running *forwarder) error {
	for {
		err := running.wait(ctx)
		if ctx.Err() != nil {
			return nil
		}
		p.logger.Warn("Port-forward to the control plane's pod lost, following the next ready pod", "name", r.Name, "error", err)
		for {
			pod, perr := p.readyControlPlanePod(ctx, host, r)
			if perr == nil {
				if running, perr = p.startForwarder(ctx, cfg, pod, address, ports); perr == nil {
					p.logger.Info("Forwarding to the control plane's pod", "name", r.Name, "pod", pod.Namespace+"/"+pod.Name)
					break
				}
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}

// forwarder is one client-go port-forwarder to one pod.
type forwarder struct {
	pf   *portforward.PortForwarder
	stop chan struct{}
	errc chan error
}

// wait returns when the forwarder ends (its connection to the pod lost)
// or ctx ends (then it stops it).
func (fw *forwarder) wait(ctx context.Context) error {
	select {
	case err := <-fw.errc:
		return err
	case <-ctx.Done():
		close(fw.stop)
		<-fw.errc
		return ctx.Err()
	}
}

// startForwarder port-forwards ports ("LOCAL:REMOTE") on address to pod,
// over a websocket tunnel as kubectl 1.34 does, or SPDY where the host's
// apiserver does not take it; it returns once the local ports listen.
func (p *Provider) startForwarder(ctx context.Context, cfg *rest.Config, pod *corev1.Pod, address string, ports []string) (*forwarder, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("host URL %q: %w", cfg.Host, err)
	}
	u.Path, _ = url.JoinPath(u.Path, "api/v1/namespaces", pod.Namespace, "pods", pod.Name, "portforward")
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward transport: %w", err)
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward websocket dialer: %w", err)
	}
	dialer = portforward.NewFallbackDialer(tunnel, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	fw := &forwarder{stop: make(chan struct{}), errc: make(chan error, 1)}
	ready := make(chan struct{})
	fw.pf, err = portforward.NewOnAddresses(dialer, []string{address}, ports, fw.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward %v: %w", ports, err)
	}
	go func() { fw.errc <- fw.pf.ForwardPorts() }()
	select {
	case <-ready:
		return fw, nil
	case err := <-fw.errc:
		if err == nil {
			err = errors.New("stopped before it was ready")
		}
		return nil, err
	case <-ctx.Done():
		close(fw.stop)
		<-fw.errc
		return nil, ctx.Err()
	}
}

// readyControlPlanePod is the running, ready pod of the cluster's
// StatefulSet.
func (p *Provider) readyControlPlanePod(ctx context.Context, host kubernetes.Interface, r *record) (*corev1.Pod, error) {
	selector := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": r.Name, "app.kubernetes.io/component": "controlplane"}).String()
	pods, err := host.CoreV1().Pods(r.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list the control plane's pods of %q: %w", r.Name, err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return pod, nil
			}
		}
	}
	return nil, fmt.Errorf("virtual cluster %q has no ready control-plane pod in host namespace %s (is it paused or stopped?)", r.Name, r.HostNamespace)
}

// podPort is the port of the control-plane container named name.
func podPort(pod *corev1.Pod, name string) (int32, error) {
	for _, c := range pod.Spec.Containers {
		for _, port := range c.Ports {
			if port.Name == name {
				return port.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s/%s has no container port %q", pod.Namespace, pod.Name, name)
}

// adminBase is the base URL to reach a pod-runtime cluster's admin
// endpoint published at published: that URL when it is reachable from
// here (or the provider says direct), else a port-forward to the pod's
// admin port. release ends the port-forward, if any.
func (p *Provider) adminBase(ctx context.Context, r *record, published string) (base string, release func(), err error) {
	noop := func() {}
	switch p.adminAccess {
	case AdminAccessDirect:
		return published, noop, nil
	case AdminAccessAuto:
		if reachable(ctx, published) {
			return published, noop, nil
		}
		p.logger.Debug("The published admin endpoint is not reachable from here, port-forwarding", "name", r.Name, "url", published)
	}
	f, err := p.portForward(ctx, r, PortForwardOptions{Port: 0, AdminPort: 0})
	if err != nil {
		return "", nil, fmt.Errorf("admin endpoint of %q: %s is not reachable from here, and the port-forward to its pod failed: %w", r.Name, published, err)
	}
	return f.AdminURL, func() { _ = f.Close() }, nil
}

// reachable tells whether a TCP connection to the host of rawURL opens
// within reachTimeout.
func reachable(ctx context.Context, rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return false
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// releasingBody closes a port-forward with the response body read
// through it.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// PortForwardKubeconfigPath is where `nest port-forward NAME` writes its
// kubeconfig by default: in the cluster's state directory.
func (p *Provider) PortForwardKubeconfigPath(name string) string {
	return filepath.Join(p.layout(name).Dir, "port-forward.kubeconfig")
}
