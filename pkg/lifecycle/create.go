package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"github.com/nestcluster/nest/pkg/ports"
	"os"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/localhost"
	"github.com/nestcluster/nest/pkg/names"
)

// CreateOptions of Create.
type CreateOptions struct {
	// HostKubeconfig locates the host cluster; "" is the local host.
	HostKubeconfig string
	// Namespace on the host; "" is names.HostNamespace(name).
	Namespace string
	// Config is the cluster's nest.yaml; nil is the default.
	Config *config.Config
	// Timeout bounds the wait for the cluster to become ready.
	Timeout time.Duration
	// Runtime is RuntimeProcess (the default, "") or RuntimePod.
	Runtime string
	// ChartValues are extra values of the nest chart (the pod runtime
	// only), e.g. image, persistence, service: docs/chart.md.
	ChartValues map[string]any
}

// Create makes a virtual cluster: its host namespace, its state, its running
// control plane; it returns once a tenant can use it (the apiserver is ready
// and the default service account exists).
func (p *Provider) Create(ctx context.Context, name string, opts CreateOptions) (*Cluster, error) {
	start := time.Now()
	r, err := p.provision(ctx, name, &opts)
	if err != nil {
		return nil, err
	}
	if r.Runtime == RuntimePod {
		cfg := opts.Config
		if cfg == nil {
			cfg = config.Default()
		}
		if err := p.installChart(ctx, r, cfg, opts.ChartValues, opts.Timeout); err != nil {
			return nil, fmt.Errorf("create virtual cluster %q: %w (`nest delete %s` removes what was made)", name, err, name)
		}
	} else if err := p.startProcess(ctx, r, opts.Timeout); err != nil {
		return nil, fmt.Errorf("start virtual cluster %q: %w (its state is kept: `nest delete %s` removes it)", name, err, name)
	}
	p.logger.Info("Virtual cluster is ready", "name", name, "elapsed", time.Since(start).Round(time.Millisecond))
	return p.Get(ctx, name)
}

