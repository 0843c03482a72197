// Package controlplane runs one virtual cluster's control plane in a single
// process: the datastore (kine on SQLite by default, or an external etcd or
// Postgres), kube-apiserver, the kube-controller-manager controllers that need
// no nodes, optionally kube-scheduler (the virtual scheduler), and hooks
// such as the syncer. `nest controlplane` calls Run.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/transport"

	"github.com/nestcluster/nest/pkg/components"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/kubeconfig"
	"github.com/nestcluster/nest/pkg/pki"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// ServiceCIDR of virtual clusters; it matches the local host's, since synced
// services take their cluster IPs from the host.
const ServiceCIDR = "10.96.0.0/12"

// SlowBootstrapChecks are the apiserver readiness checks that a virtual
// cluster does not wait for. Both post-start hooks poll with wait.Poll(1s),
// so they cannot finish before the apiserver has served for a full second,
// whatever the datastore; they complete about a second later on their own.
// Until then the admin (system:masters, as are the in-process controllers)
// is unaffected; only the default RBAC roles for other users and the
// system-*-critical priority classes are not there yet.
var SlowBootstrapChecks = []string{
	"poststarthook/rbac/bootstrap-roles",
	"poststarthook/scheduling/bootstrap-system-priority-classes",
}

// Hook runs next to the control plane (the syncer is one) once the virtual
// apiserver is ready, until ctx ends. A hook that returns an error stops the
// control plane.
type Hook func(ctx context.Context, env HookEnv) error

// HookEnv is what a hook is given.
type HookEnv struct {
	Name          string
	Virtual       kubernetes.Interface
	VirtualConfig string // admin kubeconfig path of the virtual cluster (referring to the cert files)
	HostConfig    string // kubeconfig path of the host cluster
	HostInCluster bool   // the host is the cluster this process runs in, as a pod (its service account)
	HostNamespace string
	PKI           *pki.Bundle // the cluster's certificates (its CA signs the apiserver's kubelet client cert)
	Layout        Layout      // the cluster's state directory
	// CertsRotated returns a channel that is closed when the control plane
	// next renews certificates (the admin kubeconfig then changes too).
	CertsRotated func() <-chan struct{}
	Config       *config.Config
	Logger       *slog.Logger
}

// Config of one control plane.
type Config struct {
	// Name of the virtual cluster.
	Name string
	// Dir is the state directory (see Layout).
	Dir string
	// BindAddress and Port of the virtual apiserver.
	BindAddress string
	Port        int
	// Cluster is the virtual cluster's nest.yaml.
	Cluster *config.Config
	// HostKubeconfig and HostNamespace locate the host namespace; hooks use them.
	HostKubeconfig string
	HostNamespace  string
	// HostInCluster uses the credentials of the pod this process runs in
	// (its service account) for the host, instead of HostKubeconfig: the
	// chart's StatefulSet sets it.
	HostInCluster bool
	// TLSSANs are extra IPs and DNS names of the apiserver's serving
	// certificate, such as the names of a host Service in front of it.
	TLSSANs []string
	// AdminPort, if not 0, serves the admin endpoint (snapshot, certificates;
	// see admin.go) on BindAddress at this port.
	AdminPort int
	// RestoreFrom is a snapshot file loaded into the datastore before the
	// apiserver starts, if the datastore holds no object yet.
	RestoreFrom string
	// RestoreSecret is the manifest Secret of a snapshot carried in parts
	// in the host namespace (pkg/restoreparts, hostrestore.go): checked at
	// every start, and loaded over the datastore's objects if it names a
	// restore not applied yet. It needs the host.
	RestoreSecret string
	Hooks         []Hook
	Logger        *slog.Logger
}

