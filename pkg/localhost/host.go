// Package localhost runs the local host cluster: a real kube-apiserver on a
// real datastore (embedded etcd by default, or kine+SQLite), a real
// kube-controller-manager and kube-scheduler, and KWOK simulating the nodes.
// Each component is a child process of the nest binary (`nest component
// NAME`), detached so the host outlives the command that started it, and
// restarted one by one when it dies.
package localhost

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/kube"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/nesthome"
	"github.com/nestcluster/nest/pkg/pki"
)

// Defaults of Options.
const (
	DefaultNodes = 3
	// ServiceCIDR and PodCIDR of the local host.
	ServiceCIDR = "10.96.0.0/12"
	PodCIDR     = "10.244.0.0/16"
)

// Options of Up.
type Options struct {
	// Nodes is the number of simulated nodes; 0 means DefaultNodes, or the
	// number the host already has.
	Nodes int
	// Datastore is DatastoreEtcd or DatastoreKine; "" is DefaultDatastore.
	// It is fixed when the host is first created.
	Datastore string
	// Timeout bounds the wait for each component to become healthy.
	Timeout time.Duration
	// SimulateExec makes kwok answer `kubectl exec` into the host's pods by
	// running the command on this machine, as the user running kwok: for
	// tests and demos on one's own machine (anyone who can exec into a pod
	// of the host, tenants of its virtual clusters included, runs commands
	// here). It stays on once set, and takes effect when kwok (re)starts.
	SimulateExec bool
	// SimulatePortForward installs KWOK's PortForward CRD
	// (kwok.x-k8s.io/v1alpha1) and makes kwok read those objects: a
	// PortForward named after a pod, in its namespace, sends a port-forward
	// to that pod to a local address or a command (tests use it to reach a
	// process standing in for the pod). Pods without one keep the echo.
	// Whoever may create PortForward objects on the host can then make
	// kwok connect to any address this machine reaches, or run commands
	// here: for tests and demos on one's own machine. It stays on once set,
	// and takes effect when kwok (re)starts.
	SimulatePortForward bool
}

func (o *Options) validate() error {
	if o.Nodes < 0 || o.Nodes > 1000 {
		return fmt.Errorf("--nodes must be between 1 and 1000, got %d", o.Nodes)
	}
	switch o.Datastore {
	case "", DatastoreKine, DatastoreEtcd:
	default:
		return fmt.Errorf("--datastore must be %q or %q, got %q", DatastoreKine, DatastoreEtcd, o.Datastore)
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	return nil
}

// Host is the local host cluster kept in one directory of $NEST_HOME.
type Host struct {
	dir      string
	runner   exec.Runner
	nestPath string
	logger   *slog.Logger
}

// Option configures a Host.
type Option func(*Host)

// WithRunner replaces the process runner (for dry runs and tests).
func WithRunner(r exec.Runner) Option { return func(h *Host) { h.runner = r } }

// WithLogger sets the logger for progress messages.
func WithLogger(l *slog.Logger) Option { return func(h *Host) { h.logger = l } }

// WithNestBinary sets the nest executable that runs the components; by
// default the running executable.
func WithNestBinary(path string) Option { return func(h *Host) { h.nestPath = path } }

// New returns the local host kept in home.
func New(home *nesthome.Home, opts ...Option) (*Host, error) {
	h := &Host{dir: home.HostDir(), runner: exec.Local{}, logger: nestlog.Discard()}
	for _, o := range opts {
		o(h)
	}
	if h.nestPath == "" {
		self, err := exec.NestBinary()
		if err != nil {
			return nil, err
		}
		h.nestPath = self
	}
	return h, nil
}

// Dir is the directory that holds the host's state.
func (h *Host) Dir() string { return h.dir }

// KubeconfigPath is the admin kubeconfig of the local host.
func (h *Host) KubeconfigPath() string { return filepath.Join(h.dir, "kubeconfig") }

func (h *Host) pkiDir() string          { return filepath.Join(h.dir, "pki") }
func (h *Host) logDir() string          { return filepath.Join(h.dir, "logs") }
func (h *Host) runDir() string          { return filepath.Join(h.dir, "run") }
func (h *Host) dataDir() string         { return filepath.Join(h.dir, "data") }
func (h *Host) kineSocket() string      { return filepath.Join(h.runDir(), "kine.sock") }
func (h *Host) pidPath(c string) string { return filepath.Join(h.runDir(), c+".pid") }
func (h *Host) logPath(c string) string { return filepath.Join(h.logDir(), c+".log") }
func (h *Host) kubeconfigFor(c string) string {
	return filepath.Join(h.dir, "kubeconfigs", c+".kubeconfig")
}

// Client returns an admin client of the local host.
func (h *Host) Client() (kubernetes.Interface, error) {
	if _, err := os.Stat(h.KubeconfigPath()); err != nil {
		return nil, fmt.Errorf("local host has no kubeconfig (run `nest host up`): %w", err)
	}
	return kube.Clientset(h.KubeconfigPath())
}

// ErrNotUp is returned by operations that need a running host.
var ErrNotUp = errors.New("local host is not up: run `nest host up`")

func (h *Host) ensureDirs() error {
	for _, d := range []string{h.dir, h.pkiDir(), h.logDir(), h.runDir(), h.dataDir(), filepath.Dir(h.kubeconfigFor("x"))} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

func (h *Host) ensurePKI() (*pki.Bundle, error) {
	b, err := pki.Ensure(h.pkiDir(), pki.Options{ClientCerts: pki.DefaultClientCerts()})
	if err != nil {
		return nil, fmt.Errorf("local host certificates: %w", err)
	}
	for _, c := range b.Changes {
		h.logger.Debug("Certificate written", "file", c.Path, "reason", c.Reason)
	}
	return b, nil
}

// pkiPaths names the host's certificate files without reading or creating any.
func (h *Host) pkiPaths() *pki.Bundle { return &pki.Bundle{Dir: h.pkiDir()} }

// OpenDefault returns the local host of the default Nest home.
func OpenDefault(opts ...Option) (*Host, error) {
	home, err := nesthome.OpenDefault()
	if err != nil {
		return nil, err
	}
	return New(home, opts...)
}
