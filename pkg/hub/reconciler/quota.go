package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/names"
)

// Names of the objects the hub keeps in a virtual cluster's host namespace.
const (
	QuotaName      = "nest-quota"
	LimitRangeName = "nest-defaults"
)

// QuotaHard is the ResourceQuota's hard limits for a virtual cluster's
// quota: the host counts the requests of the pods the syncer copies there,
// the storage of its claims and the number of its pods.
func QuotaHard(q store.Resources) (corev1.ResourceList, error) {
	hard := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{
		corev1.ResourceRequestsCPU: q.CPU, corev1.ResourceRequestsMemory: q.Memory,
		corev1.ResourceRequestsStorage: q.Storage, corev1.ResourcePods: q.Pods,
	} {
		if v == "" {
			continue
		}
		qty, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("quota %s: %w", name, err)
		}
		hard[name] = qty
	}
	return hard, nil
}

// ensureQuota makes the host namespace's ResourceQuota say what the
// virtual cluster's quota says, and returns what the host counts as used
// against it (its status.used, as last computed by the host's quota
// controller). With a CPU or memory quota, the host
// refuses pods that request none; a LimitRange gives such pods small
// default requests, so that tenants need not set them.
func ensureQuota(ctx context.Context, hostKubeconfig, namespace, vcName string, q store.Resources) (store.Resources, error) {
	var used store.Resources
	hard, err := QuotaHard(q)
	if err != nil {
		return used, err
	}
	client, err := kube.Clientset(hostKubeconfig)
	if err != nil {
		return used, err
	}
	// The cluster's ownership labels: deleting the cluster deletes them, and
	// they do not count as foreign objects that keep its namespace alive.
	labels := names.OwnershipLabels(vcName, "")
	want := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: QuotaName, Namespace: namespace, Labels: labels},
		Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	rq, err := client.CoreV1().ResourceQuotas(namespace).Get(ctx, QuotaName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := client.CoreV1().ResourceQuotas(namespace).Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return used, fmt.Errorf("create the quota of host namespace %s: %w", namespace, err)
		}
	case err != nil:
		return used, fmt.Errorf("read the quota of host namespace %s: %w", namespace, err)
	case rq.Labels[names.LabelVirtualCluster] != labels[names.LabelVirtualCluster]:
		return used, fmt.Errorf("host namespace %s has a ResourceQuota %s that Nest did not make; it is left alone", namespace, QuotaName)
	case !equalLists(rq.Spec.Hard, hard):
		rq.Spec.Hard = hard
		if _, err := client.CoreV1().ResourceQuotas(namespace).Update(ctx, rq, metav1.UpdateOptions{}); err != nil {
			return used, fmt.Errorf("update the quota of host namespace %s: %w", namespace, err)
		}
		used = UsedOf(rq.Status.Used)
	default:
		used = UsedOf(rq.Status.Used)
	}
	defaults := corev1.ResourceList{}
	if q.CPU != "" {
		defaults[corev1.ResourceCPU] = resource.MustParse("10m")
	}
	if q.Memory != "" {
		defaults[corev1.ResourceMemory] = resource.MustParse("16Mi")
	}
	if len(defaults) == 0 {
		return used, nil
	}
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: LimitRangeName, Namespace: namespace, Labels: labels},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, DefaultRequest: defaults}}}}
	existing, err := client.CoreV1().LimitRanges(namespace).Get(ctx, LimitRangeName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if _, err := client.CoreV1().LimitRanges(namespace).Create(ctx, lr, metav1.CreateOptions{}); err != nil {
			return used, fmt.Errorf("create the default requests of host namespace %s: %w", namespace, err)
		}
	case err != nil:
		return used, fmt.Errorf("read the default requests of host namespace %s: %w", namespace, err)
	case existing.Labels[names.LabelVirtualCluster] != labels[names.LabelVirtualCluster]:
		return used, fmt.Errorf("host namespace %s has a LimitRange %s that Nest did not make; it is left alone", namespace, LimitRangeName)
	case len(existing.Spec.Limits) != 1 || !equalLists(existing.Spec.Limits[0].DefaultRequest, defaults):
		existing.Spec = lr.Spec
		if _, err := client.CoreV1().LimitRanges(namespace).Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
			return used, fmt.Errorf("update the default requests of host namespace %s: %w", namespace, err)
		}
	}
	return used, nil
}

// UsedOf turns a ResourceQuota's status.used into the hub's resources:
// the requests of CPU and memory, the storage of claims and the pods
// (dimensions the quota does not limit are left empty).
func UsedOf(used corev1.ResourceList) store.Resources {
	get := func(name corev1.ResourceName) string {
		q, ok := used[name]
		if !ok {
			return ""
		}
		return q.String()
	}
	return store.Resources{CPU: get(corev1.ResourceRequestsCPU), Memory: get(corev1.ResourceRequestsMemory),
		Storage: get(corev1.ResourceRequestsStorage), Pods: get(corev1.ResourcePods)}
}

func equalLists(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}
