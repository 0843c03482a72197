package metricsapi

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/nestcluster/nest/pkg/names"
)

// APIServiceName is the APIService of the metrics API.
const APIServiceName = Version + "." + Group

// ErrNotOwned is returned when the APIService or Service of the metrics API
// exists but was not made by Nest (a metrics-server installed by someone
// else): Nest leaves it alone.
var ErrNotOwned = errors.New("exists and is not Nest's")

// Registration tells the apiserver where the API is served.
type Registration struct {
	// Namespace and Service of the ExternalName Service the APIService
	// points at.
	Namespace, Service string
	// Host the aggregator dials (the Service's externalName), e.g.
	// localhost when the server runs next to the apiserver.
	Host string
	// Port of the server on Host.
	Port int32
	// CABundle verifies the server's certificate (from NewServingCert).
	CABundle []byte
}

// Register points the apiserver's aggregator at the server: an ExternalName
// Service NAMESPACE/SERVICE → Host (the aggregator dials
// https://HOST:PORT for such a Service, without kube-proxy) and the
// APIService v1beta1.metrics.k8s.io with the port and CA bundle. Both carry
// nest.dev/managed-by=nest; either one existing without it is left alone
// (ErrNotOwned).
func Register(ctx context.Context, client kubernetes.Interface, apis aggregator.Interface, reg Registration) error {
	labels := map[string]string{names.LabelManagedBy: names.ManagedByValue}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: reg.Service, Namespace: reg.Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeExternalName, ExternalName: reg.Host,
			Ports: []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: reg.Port, TargetPort: intstr.FromInt32(reg.Port)}},
		},
	}
	services := client.CoreV1().Services(reg.Namespace)
	current, err := services.Get(ctx, reg.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := services.Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create service %s/%s of the metrics API: %w", reg.Namespace, reg.Service, err)
		}
	case err != nil:
		return fmt.Errorf("read service %s/%s of the metrics API: %w", reg.Namespace, reg.Service, err)
	case current.Labels[names.LabelManagedBy] != names.ManagedByValue:
		return fmt.Errorf("service %s/%s %w", reg.Namespace, reg.Service, ErrNotOwned)
	case sameService(current, svc):
	default:
		current.Spec = svc.Spec
		if _, err := services.Update(ctx, current, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update service %s/%s of the metrics API: %w", reg.Namespace, reg.Service, err)
		}
	}

	port := reg.Port
	spec := apiregistrationv1.APIServiceSpec{
		Service:              &apiregistrationv1.ServiceReference{Namespace: reg.Namespace, Name: reg.Service, Port: &port},
		Group:                Group,
		Version:              Version,
		CABundle:             reg.CABundle,
		GroupPriorityMinimum: 100,
		VersionPriority:      100,
	}
	apiServices := apis.ApiregistrationV1().APIServices()
	as, err := apiServices.Get(ctx, APIServiceName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = apiServices.Create(ctx, &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: APIServiceName, Labels: labels}, Spec: spec,
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create APIService %s: %w", APIServiceName, err)
		}
	case err != nil:
		return fmt.Errorf("read APIService %s: %w", APIServiceName, err)
	case as.Labels[names.LabelManagedBy] != names.ManagedByValue:
		return fmt.Errorf("APIService %s %w", APIServiceName, ErrNotOwned)
	case equality.Semantic.DeepEqual(as.Spec, spec):
	default:
		as.Spec = spec
		if _, err := apiServices.Update(ctx, as, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update APIService %s: %w", APIServiceName, err)
		}
	}
	return nil
}

// sameService reports whether current already is the wanted ExternalName
// (the fields Nest sets; the apiserver defaults others).
func sameService(current, want *corev1.Service) bool {
	return current.Spec.Type == want.Spec.Type && current.Spec.ExternalName == want.Spec.ExternalName &&
		len(current.Spec.Ports) == 1 && current.Spec.Ports[0].Port == want.Spec.Ports[0].Port &&
		current.Spec.Ports[0].TargetPort == want.Spec.Ports[0].TargetPort
}
