package lifecycle

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/chartrelease"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/pki"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// Day-2 operations of the pod runtime. The cluster's state is in the pod's
// volume, out of reach, so they go through the control plane's admin
// endpoint (controlplane/admin.go): an HTTPS port next to the apiserver
// that takes only the cluster's admin client certificate. Nest finds it
// and the credentials in the kubeconfig Secret the control plane
// publishes (its key admin-url), the same channel `nest connect` uses.

// adminClient is an HTTPS client of a pod-runtime cluster's admin
// endpoint, with the published admin credentials, and its base URL.
func (p *Provider) adminClient(ctx context.Context, r *record) (*http.Client, string, error) {
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return nil, "", err
	}
	name := kubeconfigSecretName(r.Name)
	s, err := host.CoreV1().Secrets(r.HostNamespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, "", fmt.Errorf("virtual cluster %q has not published its kubeconfig (Secret %s/%s): is its pod running?", r.Name, r.HostNamespace, name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read kubeconfig of %q: %w", r.Name, err)
	}
	base := strings.TrimSuffix(string(s.Data[controlplane.AdminURLSecretKey]), "/")
	if base == "" {
		return nil, "", fmt.Errorf("virtual cluster %q publishes no admin endpoint (key %s of Secret %s/%s): its chart has controlPlane.adminPort 0, or its nest is older",
			r.Name, controlplane.AdminURLSecretKey, r.HostNamespace, name)
	}
	cfg, err := clientcmd.Load(s.Data[controlplane.KubeconfigSecretKey])
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig in Secret %s/%s: %w", r.HostNamespace, name, err)
	}
	kctx := cfg.Contexts[cfg.CurrentContext]
	if kctx == nil || cfg.Clusters[kctx.Cluster] == nil || cfg.AuthInfos[kctx.AuthInfo] == nil {
		return nil, "", fmt.Errorf("kubeconfig in Secret %s/%s has no current context", r.HostNamespace, name)
	}
	cluster, user := cfg.Clusters[kctx.Cluster], cfg.AuthInfos[kctx.AuthInfo]
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cluster.CertificateAuthorityData) {
		return nil, "", fmt.Errorf("kubeconfig in Secret %s/%s: no CA certificate", r.HostNamespace, name)
	}
	pair, err := tls.X509KeyPair(user.ClientCertificateData, user.ClientKeyData)
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig in Secret %s/%s: admin certificate: %w", r.HostNamespace, name, err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{pair}}}
	return &http.Client{Transport: tr}, base, nil
}

