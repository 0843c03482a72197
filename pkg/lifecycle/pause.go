package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/pkg/fsutil"
	"github.com/nestcluster/nest/pkg/names"
)

// Pause stops a virtual cluster and removes its pods from the host, so that
// it costs the host nothing but its stored objects (services, configmaps,
// secrets and claims stay, and so does every object in the virtual
// cluster). Start resumes it: the syncer puts every pod back. Pausing a
// paused cluster does nothing.
//
// The marker file is written first, so a pause interrupted at any point
// is finished by the next Pause, and a Start after it still resumes.
func (p *Provider) Pause(ctx context.Context, name string) error {
	r, err := p.loadRecord(name)
	if err != nil {
		return err
	}
	layout := p.layout(name)
	if err := fsutil.WriteFileAtomic(layout.PausedPath(), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
		return fmt.Errorf("pause virtual cluster %q: %w", name, err)
	}
	if err := p.Stop(ctx, name); err != nil {
		return fmt.Errorf("pause virtual cluster %q: %w", name, err)
	}
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return fmt.Errorf("pause virtual cluster %q: %w (run pause again to remove its host pods)", name, err)
	}
	n, err := deleteHostPods(ctx, host, r.HostNamespace, name)
	if err != nil {
		return fmt.Errorf("pause virtual cluster %q: %w (run pause again to finish)", name, err)
	}
	p.logger.Info("Virtual cluster paused", "name", name, "hostPodsRemoved", n)
	return nil
}

// Paused reports whether a cluster is paused (and not yet fully resumed).
func (p *Provider) paused(name string) bool {
	_, err := os.Stat(p.layout(name).PausedPath())
	return !errors.Is(err, os.ErrNotExist)
}

// deleteHostPods deletes the virtual cluster's pods in its host namespace
// and waits until they are gone; it returns how many there were.
func deleteHostPods(ctx context.Context, host kubernetes.Interface, namespace, vc string) (int, error) {
	selector := labels.SelectorFromSet(labels.Set{
		names.LabelManagedBy: names.ManagedByValue, names.LabelVirtualCluster: names.LabelValue(vc),
	}).String()
	pods, err := host.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, fmt.Errorf("list host pods: %w", err)
	}
	for _, pod := range pods.Items {
		if err := host.CoreV1().Pods(namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("delete host pod %s: %w", pod.Name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		left, err := host.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(left.Items) == 0 {
			return len(pods.Items), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("host pods still terminating: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
