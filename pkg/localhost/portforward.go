package localhost

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/localhost/kwok"
)

// portForwardCRD decodes KWOK's embedded PortForward CRD.
func portForwardCRD() (*apiextensionsv1.CustomResourceDefinition, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(kwok.PortForwardCRD, &crd); err != nil {
		return nil, fmt.Errorf("kwok's PortForward CRD: %w", err)
	}
	return &crd, nil
}

// ensurePortForwardCRD creates KWOK's PortForward CRD on the host, unless
// one exists (it is left as it is), and waits until it is established:
// kwok started with --enable-crds=PortForward watches it from the start.
func (h *Host) ensurePortForwardCRD(ctx context.Context) error {
	want, err := portForwardCRD()
	if err != nil {
		return err
	}
	cfg, err := kube.RESTConfig(h.KubeconfigPath(), "")
	if err != nil {
		return err
	}
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("apiextensions client of the local host: %w", err)
	}
	crds := client.ApiextensionsV1().CustomResourceDefinitions()
	if _, err := crds.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("install kwok's PortForward CRD: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		crd, err := crds.Get(ctx, want.Name, metav1.GetOptions{})
		if err == nil {
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kwok's PortForward CRD %s is not established: %w", want.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
