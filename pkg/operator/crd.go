package operator

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// EnsureCRD creates the VirtualCluster CRD, or updates it to this build's,
// and waits until it is established.
func EnsureCRD(ctx context.Context, client apiextensionsclient.Interface) error {
	want := v1alpha1.CRD()
	crds := client.ApiextensionsV1().CustomResourceDefinitions()
	for {
		have, err := crds.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = crds.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager})
		} else if err == nil {
			have.Labels = want.Labels
			have.Spec = want.Spec
			_, err = crds.Update(ctx, have, metav1.UpdateOptions{FieldManager: fieldManager})
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("install the VirtualCluster CRD: %w", err)
		}
		break
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		crd, err := crds.Get(ctx, want.Name, metav1.GetOptions{})
		if err == nil && established(crd) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the VirtualCluster CRD is not established: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}
