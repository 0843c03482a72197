// Package operator is `nest operator`: it reconciles VirtualCluster objects
// (nest.dev/v1alpha1) of a host cluster into virtual clusters through the
// lifecycle API, with client-go informers and a work queue, behind a
// leader-election Lease so that only one operator acts at a time.
package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/localhost"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// Config of an operator.
type Config struct {
	// HostKubeconfig is the kubeconfig file of the host cluster whose
	// VirtualCluster objects the operator reconciles, and where the virtual
	// clusters' namespaces go. Required.
	HostKubeconfig string
	// Home keeps the virtual clusters' state (the lifecycle records).
	// Required.
	Home *nesthome.Home
	// NestBinary runs the control planes; "" is the running executable.
	NestBinary string
	// ChartValues are the nest chart's values of every VirtualCluster of
	// runtime pod (image, persistence, service: docs/chart.md).
	ChartValues map[string]any
	// Namespace limits the operator to one namespace; "" watches all.
	Namespace string
	// Workers is how many virtual clusters are reconciled at once (4).
	Workers int
	// Resync is how often every VirtualCluster is reconciled again (1m).
	Resync time.Duration
	// ReadyTimeout bounds the wait for a control plane to be ready (3m).
	ReadyTimeout time.Duration
	// RetryBase and RetryMax bound the back-off of failed attempts
	// (1s and 2m).
	RetryBase, RetryMax time.Duration
	// InstallCRD applies the VirtualCluster CRD at start.
	InstallCRD bool
	// LeaderElection, on by default through the command.
	LeaderElection LeaderElection
	// Logger, discarding by default.
	Logger *slog.Logger
	// OnLeading, if set, is called when this operator starts leading
	// (for tests).
	OnLeading func()
}

// LeaderElection configures the Lease that keeps two operators from both
// acting.
type LeaderElection struct {
	// Disabled makes the operator act without a Lease.
	Disabled bool
	// Namespace and Name of the Lease ("default", "nest-operator").
	Namespace, Name string
	// Identity of this operator in the Lease; hostname_pid by default.
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod (15s, 10s, 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

func (c *Config) validate() error {
	if c.HostKubeconfig == "" {
		return errors.New("operator: the host kubeconfig is required")
	}
	if c.Home == nil {
		return errors.New("operator: the state home is required")
	}
	if c.Workers < 0 {
		return fmt.Errorf("operator: workers must be at least 1, got %d", c.Workers)
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.Resync <= 0 {
		c.Resync = time.Minute
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 3 * time.Minute
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 2 * time.Minute
	}
	if c.RetryMax < c.RetryBase {
		return fmt.Errorf("operator: the longest retry delay %s is below the first %s", c.RetryMax, c.RetryBase)
	}
	if c.Logger == nil {
		c.Logger = nestlog.Discard()
	}
	le := &c.LeaderElection
	if le.Namespace == "" {
		le.Namespace = "default"
	}
	if le.Name == "" {
		le.Name = "nest-operator"
	}
	if le.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("operator: leader election identity: %w", err)
		}
		le.Identity = fmt.Sprintf("%s_%d", host, os.Getpid())
	}
	if le.LeaseDuration <= 0 {
		le.LeaseDuration = 15 * time.Second
	}
	if le.RenewDeadline <= 0 {
		le.RenewDeadline = 10 * time.Second
	}
	if le.RetryPeriod <= 0 {
		le.RetryPeriod = 2 * time.Second
	}
	if le.RenewDeadline >= le.LeaseDuration {
		return fmt.Errorf("operator: the lease renew deadline %s must be shorter than the lease duration %s", le.RenewDeadline, le.LeaseDuration)
	}
	return nil
}

// clients of the host.
type clients struct {
	rest    *rest.Config
	kube    kubernetes.Interface
	dynamic dynamic.Interface
	crds    apiextensionsclient.Interface
}

func newClients(kubeconfig string) (*clients, error) {
	cfg, err := kube.RESTConfig(kubeconfig, "")
	if err != nil {
		return nil, fmt.Errorf("host kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "nest-operator"
	c := &clients{rest: cfg}
	if c.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.crds, err = apiextensionsclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// Run runs the operator until ctx is done: it installs the CRD if asked,
// waits to lead, and reconciles until ctx ends or the lead is lost (an
// error: the caller should exit and start again). The virtual clusters'
// control planes outlive it.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cs, err := newClients(cfg.HostKubeconfig)
	if err != nil {
		return err
	}
	if cfg.InstallCRD {
		if err := EnsureCRD(ctx, cs.crds); err != nil {
			return err
		}
		cfg.Logger.Info("VirtualCluster CRD is established")
	}
	opts := []lifecycle.Option{lifecycle.WithLogger(cfg.Logger)}
	if cfg.NestBinary != "" {
		opts = append(opts, lifecycle.WithNestBinary(cfg.NestBinary))
	}
	provider, err := lifecycle.NewProvider(cfg.Home, opts...)
	if err != nil {
		return err
	}
	ctrl := newController(cfg, cs, provider)
	if cfg.LeaderElection.Disabled {
		if cfg.OnLeading != nil {
			cfg.OnLeading()
		}
		return ctrl.run(ctx)
	}
	return runLeading(ctx, cfg, cs, ctrl.run)
}

// runLeading runs work while this operator holds the Lease.
func runLeading(ctx context.Context, cfg Config, cs *clients, work func(context.Context) error) error {
	le := cfg.LeaderElection
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metaFor(le.Namespace, le.Name),
		Client:     cs.kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: le.Identity},
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		workErr  error
		led      bool
		workDone = make(chan struct{})
	)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   le.LeaseDuration,
		RenewDeadline:   le.RenewDeadline,
		RetryPeriod:     le.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            le.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				defer close(workDone)
				mu.Lock()
				led = true
				mu.Unlock()
				cfg.Logger.Info("Leading: reconciling VirtualClusters", "lease", le.Namespace+"/"+le.Name, "identity", le.Identity)
				if cfg.OnLeading != nil {
					cfg.OnLeading()
				}
				err := work(ctx)
				mu.Lock()
				workErr = err
				mu.Unlock()
				cancel() // stop renewing: the lease goes to another operator
			},
			OnStoppedLeading: func() {
				cfg.Logger.Info("Stopped leading", "identity", le.Identity)
			},
			OnNewLeader: func(identity string) {
				if identity != le.Identity {
					cfg.Logger.Info("Another operator leads", "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	cfg.Logger.Info("Waiting to lead", "lease", le.Namespace+"/"+le.Name, "identity", le.Identity)
	elector.Run(ctx)
	mu.Lock()
	wasLeading := led
	mu.Unlock()
	if wasLeading {
		<-workDone
	}
	mu.Lock()
	defer mu.Unlock()
	if workErr != nil {
		return workErr
	}
	if wasLeading && parent.Err() == nil {
		return errors.New("operator: lost the leader election lease")
	}
	return nil
}

// StateDir is the default state directory of the operator's virtual
// clusters in a Nest home: a home of its own, so that the operator never
// adopts a cluster made by `nest create` in the same home.
func StateDir(home *nesthome.Home) string { return filepath.Join(home.Dir(), "operator") }

// LocalHostKubeconfig returns the kubeconfig of home's local host, which
// must be up.
func LocalHostKubeconfig(home *nesthome.Home) (string, error) {
	h, err := localhost.New(home)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(h.KubeconfigPath()); err != nil {
		return "", fmt.Errorf("no --kubeconfig given and %w", localhost.ErrNotUp)
	}
	return h.KubeconfigPath(), nil
}
