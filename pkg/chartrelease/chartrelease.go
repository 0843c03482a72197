// Package chartrelease installs, upgrades, rolls back and uninstalls the
// embedded nest chart (charts/nest) as a Helm release with the Helm SDK, as
// `helm install --wait`, `helm upgrade --reuse-values --wait`, `helm
// rollback` and `helm uninstall --wait` do, release record included. The
// lifecycle's pod runtime uses it.
package chartrelease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/nestcluster/nest/charts"
)

// Release is one installation of the nest chart.
type Release struct {
	// Kubeconfig of the host; Namespace and Name of the release.
	Kubeconfig, Namespace, Name string
	// Values override the chart's values.yaml (checked by its schema).
	Values map[string]any
}

// Install installs the release and waits until every object it made is
// ready (the StatefulSet's pod Ready), or timeout.
func Install(ctx context.Context, r Release, timeout time.Duration, log *slog.Logger) error {
	cfg, err := configuration(r.Kubeconfig, r.Namespace, log)
	if err != nil {
		return err
	}
	chart, err := charts.Load(charts.NestChart)
	if err != nil {
		return err
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = r.Name, r.Namespace
	install.Wait, install.Timeout = true, timeout
	if _, err := install.RunWithContext(ctx, chart, r.Values); err != nil {
		return fmt.Errorf("helm install %s in %s: %w", r.Name, r.Namespace, err)
	}
	return nil
}

// Upgrade upgrades the release to the embedded chart with its current
// values overlaid by r.Values (as `helm upgrade --reuse-values --wait`),
// and waits until every object is ready, or timeout. It returns the
// revision it replaced (for Rollback) and the new one; on an error, a new
// revision of 0 means nothing was changed.
func Upgrade(ctx context.Context, r Release, timeout time.Duration, log *slog.Logger) (from, to int, err error) {
	cfg, err := configuration(r.Kubeconfig, r.Namespace, log)
	if err != nil {
		return 0, 0, err
	}
	current, err := action.NewGet(cfg).Run(r.Name)
	if err != nil {
		return 0, 0, fmt.Errorf("helm get %s in %s: %w", r.Name, r.Namespace, err)
	}
	chart, err := charts.Load(charts.NestChart)
	if err != nil {
		return current.Version, 0, err
	}
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace, upgrade.ReuseValues = r.Namespace, true
	upgrade.Wait, upgrade.Timeout = true, timeout
	rel, err := upgrade.RunWithContext(ctx, r.Name, chart, r.Values)
	if err != nil {
		// A revision recorded (and failed) means objects changed.
		if rel != nil && rel.Version != current.Version {
			return current.Version, rel.Version, fmt.Errorf("helm upgrade %s in %s: %w", r.Name, r.Namespace, err)
		}
		return current.Version, 0, fmt.Errorf("helm upgrade %s in %s: %w", r.Name, r.Namespace, err)
	}
	return current.Version, rel.Version, nil
}

// Rollback rolls the release back to revision (as `helm rollback`),
// without waiting: a StatefulSet whose pod is stuck (not Ready) does not
// replace it by itself (kubernetes/kubernetes#67250), so the caller repairs
// and waits.
func Rollback(kubeconfig, namespace, name string, revision int, timeout time.Duration, log *slog.Logger) error {
	cfg, err := configuration(kubeconfig, namespace, log)
	if err != nil {
		return err
	}
	rollback := action.NewRollback(cfg)
	rollback.Version, rollback.Timeout = revision, timeout
	if err := rollback.Run(name); err != nil {
		return fmt.Errorf("helm rollback %s to revision %d in %s: %w", name, revision, namespace, err)
	}
	return nil
}

// Values returns the values the release was installed or upgraded with
// (the user-supplied ones, as `helm get values`).
func Values(kubeconfig, namespace, name string, log *slog.Logger) (map[string]any, int, error) {
	cfg, err := configuration(kubeconfig, namespace, log)
	if err != nil {
		return nil, 0, err
	}
	rel, err := action.NewGet(cfg).Run(name)
	if err != nil {
		return nil, 0, fmt.Errorf("helm get %s in %s: %w", name, namespace, err)
	}
	return rel.Config, rel.Version, nil
}

// Uninstall removes the release and waits for its objects to go; a
// release that does not exist is not an error.
func Uninstall(kubeconfig, namespace, name string, timeout time.Duration, log *slog.Logger) error {
	cfg, err := configuration(kubeconfig, namespace, log)
	if err != nil {
		return err
	}
	uninstall := action.NewUninstall(cfg)
	uninstall.Wait, uninstall.Timeout = true, timeout
	if _, err := uninstall.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("helm uninstall %s in %s: %w", name, namespace, err)
	}
	return nil
}

// Exists reports whether the release is recorded in namespace.
func Exists(kubeconfig, namespace, name string, log *slog.Logger) (bool, error) {
	cfg, err := configuration(kubeconfig, namespace, log)
	if err != nil {
		return false, err
	}
	_, err = action.NewGet(cfg).Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return false, nil
	}
	return err == nil, err
}

// configuration is Helm's action configuration for a namespace, release
// records in Secrets (Helm's default driver).
func configuration(kubeconfig, namespace string, log *slog.Logger) (*action.Configuration, error) {
	getter := &restGetter{config: clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{Context: clientcmdContext(namespace)})}
	cfg := new(action.Configuration)
	debug := func(format string, v ...any) { log.Debug(fmt.Sprintf(format, v...), "component", "helm") }
	if err := cfg.Init(getter, namespace, "secret", debug); err != nil {
		return nil, fmt.Errorf("helm configuration for %s: %w", namespace, err)
	}
	return cfg, nil
}

// restGetter is the RESTClientGetter Helm's kube client needs, on a
// kubeconfig file.
type restGetter struct {
	config clientcmd.ClientConfig
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return g.config.ClientConfig() }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	cfg, err := g.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return memory.NewMemCacheClient(dc), nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	return restmapper.NewDeferredDiscoveryRESTMapper(dc), nil
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.config }

func clientcmdContext(namespace string) clientcmdapi.Context {
	return clientcmdapi.Context{Namespace: namespace}
}