func (c *Config) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("state directory is required"))
	}
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is out of range", c.Port))
	}
	if c.BindAddress == "" {
		c.BindAddress = "127.0.0.1"
	}
	if c.AdminPort < 0 || c.AdminPort > 65535 || (c.AdminPort != 0 && c.AdminPort == c.Port) {
		errs = append(errs, fmt.Errorf("admin port %d is out of range or the apiserver's", c.AdminPort))
	}
	if c.HostInCluster && c.HostKubeconfig != "" {
		errs = append(errs, errors.New("a host kubeconfig and in-cluster host credentials are exclusive"))
	}
	if c.RestoreSecret != "" && ((!c.HostInCluster && c.HostKubeconfig == "") || c.HostNamespace == "") {
		errs = append(errs, errors.New("restore secret: it is read from the host namespace, so a host (kubeconfig or in-cluster) and its namespace are required"))
	}
	for _, san := range c.TLSSANs {
		if net.ParseIP(san) == nil && len(validation.IsDNS1123Subdomain(san)) > 0 && len(validation.IsWildcardDNS1123Subdomain(san)) > 0 {
			errs = append(errs, fmt.Errorf("TLS SAN %q is neither an IP nor a DNS name", san))
		}
	}
	if c.Cluster == nil {
		c.Cluster = config.Default()
	}
	if err := c.Cluster.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}