// adminCall does one request to the admin endpoint and returns the
// response of status 200; the caller closes its body.
func (p *Provider) adminCall(ctx context.Context, r *record, method, path string) (*http.Response, error) {
	client, base, err := p.adminClient(ctx, r)
	if err != nil {
		return nil, err
	}
	base, release, err := p.adminBase(ctx, r, base) // portforward.go
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		release()
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		release()
		return nil, fmt.Errorf("admin endpoint of %q at %s: %w", r.Name, base, err)
	}
	resp.Body = releasingBody{resp.Body, release}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("admin endpoint of %q: %s %s: %s: %s", r.Name, method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

// snapshotPod streams a snapshot from the pod into a temporary file, checks
// it whole (format, checksum, key count) and only then copies it to w.
func (p *Provider) snapshotPod(ctx context.Context, r *record, w io.Writer) (snapshot.Header, error) {
	resp, err := p.adminCall(ctx, r, http.MethodGet, controlplane.AdminSnapshotPath)
	if err != nil {
		return snapshot.Header{}, err
	}
	defer resp.Body.Close()
	tmp, err := os.CreateTemp(p.layout(r.Name).Dir, ".snapshot-*")
	if err != nil {
		return snapshot.Header{}, fmt.Errorf("snapshot of %q: %w", r.Name, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		return snapshot.Header{}, fmt.Errorf("snapshot of %q: download: %w", r.Name, err)
	}
	snap, err := snapshot.Open(tmp.Name())
	if err != nil {
		return snapshot.Header{}, fmt.Errorf("snapshot of %q: the file the pod sent is not whole: %w", r.Name, err)
	}
	if _, err := snap.ReadAll(); err != nil { // checks the records and their count
		snap.Close()
		return snapshot.Header{}, fmt.Errorf("snapshot of %q: the file the pod sent is not whole: %w", r.Name, err)
	}
	h := snap.Header
	snap.Close()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return h, err
	}
	if _, err := io.Copy(w, tmp); err != nil {
		return h, fmt.Errorf("snapshot of %q: %w", r.Name, err)
	}
	return h, nil
}

// certificatesPod lists the pod's certificates through the admin endpoint.
func (p *Provider) certificatesPod(ctx context.Context, r *record) ([]pki.CertInfo, error) {
	resp, err := p.adminCall(ctx, r, http.MethodGet, controlplane.AdminCertsPath)
	if err != nil {
		return nil, fmt.Errorf("certificates of %q: %w", r.Name, err)
	}
	defer resp.Body.Close()
	var certs []pki.CertInfo
	if err := json.NewDecoder(resp.Body).Decode(&certs); err != nil {
		return nil, fmt.Errorf("certificates of %q: %w", r.Name, err)
	}
	return certs, nil
}

// rotatePod re-issues the pod's leaf certificates through the admin
// endpoint; the control plane publishes the kubeconfig again with the new
// admin certificate.
func (p *Provider) rotatePod(ctx context.Context, r *record) ([]pki.Change, error) {
	resp, err := p.adminCall(ctx, r, http.MethodPost, controlplane.AdminRotatePath)
	if err != nil {
		return nil, fmt.Errorf("rotate certificates of %q: %w", r.Name, err)
	}
	defer resp.Body.Close()
	var changes []pki.Change
	if err := json.NewDecoder(resp.Body).Decode(&changes); err != nil {
		return nil, fmt.Errorf("rotate certificates of %q: %w", r.Name, err)
	}
	p.logger.Info("Certificates rotated", "name", r.Name, "files", len(changes))
	return changes, nil
}

// upgradePod upgrades a running pod-runtime cluster's Helm release with
// new chart values (a new image, usually): a snapshot through the admin
// endpoint first, then `helm upgrade --reuse-values --wait`; if the
// upgraded pod does not become ready, `helm rollback --wait` to the
// previous revision (the data is on the pod's volume, which both share).
func (p *Provider) upgradePod(ctx context.Context, r *record, opts UpgradeOptions) (*UpgradeResult, error) {
	name := r.Name
	if len(opts.ChartValues) == 0 {
		return nil, fmt.Errorf("upgrade %q: give the pod runtime new chart values (--image-tag, --chart-values): %w", name, ErrNoUpgrade)
	}
	if opts.NestBinary != "" {
		return nil, fmt.Errorf("upgrade %q: --nest-binary is for the process runtime; the pod runtime takes an image (--image-tag)", name)
	}
	if opts.KubernetesVersion != "" && opts.KubernetesVersion != r.KubernetesVersion {
		return nil, fmt.Errorf("upgrade %q: --kubernetes-version %s: the pod runtime runs the Kubernetes its image embeds; name an image whose nest embeds it (--image-tag) and leave --kubernetes-version unset", name, opts.KubernetesVersion)
	}
	if c := p.describe(ctx, r); c.State != StateRunning {
		return nil, fmt.Errorf("upgrade %q: it is %s: a pod-runtime upgrade snapshots the running control plane first; resume it", name, c.State)
	}
	res := &UpgradeResult{From: NestBuild{Nest: r.NestVersion, Kubernetes: r.KubernetesVersion}}
	res.To = res.From
	if tag := imageTag(opts.ChartValues); tag != "" {
		res.To.Nest = tag
	}
	res.Snapshot = filepath.Join(p.layout(name).Dir, "backups", fmt.Sprintf("pre-upgrade-%s.snapshot", time.Now().UTC().Format("20060102T150405Z")))
	if err := os.MkdirAll(filepath.Dir(res.Snapshot), 0o700); err != nil {
		return nil, fmt.Errorf("upgrade %q: %w", name, err)
	}
	if _, err := p.Snapshot(ctx, name, res.Snapshot); err != nil {
		return nil, fmt.Errorf("upgrade %q: snapshot before upgrading: %w (nothing was changed)", name, err)
	}
	p.logger.Info("Snapshot taken before the upgrade", "name", name, "file", res.Snapshot)
	rel := chartrelease.Release{Kubeconfig: r.HostKubeconfig, Namespace: r.HostNamespace, Name: name, Values: opts.ChartValues}
	from, to, err := chartrelease.Upgrade(ctx, rel, opts.Timeout, p.logger)
	if err != nil {
		if to == 0 {
			return nil, fmt.Errorf("upgrade %q: %w (nothing was changed)", name, err)
		}
		p.logger.Warn("Upgrade failed, rolling back", "name", name, "revision", from, "error", err)
		rerr := chartrelease.Rollback(r.HostKubeconfig, r.HostNamespace, name, from, opts.Timeout, p.logger)
		if rerr == nil {
			rerr = p.replaceStuckPod(ctx, r, opts.Timeout)
		}
		if rerr != nil {
			return nil, fmt.Errorf("upgrade %q failed: %w; rolling back to revision %d failed too: %v (snapshot: %s)", name, err, from, rerr, res.Snapshot)
		}
		return nil, fmt.Errorf("upgrade %q failed: %w; rolled back to release revision %d (snapshot taken before: %s)", name, err, from, res.Snapshot)
	}
	if res.To.Nest != "" {
		r.NestVersion = res.To.Nest
		if err := p.saveRecord(r); err != nil {
			return nil, err
		}
	}
	p.logger.Info("Virtual cluster upgraded", "name", name, "revision", to, "nest", res.To.Nest)
	if res.Cluster, err = p.Get(ctx, name); err != nil {
		return nil, err
	}
	return res, nil
}

// imageTag is image.tag of chart values, "" if unset.
func imageTag(values map[string]any) string {
	img, _ := values["image"].(map[string]any)
	tag, _ := img["tag"].(string)
	return tag
}

// replaceStuckPod deletes the control plane's pod when it is not of the
// StatefulSet's current revision (a rolled-back upgrade whose pod never
// became Ready: the StatefulSet controller waits for it forever,
// kubernetes/kubernetes#67250), then waits for one ready pod.
func (p *Provider) replaceStuckPod(ctx context.Context, r *record, timeout time.Duration) error {
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return err
	}
	stsName := chartFullname(r.Name)
	deadline, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The StatefulSet controller computes the rolled-back revision first.
	var sts *appsv1.StatefulSet
	for {
		sts, err = host.AppsV1().StatefulSets(r.HostNamespace).Get(deadline, stsName, metav1.GetOptions{})
		if err == nil && sts.Status.ObservedGeneration >= sts.Generation && sts.Status.UpdateRevision != "" {
			break
		}
		select {
		case <-deadline.Done():
			return fmt.Errorf("StatefulSet %s/%s: rolled-back revision not observed after %s", r.HostNamespace, stsName, timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
	selector := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": r.Name, "app.kubernetes.io/component": "controlplane"}).String()
	pods, err := host.CoreV1().Pods(r.HostNamespace).List(deadline, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list the control plane's pods: %w", err)
	}
	for _, pod := range pods.Items {
		if pod.Labels[appsv1.ControllerRevisionHashLabelKey] == sts.Status.UpdateRevision || pod.DeletionTimestamp != nil {
			continue
		}
		p.logger.Info("Replacing the control plane's pod of the failed revision", "pod", pod.Name)
		if err := host.CoreV1().Pods(r.HostNamespace).Delete(deadline, pod.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s: %w", pod.Name, err)
		}
	}
	return p.scalePod(ctx, r, 1, timeout)
}