// provision does what Create does before it starts the control plane: the
// host namespace and credentials, the state directory, nest.yaml and the
// record. It fills in opts' defaults.
func (p *Provider) provision(ctx context.Context, name string, opts *CreateOptions) (*record, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	cfg := opts.Config
	if cfg == nil {
		cfg = config.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	switch opts.Runtime {
	case "":
		opts.Runtime = RuntimeProcess
	case RuntimeProcess, RuntimePod:
	default:
		return nil, fmt.Errorf("runtime %q: must be %q or %q", opts.Runtime, RuntimeProcess, RuntimePod)
	}
	if opts.Runtime != RuntimePod && len(opts.ChartValues) > 0 {
		return nil, fmt.Errorf("chart values are for the %q runtime only", RuntimePod)
	}
	if _, err := p.loadRecord(name); err == nil {
		return nil, fmt.Errorf("virtual cluster %q %w: delete it first, or `nest resume %s` if it is stopped", name, ErrExists, name)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	hostKubeconfig, err := p.resolveHost(opts.HostKubeconfig)
	if err != nil {
		return nil, err
	}
	namespace := opts.Namespace
	if namespace == "" {
		namespace = names.HostNamespace(name)
	}
	// The nest binary that will run the control plane says what it is
	// while the host is set up: asking it may start a process.
	var build NestBuild
	buildErr := make(chan error, 1)
	if opts.Runtime == RuntimeProcess {
		go func() {
			var err error
			build, err = p.binaryVersion(ctx, p.nestPath)
			buildErr <- err
		}()
	}
	host, err := hostClient(ctx, hostKubeconfig)
	if err != nil {
		return nil, err
	}
	if err := ensureHostNamespace(ctx, host, namespace, name); err != nil {
		return nil, err
	}
	layout := p.layout(name)
	if err := os.MkdirAll(layout.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	// The process runtime's certificates and kubeconfigs are made while
	// the host grants are: they need only the apiserver's port.
	var port int
	certsErr := make(chan error, 1)
	if opts.Runtime == RuntimeProcess {
		if port, err = ports.Free(); err != nil {
			return nil, err
		}
		go func() {
			_, err := controlplane.PrepareCerts(layout, endpoint(port), controlplane.CertOptionsFor(cfg))
			certsErr <- err
		}()
	}
	accessErr := p.ensureHostAccess(ctx, host, hostKubeconfig, namespace, name, layout, cfg, opts)
	if opts.Runtime == RuntimeProcess {
		accessErr = errors.Join(accessErr, <-certsErr)
	}
	if accessErr != nil {
		return nil, accessErr
	}
	p.logger.Info("Host namespace is ready", "namespace", namespace)
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(layout.ConfigPath(), data, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", layout.ConfigPath(), err)
	}
	r := &record{
		Name: name, Runtime: opts.Runtime,
		HostKubeconfig: hostKubeconfig, HostNamespace: namespace,
		KubernetesVersion: config.SupportedKubernetesVersion, Created: time.Now().UTC(),
	}
	if r.Runtime == RuntimePod {
		if err := p.saveRecord(r); err != nil {
			return nil, err
		}
		return r, nil
	}
	if err := <-buildErr; err != nil {
		return nil, err
	}
	r = &record{
		Name: name, Runtime: RuntimeProcess,
		HostKubeconfig: hostKubeconfig, HostNamespace: namespace,
		Port: port, KubernetesVersion: build.Kubernetes,
		Created:    time.Now().UTC(),
		NestBinary: p.nestPath, NestVersion: build.Nest,
	}
	if err := p.saveRecord(r); err != nil {
		return nil, err
	}
	return r, nil
}

// ensureHostAccess makes the cluster's grants on the host, the independent
// ones at once: for the process runtime its own service account, Role and
// token (written to the host kubeconfig of layout) and its ClusterRole for
// cluster-scoped kinds; for both runtimes the reads of mapped host
// services in other namespaces and of host nodes.
func (p *Provider) ensureHostAccess(ctx context.Context, host kubernetes.Interface, hostKubeconfig, namespace, name string, layout controlplane.Layout, cfg *config.Config, opts *CreateOptions) error {
	var customGroups []string
	for _, cr := range cfg.Sync.CustomResources {
		customGroups = append(customGroups, cr.Group)
	}
	// Only opt-in kinds that are cluster-scoped on the host need more. The
	// chart renders its own ClusterRole (cluster-scoped kinds and node
	// reads) for its own service account; the reads of mapped host
	// services in other namespaces are granted here to whichever account
	// the control plane runs as.
	account, readNodes := hostaccess.Name, readsHostNodes(cfg)
	var wg sync.WaitGroup
	var accessErr, clusterErr, grantsErr error
	if opts.Runtime == RuntimePod {
		account, readNodes = chartServiceAccount(name, opts.ChartValues), false
	} else { // the chart brings its own service account
		wg.Go(func() {
			accessErr = writeHostAccess(ctx, host, hostKubeconfig, namespace, name, layout.HostKubeconfig(), customGroups)
		})
		wg.Go(func() {
			clusterErr = hostaccess.EnsureCluster(ctx, host, namespace, name, hostaccess.ClusterRules(cfg.Sync))
		})
	}
	wg.Go(func() {
		grantsErr = hostaccess.EnsureGrants(ctx, host, namespace, account, name, serviceReads(cfg), readNodes)
	})
	wg.Wait()
	if errors.Is(grantsErr, hostaccess.ErrNodeGrantForbidden) {
		p.logger.Warn("Virtual nodes will show generated data: these host credentials may not grant reading nodes", "error", grantsErr)
		grantsErr = nil
	}
	return errors.Join(accessErr, clusterErr, grantsErr)
}

// Start starts the control plane of a stopped or paused virtual cluster
// (after a reboot, a crash, a kill or Pause) with all its objects; it does
// nothing to one that runs.
func (p *Provider) Start(ctx context.Context, name string, timeout time.Duration) (*Cluster, error) {
	r, err := p.loadRecord(name)
	if err != nil {
		return nil, err
	}
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	c := p.describe(ctx, r)
	if c.State == StateNotReady {
		// Its process is starting, or dying (a kill takes a moment):
		// wait for it to be ready, or gone and then start it again.
		c = p.waitSettled(ctx, r, timeout)
	}
	if !c.State.Stopped() {
		return c, nil
	}
	if r.Runtime == RuntimePod {
		return p.startPod(ctx, r, timeout)
	}
	if !ports.IsFree(r.Port) {
		port, err := ports.Free()
		if err != nil {
			return nil, err
		}
		p.logger.Warn("Port taken, moving the virtual apiserver: connect again to update merged kubeconfigs", "from", r.Port, "to", port)
		r.Port = port
		if err := p.saveRecord(r); err != nil {
			return nil, err
		}
	}
	if err := p.startProcess(ctx, r, timeout); err != nil {
		return nil, fmt.Errorf("start virtual cluster %q: %w", name, err)
	}
	return p.Get(ctx, name)
}

// waitSettled waits until a cluster is no longer NotReady, or timeout.
func (p *Provider) waitSettled(ctx context.Context, r *record, timeout time.Duration) *Cluster {
	deadline := time.Now().Add(timeout)
	for {
		c := p.describe(ctx, r)
		if c.State != StateNotReady || time.Now().After(deadline) || ctx.Err() != nil {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startProcess starts `nest controlplane` for r and waits until ready.
func (p *Provider) startProcess(ctx context.Context, r *record, timeout time.Duration) error {
	layout := p.layout(r.Name)
	certOpts, err := certOptions(layout)
	if err != nil {
		return err
	}
	// Renews certificates due for renewal before the start.
	if _, err := controlplane.PrepareCerts(layout, endpoint(r.Port), certOpts); err != nil {
		return err
	}
	lockCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := controlplane.WaitUnlocked(lockCtx, layout); err != nil {
		return err
	}
	stopStaleKine(layout)
	cmd := exec.Command{
		Path: p.binaryOf(r),
		Args: []string{"controlplane",
			"--name=" + r.Name,
			"--dir=" + layout.Dir,
			"--port=" + strconv.Itoa(r.Port),
			"--config=" + layout.ConfigPath(),
			"--host-kubeconfig=" + layout.HostKubeconfig(),
			"--host-namespace=" + r.HostNamespace,
			// The cluster's DNS, on a free port of loopback: reachable by
			// tools on this machine, not by the local host's simulated pods.
			"--dns-listen=127.0.0.1:0",
		},
		LogPath: layout.LogPath(),
	}
	pid, err := p.runner.StartDetached(cmd)
	if err != nil {
		return err
	}
	if _, dry := p.runner.(exec.DryRun); dry {
		return nil
	}
	if err := exec.WritePIDFile(layout.PIDPath(), pid); err != nil {
		return err
	}
	p.logger.Info("Control plane started", "name", r.Name, "pid", pid, "endpoint", endpoint(r.Port))
	return waitUsable(ctx, layout, pid, timeout)
}

// waitUsable waits until the virtual cluster serves (all readiness checks
// but controlplane.SlowBootstrapChecks) and its default service account
// exists, which is when a tenant can use it and create pods.
func waitUsable(ctx context.Context, layout controlplane.Layout, pid int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := kube.Clientset(layout.AdminKubeconfig())
	if err != nil {
		return err
	}
	var lastErr error
	for {
		if !exec.Alive(pid, layout.Dir) {
			if msg := exec.LastError(layout.LogPath()); msg != "" {
				return fmt.Errorf("control plane exited: %s (log: %s)", msg, layout.LogPath())
			}
			return fmt.Errorf("control plane process %d exited\n%s", pid, exec.TailLog(layout.LogPath(), 15))
		}
		lastErr = apiserverReady(ctx, layout)
		if lastErr == nil {
			_, lastErr = client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
			if lastErr == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %v (log: %s)", timeout, lastErr, layout.LogPath())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// resolveHost returns the host kubeconfig path: the given one, or the local
// host's, which must be up.
func (p *Provider) resolveHost(kubeconfigPath string) (string, error) {
	if kubeconfigPath != "" {
		if _, err := os.Stat(kubeconfigPath); err != nil {
			return "", fmt.Errorf("host kubeconfig: %w", err)
		}
		return kubeconfigPath, nil
	}
	h, err := localhost.New(p.home)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(h.KubeconfigPath()); err != nil {
		return "", fmt.Errorf("no --host-kubeconfig given and %w", localhost.ErrNotUp)
	}
	return h.KubeconfigPath(), nil
}

// hostClient connects to the host and checks that it answers.
func hostClient(ctx context.Context, kubeconfigPath string) (kubernetes.Interface, error) {
	cfg, err := kube.RESTConfig(kubeconfigPath, "")
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 10 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := client.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("host cluster at %s is unreachable (is it up? `nest host up` starts the local one): %w", cfg.Host, err)
	}
	return client, nil
}

// ensureHostNamespace creates the virtual cluster's host namespace, or
// adopts it if this virtual cluster made it before (a retried create). A
// namespace that Nest does not own is never taken over. A namespace of an
// earlier virtual cluster of the same name that is still terminating is
// waited for.
func ensureHostNamespace(ctx context.Context, host kubernetes.Interface, namespace, vc string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   namespace,
		Labels: names.OwnershipLabels(vc, ""),
	}}
	for {
		_, err := host.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create host namespace %s: %w", namespace, err)
		}
		existing, err := host.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // deleted in between
		}
		if err != nil {
			return fmt.Errorf("read host namespace %s: %w", namespace, err)
		}
		if !ownsNamespace(existing, vc) {
			return fmt.Errorf("host namespace %s already exists and is not managed by Nest for %q: choose another --namespace", namespace, vc)
		}
		if existing.DeletionTimestamp == nil {
			return nil
		}
		if err := waitNamespaceGone(ctx, host, namespace); err != nil {
			return err
		}
	}
}

// waitNamespaceGone waits until the host namespace no longer exists.
func waitNamespaceGone(ctx context.Context, host kubernetes.Interface, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		_, err := host.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("host namespace %s is still terminating: %w", namespace, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ownsNamespace(ns *corev1.Namespace, vc string) bool {
	return ns.Labels[names.LabelManagedBy] == names.ManagedByValue && ns.Labels[names.LabelVirtualCluster] == names.LabelValue(vc)
}