// Run runs the control plane until ctx ends or a component fails.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("control plane config: %w", err)
	}
	start := time.Now()
	log := cfg.Logger.With("virtualCluster", cfg.Name)
	tuneGC()
	layout := Layout{Dir: cfg.Dir}
	server := LocalServer(cfg.BindAddress, cfg.Port)
	certOpts := CertOptionsFor(cfg.Cluster, cfg.TLSSANs...)
	// Before any client exists: client-go reads it when it makes one.
	transport.CertCallbackRefreshDuration = clientReloadInterval(certOpts.Validity)
	bundle, err := PrepareCerts(layout, server, certOpts)
	if err != nil {
		return err
	}
	unlock, err := LockDir(layout)
	if err != nil {
		return err
	}
	defer unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// The controller manager's flags must be built before the apiserver's.
	var runControllers func(context.Context) error
	if controllers := cfg.Cluster.ControlPlane.Controllers.KubeControllerManagerNames(); len(controllers) > 0 {
		if runControllers, err = components.NewControllerManager(controllerManagerFlags(layout, bundle, controllers)); err != nil {
			return err
		}
	}

	// So must the scheduler's (after the controller manager's).
	var runScheduler func(context.Context) error
	if cfg.Cluster.ControlPlane.Scheduler.Enabled {
		if runScheduler, err = newScheduler(layout, bundle, server); err != nil {
			return err
		}
	}

	etcdServers, err := startDatastore(ctx, cfg.Cluster.Datastore, layout)
	if err != nil {
		return err
	}
	extra := apiServerTuning(cfg.Cluster.ControlPlane.APIServer.ExtraArgs)
	prefix := StoragePrefix(cfg.Name, cfg.Cluster)
	extra["etcd-prefix"] = prefix
	log.Info("Datastore is serving", "elapsed", time.Since(start).Round(time.Millisecond))
	seeded, seedHeader := false, snapshot.Header{}
	if cfg.RestoreFrom != "" {
		if seeded, seedHeader, err = seedDatastore(ctx, cfg.RestoreFrom, cfg.Cluster, etcdServers, prefix, log); err != nil {
			return err
		}
	}
	var restore *hostRestore
	if cfg.RestoreSecret != "" {
		host, err := HookEnv{HostConfig: cfg.HostKubeconfig, HostInCluster: cfg.HostInCluster}.HostClient()
		if err != nil {
			return fmt.Errorf("restore secret: host client: %w", err)
		}
		restore = &hostRestore{src: hostSecrets{host: host, namespace: cfg.HostNamespace, cluster: cfg.Name, base: cfg.RestoreSecret},
			cluster: cfg.Name, datastore: cfg.Cluster, layout: layout, log: log}
		restored, h, err := restore.apply(ctx, etcdServers, prefix)
		if err != nil {
			return err
		}
		if restored {
			seeded, seedHeader = true, h
		}
	}

	go func() {
		args := components.APIServerFlags(components.APIServerParams{
			EtcdServers:        etcdServers,
			BindAddress:        cfg.BindAddress,
			Port:               cfg.Port,
			PKI:                bundle,
			ServiceCIDR:        ServiceCIDR,
			AuthorizationModes: "RBAC",
			Extra:              extra,
		})
		cancel(fmt.Errorf("kube-apiserver stopped: %w", components.RunAPIServer(ctx, args)))
	}()

	rotated := newRotationSignal()
	go rotateCertificates(ctx, layout, server, certOpts, rotated, log)

	client, err := kube.Clientset(layout.LocalAdminKubeconfig())
	if err != nil {
		return err
	}
	if err := kube.WaitReady(ctx, client, 20*time.Millisecond, SlowBootstrapChecks...); err != nil {
		return fmt.Errorf("virtual apiserver: %w", context.Cause(ctx))
	}
	log.Info("Virtual apiserver is ready", "elapsed", time.Since(start).Round(time.Millisecond))
	if err := ensureDefaultServiceAccount(ctx, client); err != nil {
		return err
	}
	if seeded && seedHeader.ServiceAccountKey != ServiceAccountKeySum(layout) {
		if err := ReissueTokens(ctx, client); err != nil {
			return fmt.Errorf("restore from %s: %w", cfg.RestoreFrom+cfg.RestoreSecret, err)
		}
	}
	if restore != nil {
		restore.confirm(ctx)
	}
	if cfg.AdminPort != 0 {
		admin := &adminServer{
			name: cfg.Name, cluster: cfg.Cluster, layout: layout, bundle: bundle, server: server,
			certOpts: certOpts, etcd: etcdEndpoints(etcdServers), prefix: prefix, rotated: rotated, log: log,
		}
		go func() {
			if err := admin.serve(ctx, adminAddress(cfg.BindAddress, cfg.AdminPort)); err != nil {
				cancel(err)
			}
		}()
	}

	if runControllers != nil {
		go func() {
			// kube-controller-manager polls /healthz once a second until it
			// is fully ok; starting it once it is avoids losing up to a
			// second to that poll.
			if err := kube.WaitReady(ctx, client, 20*time.Millisecond); err != nil {
				return
			}
			log.Info("Starting controllers", "elapsed", time.Since(start).Round(time.Millisecond))
			cancel(fmt.Errorf("kube-controller-manager stopped: %w", runControllers(ctx)))
		}()
	}
	if runScheduler != nil {
		go func() {
			// Like the controllers, at full readiness: the scheduler's
			// RBAC roles are the apiserver's bootstrap roles.
			if err := kube.WaitReady(ctx, client, 20*time.Millisecond); err != nil {
				return
			}
			log.Info("Starting the virtual scheduler", "elapsed", time.Since(start).Round(time.Millisecond))
			cancel(fmt.Errorf("kube-scheduler stopped: %w", runScheduler(ctx)))
		}()
	}
	env := HookEnv{
		Name: cfg.Name, Virtual: client, VirtualConfig: layout.LocalAdminKubeconfig(),
		HostConfig: cfg.HostKubeconfig, HostInCluster: cfg.HostInCluster, HostNamespace: cfg.HostNamespace,
		PKI: bundle, Layout: layout, Config: cfg.Cluster, Logger: log, CertsRotated: rotated.next,
	}
	for i, hook := range cfg.Hooks {
		go func() {
			if err := hook(ctx, env); err != nil {
				cancel(fmt.Errorf("hook %d: %w", i, err))
			}
		}()
	}
	<-ctx.Done()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// newScheduler writes the virtual scheduler's kubeconfig (referring to its
// certificate files, so it follows renewals) and parses its flags.
func newScheduler(layout Layout, b *pki.Bundle, server string) (func(context.Context) error, error) {
	files := kubeconfig.CertFiles{CA: b.CACert(), Cert: b.ClientCert("kube-scheduler"), Key: b.ClientKey("kube-scheduler")}
	if err := kubeconfig.WriteForCertFiles(layout.SchedulerKubeconfig(), "nest", "kube-scheduler", server, files); err != nil {
		return nil, fmt.Errorf("virtual scheduler: %w", err)
	}
	run, err := components.NewScheduler(schedulerFlags(layout))
	if err != nil {
		return nil, fmt.Errorf("virtual scheduler: %w", err)
	}
	return run, nil
}

