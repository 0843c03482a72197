package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestHostCredentialsAreNamespaceScoped checks the credentials a virtual
// cluster's control plane gets for the host: everything the syncer needs in
// its own namespace, and nothing outside it with the default nest.yaml.
func TestHostCredentialsAreNamespaceScoped(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, _ := env.VirtualCluster(t, "scoped", lifecycle.CreateOptions{})
	host, err := kube.Clientset(controlplane.Layout{Dir: env.Home.ClusterDir(vc.Name)}.HostKubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	own := vc.HostNamespace
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}
	allowed := []struct {
		name string
		do   func() error
	}{
		{"create a configmap in its namespace", func() error {
			_, err := host.CoreV1().ConfigMaps(own).Create(ctx, cm, metav1.CreateOptions{})
			return err
		}},
		{"list pods in its namespace", func() error {
			_, err := host.CoreV1().Pods(own).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list secrets in its namespace", func() error {
			_, err := host.CoreV1().Secrets(own).List(ctx, metav1.ListOptions{})
			return err
		}},
	}
	for _, a := range allowed {
		if err := a.do(); err != nil {
			t.Errorf("%s: %v, want allowed", a.name, err)
		}
	}
	denied := []struct {
		name string
		do   func() error
	}{
		{"list pods in default", func() error {
			_, err := host.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"read secrets in kube-system", func() error {
			_, err := host.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list pods in all namespaces", func() error {
			_, err := host.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list namespaces", func() error {
			_, err := host.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			return err
		}},
		{"create a configmap in default", func() error {
			_, err := host.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
			return err
		}},
		{"grant itself more in its namespace", func() error {
			_, err := host.RbacV1().Roles(own).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"read the host's nodes (only sync.fromHost.nodes.mode real grants it; fake is the default)", func() error {
			_, err := host.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			return err
		}},
		{"change a node", func() error {
			_, err := host.CoreV1().Nodes().Patch(ctx, "nest-node-0", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
			return err
		}},
		{"delete a node", func() error {
			return host.CoreV1().Nodes().Delete(ctx, "nest-node-0", metav1.DeleteOptions{})
		}},
		{"delete its own namespace", func() error {
			return host.CoreV1().Namespaces().Delete(ctx, own, metav1.DeleteOptions{})
		}},
	}
	for _, d := range denied {
		if err := d.do(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: err = %v, want Forbidden", d.name, err)
		}
	}
}
