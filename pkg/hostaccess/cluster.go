package hostaccess

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/names"
)

// Some opt-in kinds are cluster-scoped on the host: priority classes,
// storage classes and persistent volumes copied down, storage, ingress and
// priority classes read to be copied up. Only
// when one of them is on does the virtual cluster get a ClusterRole (and
// its binding) beyond its namespace, with exactly the rules those kinds
// need. A ClusterRole cannot be narrowed to the objects Nest makes: with
// a kind copied down, the credentials could change any object of that kind
// on the host (the syncer itself only touches its own copies, by their
// ownership labels). The default config needs none.

// clusterSettings are the sync settings that need cluster-scoped rules,
// in order, with those rules.
var clusterSettings = []struct {
	direction, kind string
	rule            rbacv1.PolicyRule
}{
	{"toHost", "priorityclasses", rbacv1.PolicyRule{APIGroups: []string{"scheduling.k8s.io"}, Resources: []string{"priorityclasses"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}},
	{"toHost", "storageclasses", rbacv1.PolicyRule{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}},
	{"toHost", "persistentvolumes", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"persistentvolumes"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}},
	{"fromHost", "storageclasses", rbacv1.PolicyRule{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses"},
		Verbs: []string{"get", "list", "watch"}}},
	{"fromHost", "priorityclasses", rbacv1.PolicyRule{APIGroups: []string{"scheduling.k8s.io"}, Resources: []string{"priorityclasses"},
		Verbs: []string{"get", "list", "watch"}}},
	{"fromHost", "ingressclasses", rbacv1.PolicyRule{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingressclasses"},
		Verbs: []string{"get", "list", "watch"}}},
}

// ClusterRules are the cluster-scoped rules the sync settings need; none
// for the defaults.
func ClusterRules(s config.Sync) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, c := range clusterSettings {
		if c.direction == "toHost" && s.ToHostEnabled(c.kind) || c.direction == "fromHost" && s.FromHostEnabled(c.kind) {
			rules = append(rules, *c.rule.DeepCopy())
		}
	}
	return rules
}

// NodeReadSetting is the key of ClusterRulesBySetting under which the
// node read rules are: unlike the others it is on not with its kind's
// enabled but when Sync.ReadsHostNodes (sync.fromHost.nodes enabled, the
// default, with mode real or all true).
const NodeReadSetting = "fromHost.nodes"

// ClusterRulesBySetting maps each setting that needs cluster-scoped rules
// ("toHost.priorityclasses", ..., NodeReadSetting) to them: what the chart
// renders from its config.
func ClusterRulesBySetting() map[string][]rbacv1.PolicyRule {
	out := map[string][]rbacv1.PolicyRule{}
	for _, c := range clusterSettings {
		out[c.direction+"."+c.kind] = []rbacv1.PolicyRule{*c.rule.DeepCopy()}
	}
	out[NodeReadSetting] = NodeReadRules()
	return out
}

// ChartClusterRules are the cluster-scoped rules the nest chart grants its
// service account for the sync settings: ClusterRules, and NodeReadRules
// when the syncer reads the host's nodes. (The process runtime grants the
// node reads apart, with EnsureGrants, since its host credentials may not
// be allowed to.)
func ChartClusterRules(s config.Sync) []rbacv1.PolicyRule {
	rules := ClusterRules(s)
	if s.ReadsHostNodes() {
		rules = append(rules, NodeReadRules()...)
	}
	return rules
}

// ClusterName is the name of the ClusterRole and ClusterRoleBinding of the
// virtual cluster in namespace.
func ClusterName(namespace string) string { return Name + "-" + namespace }

// EnsureCluster makes, updates or (with no rules) deletes the ClusterRole
// and ClusterRoleBinding that give the service account Name of namespace
// the cluster-scoped rules. A ClusterRole of that name that Nest did not
// make is an error, never changed.
func EnsureCluster(ctx context.Context, host kubernetes.Interface, namespace, vc string, rules []rbacv1.PolicyRule) error {
	name := ClusterName(namespace)
	if len(rules) == 0 {
		return DeleteCluster(ctx, host, namespace, vc)
	}
	meta := metav1.ObjectMeta{Name: name, Labels: names.OwnershipLabels(vc, "")}
	existing, err := host.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = host.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: meta, Rules: rules}, metav1.CreateOptions{})
	case err == nil && !owned(existing.Labels, vc):
		return fmt.Errorf("host cluster role %s exists and is not this virtual cluster's: left alone", name)
	case err == nil:
		updated := existing.DeepCopy()
		updated.Rules = rules
		_, err = host.RbacV1().ClusterRoles().Update(ctx, updated, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("host cluster role %s: %w", name, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: meta,
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: namespace}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
	}
	if _, err := host.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("host cluster role binding %s: %w", name, err)
	}
	return nil
}

// DeleteCluster deletes what the virtual cluster has outside its namespace
// on the host: its ClusterRole and ClusterRoleBinding, and the priority
// classes, storage classes and persistent volumes the syncer copied down
// (a namespace delete does not take them).
// Objects Nest did not make are left alone.
func DeleteCluster(ctx context.Context, host kubernetes.Interface, namespace, vc string) error {
	name := ClusterName(namespace)
	if b, err := host.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{}); err == nil && owned(b.Labels, vc) {
		if err := host.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete host cluster role binding %s: %w", name, err)
		}
	} else if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return fmt.Errorf("read host cluster role binding %s: %w", name, err)
	}
	if r, err := host.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err == nil && owned(r.Labels, vc) {
		if err := host.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete host cluster role %s: %w", name, err)
		}
	} else if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return fmt.Errorf("read host cluster role %s: %w", name, err)
	}
	selector := labels.SelectorFromSet(names.OwnershipLabels(vc, "")).String()
	return errors.Join(
		deleteCopies(ctx, "priority class", selector, host.SchedulingV1().PriorityClasses()),
		deleteCopies(ctx, "storage class", selector, host.StorageV1().StorageClasses()),
		deleteCopies(ctx, "persistent volume", selector, host.CoreV1().PersistentVolumes()),
	)
}

// lister is a typed client of a cluster-scoped kind, as deleteCopies uses it.
type lister[L any] interface {
	List(context.Context, metav1.ListOptions) (L, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}

// deleteCopies deletes the cluster-scoped objects of one kind that carry
// the virtual cluster's ownership labels (selector). Credentials that may
// not list the kind never could make any.
func deleteCopies[L any](ctx context.Context, kind, selector string, client lister[L]) error {
	list, err := client.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if apierrors.IsForbidden(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list the host's %s copies (%s): %w", kind, selector, err)
	}
	items, err := meta.ExtractList(any(list).(runtime.Object))
	if err != nil {
		return fmt.Errorf("host %s list: %w", kind, err)
	}
	var errs []error
	for _, item := range items {
		m, err := meta.Accessor(item)
		if err != nil {
			return err
		}
		uid := m.GetUID()
		err = client.Delete(ctx, m.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete host %s %s: %w", kind, m.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

func owned(l map[string]string, vc string) bool {
	return l[names.LabelManagedBy] == names.ManagedByValue && l[names.LabelVirtualCluster] == names.LabelValue(vc)
}
