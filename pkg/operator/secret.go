package operator

import (
	"bytes"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// SecretName is the name of the kubeconfig Secret of a VirtualCluster.
func SecretName(vcName string) string { return vcName + "-kubeconfig" }

// ensureSecret writes the kubeconfig into the Secret next to vc, owned
// by vc. A Secret of that name that vc does not own is never touched.
func (c *controller) ensureSecret(ctx context.Context, vc *v1alpha1.VirtualCluster, kubeconfig []byte) (*v1alpha1.SecretKeyReference, error) {
	ref := &v1alpha1.SecretKeyReference{Name: SecretName(vc.Name), Key: v1alpha1.KubeconfigKey}
	secrets := c.cs.kube.CoreV1().Secrets(vc.Namespace)
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: ref.Name, Namespace: vc.Namespace,
			Labels: map[string]string{
				names.LabelManagedBy:      names.ManagedByValue,
				names.LabelVirtualCluster: names.LabelValue(ClusterName(vc.Namespace, vc.Name)),
			},
			OwnerReferences: []metav1.OwnerReference{ownerReference(vc)},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{ref.Key: kubeconfig},
	}
	have, err := secrets.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := secrets.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
			return nil, fmt.Errorf("create Secret %s/%s: %w", vc.Namespace, ref.Name, err)
		}
		return ref, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read Secret %s/%s: %w", vc.Namespace, ref.Name, err)
	}
	if !ownedBy(have.OwnerReferences, vc) {
		return nil, fmt.Errorf("secret %s/%s exists and is not owned by this VirtualCluster: rename or delete it", vc.Namespace, ref.Name)
	}
	if bytes.Equal(have.Data[ref.Key], kubeconfig) {
		return ref, nil
	}
	have.Data = want.Data
	if _, err := secrets.Update(ctx, have, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return nil, fmt.Errorf("update Secret %s/%s: %w", vc.Namespace, ref.Name, err)
	}
	return ref, nil
}

// deleteSecret deletes the kubeconfig Secret if vc owns it (the garbage
// collector would too, but only after vc is gone).
func (c *controller) deleteSecret(ctx context.Context, vc *v1alpha1.VirtualCluster) error {
	secrets := c.cs.kube.CoreV1().Secrets(vc.Namespace)
	have, err := secrets.Get(ctx, SecretName(vc.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read Secret %s/%s: %w", vc.Namespace, SecretName(vc.Name), err)
	}
	if !ownedBy(have.OwnerReferences, vc) {
		return nil
	}
	uid := have.UID
	err = secrets.Delete(ctx, have.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete Secret %s/%s: %w", vc.Namespace, have.Name, err)
	}
	return nil
}

func ownerReference(vc *v1alpha1.VirtualCluster) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersionKind.GroupVersion().String(), Kind: v1alpha1.Kind,
		Name: vc.Name, UID: vc.UID, Controller: &yes,
	}
}

func ownedBy(refs []metav1.OwnerReference, vc *v1alpha1.VirtualCluster) bool {
	for _, r := range refs {
		if r.UID == vc.UID {
			return true
		}
	}
	return false
}
