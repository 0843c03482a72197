// Package lifecycle is Nest's public library API for virtual clusters:
// create, list, connect, start and delete. The CLI calls it, and so will the
// hub and the operator; none of them holds lifecycle logic of its own.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/exec"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// ErrNotFound is returned for a virtual cluster that does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when creating a virtual cluster whose name is taken.
var ErrExists = errors.New("already exists")

// Provider manages the virtual clusters recorded in one Nest home.
type Provider struct {
	home     *nesthome.Home
	runner   exec.Runner
	nestPath string
	logger   *slog.Logger
	// adminAccess: how pod-runtime admin endpoints are reached (portforward.go).
	adminAccess AdminAccess
	// builds remembers what nest binaries said they are (binaryVersion).
	builds *buildCache
}

// Option configures a Provider.
type Option interface{ apply(*Provider) error }

type optionFunc func(*Provider) error

func (f optionFunc) apply(p *Provider) error { return f(p) }

// WithLogger sets the logger for progress messages.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(p *Provider) error { p.logger = l; return nil })
}

// WithRunner replaces the process runner.
func WithRunner(r exec.Runner) Option {
	return optionFunc(func(p *Provider) error { p.runner = r; return nil })
}

// WithNestBinary sets the nest executable that runs control planes; by
// default the running executable.
func WithNestBinary(path string) Option {
	return optionFunc(func(p *Provider) error {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("nest binary: %w", err)
		}
		p.nestPath = path
		return nil
	})
}

// NewProvider returns a provider for the virtual clusters kept in home.
func NewProvider(home *nesthome.Home, opts ...Option) (*Provider, error) {
	p := &Provider{home: home, runner: exec.Local{}, logger: nestlog.Discard(), builds: &buildCache{}}
	for _, o := range opts {
		if err := o.apply(p); err != nil {
			return nil, err
		}
	}
	if p.nestPath == "" {
		self, err := exec.NestBinary()
		if err != nil {
			return nil, err
		}
		p.nestPath = self
	}
	return p, nil
}

func (p *Provider) layout(name string) controlplane.Layout {
	return controlplane.Layout{Dir: p.home.ClusterDir(name)}
}

// ValidateName checks a virtual cluster name: a DNS-1123 label, since it
// becomes part of host object names and of the default host namespace.
func ValidateName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("invalid virtual cluster name %q: %s", name, errs[0])
	}
	return nil
}

// State of a virtual cluster, as List reports it.
type State string

// States.
const (
	StateRunning  State = "Running"  // process up, apiserver serving (see waitUsable)
	StateNotReady State = "NotReady" // process up, apiserver not (yet) ready
	StateStopped  State = "Stopped"  // no process: resume it with Start
	StatePaused   State = "Paused"   // stopped by Pause, its host pods removed: resume it with Start
)

// Stopped reports whether no control plane process runs (Stopped or Paused).
func (s State) Stopped() bool { return s == StateStopped || s == StatePaused }

// Cluster describes one virtual cluster.
type Cluster struct {
	Name              string    `json:"name"`
	State             State     `json:"state"`
	Runtime           string    `json:"runtime"`
	KubernetesVersion string    `json:"kubernetesVersion"`
	Host              string    `json:"host"`
	HostNamespace     string    `json:"hostNamespace"`
	Endpoint          string    `json:"endpoint"`
	PID               int       `json:"pid,omitempty"`
	Created           time.Time `json:"created"`
	// NestVersion and NestBinary are the nest that runs the control plane.
	NestVersion string `json:"nestVersion,omitempty"`
	NestBinary  string `json:"nestBinary,omitempty"`
	// Kubeconfig is the path of the cluster's admin kubeconfig.
	Kubeconfig string `json:"kubeconfig"`
}

// Get returns one virtual cluster and its state.
func (p *Provider) Get(ctx context.Context, name string) (*Cluster, error) {
	r, err := p.loadRecord(name)
	if err != nil {
		return nil, err
	}
	return p.describe(ctx, r), nil
}

// List returns every virtual cluster, sorted by name.
func (p *Provider) List(ctx context.Context) ([]Cluster, error) {
	names, err := p.names()
	if err != nil {
		return nil, err
	}
	clusters := make([]Cluster, len(names))
	errs := make([]error, len(names))
	done := make(chan struct{})
	for i, name := range names {
		go func() {
			defer func() { done <- struct{}{} }()
			c, err := p.Get(ctx, name)
			if err != nil {
				errs[i] = err
				return
			}
			clusters[i] = *c
		}()
	}
	for range names {
		<-done
	}
	return clusters, errors.Join(errs...)
}

func (p *Provider) describe(ctx context.Context, r *record) *Cluster {
	layout := p.layout(r.Name)
	c := &Cluster{
		Name: r.Name, Runtime: r.Runtime, KubernetesVersion: r.KubernetesVersion,
		Host: r.HostKubeconfig, HostNamespace: r.HostNamespace,
		Endpoint: endpoint(r.Port), Created: r.Created,
		NestVersion: r.NestVersion, NestBinary: r.NestBinary,
		Kubeconfig: layout.AdminKubeconfig(), State: StateStopped,
	}
	if r.Runtime == RuntimePod {
		c.Kubeconfig = ""
		p.describePod(ctx, r, c)
		return c
	}
	pid, err := exec.ReadPIDFile(layout.PIDPath())
	if err != nil || !exec.Alive(pid, layout.Dir) {
		if p.paused(r.Name) {
			c.State = StatePaused
		}
		return c
	}
	c.PID, c.State = pid, StateNotReady
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if apiserverReady(ctx, layout) == nil {
		c.State = StateRunning
	}
	return c
}

func endpoint(port int) string { return fmt.Sprintf("https://127.0.0.1:%d", port) }

// OpenDefault returns a provider for the default Nest home.
func OpenDefault(opts ...Option) (*Provider, error) {
	home, err := nesthome.OpenDefault()
	if err != nil {
		return nil, err
	}
	return NewProvider(home, opts...)
}