// LocalServer is the URL at which this machine reaches an apiserver bound to
// bindAddress: the address itself, or loopback for a wildcard address
// (0.0.0.0 or ::, as in a pod), which no certificate names.
func LocalServer(bindAddress string, port int) string {
	host := bindAddress
	if ip := net.ParseIP(bindAddress); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// startDatastore starts kine for SQLite and Postgres, and returns the etcd
// servers for kube-apiserver.
func startDatastore(ctx context.Context, ds config.Datastore, layout Layout) (string, error) {
	ep, err := config.ParseEndpoint(ds.Endpoint)
	if err != nil {
		return "", fmt.Errorf("datastore.endpoint: %w", err)
	}
	var dsn string
	switch ep.Kind {
	case config.DatastoreEtcd:
		return strings.Join(ep.EtcdServers, ","), nil
	case config.DatastoreSQLite:
		path := SQLiteFile(ep, layout)
		if err := checkSQLite(path); err != nil {
			return "", err
		}
		dsn = components.SQLiteEndpoint(path)
	case config.DatastorePostgres:
		dsn = ep.URL
	default:
		return "", fmt.Errorf("datastore kind %q is not supported", ep.Kind)
	}
	_ = os.Remove(layout.KineSocket()) // left behind by a killed process
	return components.StartKine(ctx, components.KineConfig(dsn, "unix://"+layout.KineSocket()))
}

// StoragePrefix is the key prefix of a virtual cluster's objects in its
// datastore: the apiserver's own default on a datastore of its own (SQLite,
// Postgres), config.EtcdPrefix on an external etcd that several virtual
// clusters may share; an etcd-prefix in controlPlane.apiServer.extraArgs
// wins.
func StoragePrefix(name string, cfg *config.Config) string {
	if p, set := cfg.ControlPlane.APIServer.ExtraArgs["etcd-prefix"]; set {
		return p
	}
	if ep, _ := config.ParseEndpoint(cfg.Datastore.Endpoint); ep.Kind == config.DatastoreEtcd {
		return config.EtcdPrefix(name)
	}
	return "/registry"
}

// SQLiteFile is the database file of a SQLite datastore endpoint: the one
// it names, or the default in the state directory.
func SQLiteFile(ep config.Endpoint, layout Layout) string {
	if ep.SQLitePath != "" {
		return ep.SQLitePath
	}
	return layout.SQLitePath()
}

// defaultGCPercent trades some CPU for memory: the control plane's live heap
// is ~90 MiB, mostly OpenAPI and API machinery built once at start, so Go's
// default (let the heap grow to twice the live size) costs ~50 MiB per
// virtual cluster for little gain. Measured in docs/controlplane.md; the
// GOGC environment variable still wins.
const defaultGCPercent = 50

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// LockDir takes an exclusive lock on the state directory, held by a control
// plane for the life of its process, so that two control planes never share
// one SQLite file or socket, and by the lifecycle while it works on a
// stopped cluster's datastore. The kernel drops the lock when the process
// dies, even by SIGKILL.
func LockDir(layout Layout) (func(), error) {
	f, err := tryLock(layout)
	if err != nil {
		return nil, fmt.Errorf("another control plane is running in %s: %w", layout.Dir, err)
	}
	return func() { f.Close() }, nil
}

// WaitUnlocked waits until no process holds the state directory's lock, for
// a restart right after a kill: the kernel releases it only once every
// thread of the old process has exited.
func WaitUnlocked(ctx context.Context, layout Layout) error {
	for {
		f, err := tryLock(layout)
		if err == nil {
			return f.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("another control plane still runs in %s: %w", layout.Dir, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tryLock(layout Layout) (*os.File, error) {
	path := filepath.Join(layout.RunDir(), "controlplane.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s is held: %w", path, err)
	}
	return f, nil
}

// ensureDefaultServiceAccount creates the default namespace's default
// service account as soon as the apiserver serves, so that pods can be
// created before the serviceaccount controller (which would create the very
// same object, and owns it from then on) has started.
func ensureDefaultServiceAccount(ctx context.Context, client kubernetes.Interface) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: metav1.NamespaceDefault}}
	for {
		_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Create(ctx, sa, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		// The default namespace itself is created by the apiserver at start.
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("create default service account: %w", err)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
