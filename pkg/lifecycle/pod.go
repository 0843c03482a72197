package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/nestcluster/nest/pkg/chartrelease"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/restoreparts"
)

// The pod runtime runs the control plane as the nest chart's StatefulSet
// in the host namespace: the chart is installed as a Helm release named
// after the cluster (charts/nest, docs/chart.md). Nest keeps the same
// record and state directory as for the process runtime, but the cluster's
// state (datastore, certificates) lives in the pod's volume.

// chartFullname is the chart's "nest.fullname" for a release: the name of
// its StatefulSet, Service, ServiceAccount and Role.
func chartFullname(release string) string {
	if strings.Contains(release, "nest") {
		return release
	}
	return release + "-nest"
}

// chartServiceAccount is the chart's "nest.serviceAccountName": the
// account its control plane runs as.
func chartServiceAccount(release string, values map[string]any) string {
	if sa, ok := values["serviceAccount"].(map[string]any); ok {
		if name, ok := sa["name"].(string); ok && name != "" {
			return name
		}
	}
	return chartFullname(release)
}

// chartValues are the release values: the user's, then the cluster's name
// and nest.yaml, which win.
func chartValues(name string, cfg *config.Config, user map[string]any) (map[string]any, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var cfgMap map[string]any
	if err := json.Unmarshal(data, &cfgMap); err != nil {
		return nil, err
	}
	values := maps.Clone(user)
	if values == nil {
		values = map[string]any{}
	}
	values["clusterName"] = name
	cp, _ := values["controlPlane"].(map[string]any)
	cp = maps.Clone(cp)
	if cp == nil {
		cp = map[string]any{}
	}
	cp["config"] = cfgMap
	values["controlPlane"] = cp
	return values, nil
}

// installChart installs the cluster's release and waits for its pod.
func (p *Provider) installChart(ctx context.Context, r *record, cfg *config.Config, user map[string]any, timeout time.Duration) error {
	values, err := chartValues(r.Name, cfg, user)
	if err != nil {
		return err
	}
	return chartrelease.Install(ctx, chartrelease.Release{
		Kubeconfig: r.HostKubeconfig, Namespace: r.HostNamespace, Name: r.Name, Values: values,
	}, timeout, p.logger)
}

// describePod fills in the state and endpoint of a pod-runtime cluster
// from its StatefulSet.
func (p *Provider) describePod(ctx context.Context, r *record, c *Cluster) {
	c.Endpoint = fmt.Sprintf("https://%s.%s.svc:443", chartFullname(r.Name), r.HostNamespace)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		c.State = StateNotReady
		return
	}
	sts, err := host.AppsV1().StatefulSets(r.HostNamespace).Get(ctx, chartFullname(r.Name), metav1.GetOptions{})
	switch {
	case err != nil:
		c.State = StateNotReady
	case sts.Spec.Replicas != nil && *sts.Spec.Replicas == 0 && p.paused(r.Name):
		c.State = StatePaused
	case sts.Spec.Replicas != nil && *sts.Spec.Replicas == 0:
		c.State = StateStopped
	case sts.Status.ReadyReplicas >= 1:
		c.State = StateRunning
	default:
		c.State = StateNotReady
	}
}

