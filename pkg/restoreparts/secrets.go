package restoreparts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/pkg/names"
)

const (
	// LabelRestoreOf holds the name (names.LabelValue) of the cluster a
	// restore Secret is for.
	LabelRestoreOf = names.Domain + "/restore-of"
	// AnnotationError, on the manifest Secret, is why the control plane
	// refused the restore: nest restore stops waiting and reports it.
	AnnotationError = names.Domain + "/restore-error"
	// LabelRestoreID holds the restore's ID.
	LabelRestoreID = names.Domain + "/restore-id"
	// ManifestType and PartType are the Secrets' types: only Secrets of
	// these types and labels are ever deleted.
	ManifestType corev1.SecretType = names.Domain + "/snapshot-manifest"
	PartType     corev1.SecretType = names.Domain + "/snapshot-part"
)

func secretLabels(cluster, id string) map[string]string {
	return map[string]string{
		LabelRestoreOf:                 names.LabelValue(cluster),
		LabelRestoreID:                 names.LabelValue(id),
		"app.kubernetes.io/managed-by": "nest",
	}
}

// Write carries data into namespace for cluster: the parts first, then
// the manifest Secret base, so that a manifest always names parts that
// exist. Leftovers of an earlier restore of cluster are deleted first; a
// failure deletes what it made. The size is checked before anything is.
func Write(ctx context.Context, client kubernetes.Interface, namespace, cluster, base string, data []byte) (Manifest, error) {
	m, chunks, err := Split(data, base, cluster, NewID(), PartSize)
	if err != nil {
		return m, err
	}
	if err := Remove(ctx, client, namespace, cluster); err != nil {
		return m, err
	}
	fail := func(err error) (Manifest, error) {
		if rerr := Remove(context.WithoutCancel(ctx), client, namespace, cluster); rerr != nil {
			err = fmt.Errorf("%w; removing the parts made failed too: %v", err, rerr)
		}
		return m, err
	}
	secrets := client.CoreV1().Secrets(namespace)
	for i, chunk := range chunks {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: m.Parts[i].Name, Namespace: namespace, Labels: secretLabels(cluster, m.ID)},
			Type:       PartType,
			Data:       PartSecretData(m, i, chunk),
		}
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return fail(fmt.Errorf("create Secret %s/%s (part %d of %d of the snapshot): %w", namespace, s.Name, i+1, len(chunks), err))
		}
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return fail(err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: base, Namespace: namespace, Labels: secretLabels(cluster, m.ID)},
		Type:       ManifestType,
		Data:       map[string][]byte{ManifestKey: manifest},
	}
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fail(fmt.Errorf("create Secret %s/%s (manifest of the snapshot's %d parts): %w", namespace, s.Name, len(chunks), err))
	}
	return m, nil
}

// ReadManifest reads the manifest Secret base; found is false if there is
// none (no restore is asked for).
func ReadManifest(ctx context.Context, client kubernetes.Interface, namespace, base string) (m Manifest, found bool, err error) {
	s, err := client.CoreV1().Secrets(namespace).Get(ctx, base, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("read restore manifest Secret %s/%s: %w", namespace, base, err)
	}
	if s.Type != ManifestType {
		return m, false, fmt.Errorf("Secret %s/%s is of type %s, not a restore manifest (%s): remove it or rename the cluster", namespace, base, s.Type, ManifestType)
	}
	m, err = ParseManifest(s.Data[ManifestKey])
	if err != nil {
		return m, true, fmt.Errorf("Secret %s/%s: %w", namespace, base, err)
	}
	return m, true, nil
}

// Read joins m's parts from namespace into w (see Join).
func Read(ctx context.Context, client kubernetes.Interface, namespace string, m Manifest, w io.Writer) error {
	return Join(m, func(name string) (PartData, error) {
		s, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
		}
		if s.Type != PartType {
			return nil, fmt.Errorf("Secret %s/%s is of type %s, not a snapshot part", namespace, name, s.Type)
		}
		return s.Data, nil
	}, w)
}

// Remove deletes every restore Secret of cluster in namespace: the
// manifests first (a restore without one is not asked for), then the
// parts. Secrets without the restore labels and types are left alone.
func Remove(ctx context.Context, client kubernetes.Interface, namespace, cluster string) error {
	secrets := client.CoreV1().Secrets(namespace)
	selector := labels.SelectorFromSet(labels.Set{LabelRestoreOf: names.LabelValue(cluster)}).String()
	list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list the restore Secrets of %q: %w", cluster, err)
	}
	for _, typ := range []corev1.SecretType{ManifestType, PartType} {
		for _, s := range list.Items {
			if s.Type != typ {
				continue
			}
			if err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete restore Secret %s/%s: %w", namespace, s.Name, err)
			}
		}
	}
	return nil
}

// Count is the number of restore Secrets of cluster in namespace.
func Count(ctx context.Context, client kubernetes.Interface, namespace, cluster string) (int, error) {
	selector := labels.SelectorFromSet(labels.Set{LabelRestoreOf: names.LabelValue(cluster)}).String()
	list, err := client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, fmt.Errorf("list the restore Secrets of %q: %w", cluster, err)
	}
	return len(list.Items), nil
}

// ReportError records on the manifest Secret base why its restore was
// refused (AnnotationError), for nest restore to report.
func ReportError(ctx context.Context, client kubernetes.Interface, namespace, base string, reason error) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationError: reason.Error()}}})
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Secrets(namespace).Patch(ctx, base, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("report the restore's error on Secret %s/%s: %w", namespace, base, err)
	}
	return nil
}