// scalePod scales the cluster's StatefulSet and waits until it has that
// many ready pods (and no others).
func (p *Provider) scalePod(ctx context.Context, r *record, replicas int32, timeout time.Duration) error {
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return err
	}
	stsName := chartFullname(r.Name)
	scale, err := host.AppsV1().StatefulSets(r.HostNamespace).GetScale(ctx, stsName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read scale of StatefulSet %s/%s: %w", r.HostNamespace, stsName, err)
	}
	if scale.Spec.Replicas != replicas {
		scale.Spec.Replicas = replicas
		if _, err := host.AppsV1().StatefulSets(r.HostNamespace).UpdateScale(ctx, stsName, scale, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("scale StatefulSet %s/%s to %d: %w", r.HostNamespace, stsName, replicas, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	selector := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": r.Name, "app.kubernetes.io/component": "controlplane"}).String()
	for {
		sts, err := host.AppsV1().StatefulSets(r.HostNamespace).Get(ctx, stsName, metav1.GetOptions{})
		pods, perr := host.CoreV1().Pods(r.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil && perr == nil && sts.Status.ReadyReplicas == replicas && int32(len(pods.Items)) == replicas {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("StatefulSet %s/%s not at %d ready pods after %s", r.HostNamespace, stsName, replicas, timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startPod scales a stopped or paused pod-runtime cluster back to one pod.
func (p *Provider) startPod(ctx context.Context, r *record, timeout time.Duration) (*Cluster, error) {
	if err := p.scalePod(ctx, r, 1, timeout); err != nil {
		return nil, fmt.Errorf("start virtual cluster %q: %w", r.Name, err)
	}
	// The syncer in the pod puts the paused pods back; nothing here can
	// watch it finish, so the marker goes once the pod is ready.
	if err := os.Remove(p.layout(r.Name).PausedPath()); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return p.Get(ctx, r.Name)
}

// deletePodRuntime uninstalls the release and deletes what its
// StatefulSet made that Helm does not own: the state volume's claims and
// the kubeconfig Secret the control plane published.
func (p *Provider) deletePodRuntime(ctx context.Context, r *record) error {
	if err := chartrelease.Uninstall(r.HostKubeconfig, r.HostNamespace, r.Name, 2*time.Minute, p.logger); err != nil {
		return err
	}
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return err
	}
	selector := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": r.Name, "app.kubernetes.io/component": "controlplane"}).String()
	claims, err := host.CoreV1().PersistentVolumeClaims(r.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list state claims: %w", err)
	}
	for _, c := range claims.Items {
		if err := host.CoreV1().PersistentVolumeClaims(r.HostNamespace).Delete(ctx, c.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete state claim %s: %w", c.Name, err)
		}
	}
	if err := restoreparts.Remove(ctx, host, r.HostNamespace, r.Name); err != nil {
		return err
	}
	return deletePublishedKubeconfig(ctx, host, r)
}

// kubeconfigSecretName is the Secret the chart's control plane publishes
// its admin kubeconfig in.
func kubeconfigSecretName(release string) string { return chartFullname(release) + "-kubeconfig" }

func deletePublishedKubeconfig(ctx context.Context, host kubernetes.Interface, r *record) error {
	s, err := host.CoreV1().Secrets(r.HostNamespace).Get(ctx, kubeconfigSecretName(r.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read kubeconfig secret: %w", err)
	}
	if s.Labels["nest.dev/kubeconfig-of"] != r.Name {
		return nil // not the one our control plane made
	}
	if err := host.CoreV1().Secrets(r.HostNamespace).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete kubeconfig secret %s: %w", s.Name, err)
	}
	return nil
}

// podKubeconfig reads the admin kubeconfig the control plane published in
// its host namespace. Its server is the Service's in-cluster URL: from
// outside the host, port-forward the Service (see docs/chart.md).
func (p *Provider) podKubeconfig(ctx context.Context, r *record) (*clientcmdapi.Config, error) {
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return nil, err
	}
	secret := kubeconfigSecretName(r.Name)
	s, err := host.CoreV1().Secrets(r.HostNamespace).Get(ctx, secret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("virtual cluster %q has not published its kubeconfig (Secret %s/%s): is its pod running?", r.Name, r.HostNamespace, secret)
	}
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig of %q: %w", r.Name, err)
	}
	cfg, err := clientcmd.Load(s.Data[controlplane.KubeconfigSecretKey])
	if err != nil {
		return nil, fmt.Errorf("kubeconfig in Secret %s/%s: %w", r.HostNamespace, secret, err)
	}
	return cfg, nil
}
