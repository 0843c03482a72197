package hostaccess

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/pkg/names"
)

// Grants beyond the cluster's own host namespace, each read-only and as
// narrow as the feature needs: the host services a cluster maps in
// (sync.serviceMappings.fromHost) and, for real node data
// (sync.fromHost.nodes.mode: real), the host's nodes. They are made when
// the cluster is created and removed by Revoke when it is deleted.

// LabelGrantOf names, on a grant made outside a cluster's host namespace,
// the host namespace of the cluster it was made for.
const LabelGrantOf = names.Domain + "/grant-of"

// ErrNotOwned is returned when a grant's name is taken by a host object
// Nest did not make: it is left alone.
var ErrNotOwned = errors.New("host object not managed by Nest")

// GrantName is the name of a cluster's Role and RoleBinding in another
// namespace, and (with ":nodes") of its ClusterRole and binding.
func GrantName(clusterNamespace string) string { return Name + ":" + clusterNamespace }

// NodeGrantName is the name of the ClusterRole and ClusterRoleBinding that
// let a cluster read the host's nodes.
func NodeGrantName(clusterNamespace string) string { return GrantName(clusterNamespace) + ":nodes" }

// ServiceReadRules are the rules of a grant on the named services of one
// namespace: get, list and watch on those names only (a list or watch must
// then select one name, metadata.name=NAME), for the services and their
// endpoints (the Endpoints object has the service's name; EndpointSlices do
// not, so they are not granted).
func ServiceReadRules(serviceNames []string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"services", "endpoints"},
		ResourceNames: slices.Compact(slices.Sorted(slices.Values(serviceNames))),
		Verbs:         []string{"get", "list", "watch"},
	}}
}

// NodeReadRules let a cluster read the host's nodes.
func NodeReadRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}}}
}

// EnsureGrants gives the cluster's syncer (the service account Ensure
// made in clusterNamespace) read access to the services named in
// serviceReads (namespace → names) outside its own namespace, where its
// Role already allows them, and to the host's nodes when readNodes.
func EnsureGrants(ctx context.Context, host kubernetes.Interface, clusterNamespace, vc string, serviceReads map[string][]string, readNodes bool) error {
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: clusterNamespace}}
	lbls := names.OwnershipLabels(vc, "")
	lbls[LabelGrantOf] = clusterNamespace
	name := GrantName(clusterNamespace)
	for _, ns := range slices.Sorted(maps.Keys(serviceReads)) {
		if ns == clusterNamespace {
			continue
		}
		meta := metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbls}
		role := &rbacv1.Role{ObjectMeta: meta, Rules: ServiceReadRules(serviceReads[ns])}
		if err := createOrUpdate(ctx, "role in "+ns, func() error {
			_, err := host.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{})
			return err
		}, func() error {
			existing, err := host.RbacV1().Roles(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if existing.Labels[LabelGrantOf] != clusterNamespace {
				return fmt.Errorf("%w: role %s/%s exists and is not Nest's grant for %s", ErrNotOwned, ns, name, clusterNamespace)
			}
			role.ResourceVersion = existing.ResourceVersion
			_, err = host.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{})
			return err
		}); err != nil {
			return err
		}
		binding := &rbacv1.RoleBinding{ObjectMeta: meta, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}
		if err := createOrUpdate(ctx, "role binding in "+ns, func() error {
			_, err := host.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{})
			return err
		}, nil); err != nil {
			return err
		}
	}
	if !readNodes {
		return nil
	}
	meta := metav1.ObjectMeta{Name: NodeGrantName(clusterNamespace), Labels: lbls}
	role := &rbacv1.ClusterRole{ObjectMeta: meta, Rules: NodeReadRules()}
	if err := createOrUpdate(ctx, "cluster role", func() error {
		_, err := host.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
		return err
	}, nil); err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: meta, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: meta.Name}}
	return createOrUpdate(ctx, "cluster role binding", func() error {
		_, err := host.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
		return err
	}, nil)
}

// RevokeGrants deletes every grant EnsureGrants made for the cluster of
// clusterNamespace (found by LabelGrantOf); the grants in the namespace
// itself go with it.
func RevokeGrants(ctx context.Context, host kubernetes.Interface, clusterNamespace string) error {
	sel := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{
		names.LabelManagedBy: names.ManagedByValue, LabelGrantOf: clusterNamespace,
	}).String()}
	var errs []error
	gone := func(err error, what string) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("revoke host grant %s: %w", what, err))
		}
	}
	bindings, err := host.RbacV1().RoleBindings("").List(ctx, sel)
	gone(err, "list role bindings")
	if err == nil {
		for _, b := range bindings.Items {
			gone(host.RbacV1().RoleBindings(b.Namespace).Delete(ctx, b.Name, metav1.DeleteOptions{}), b.Namespace+"/"+b.Name)
		}
	}
	roles, err := host.RbacV1().Roles("").List(ctx, sel)
	gone(err, "list roles")
	if err == nil {
		for _, r := range roles.Items {
			gone(host.RbacV1().Roles(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}), r.Namespace+"/"+r.Name)
		}
	}
	// Cluster-scoped: by name, and only when the label says it is this
	// cluster's grant.
	name := NodeGrantName(clusterNamespace)
	if b, err := host.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{}); err == nil && b.Labels[LabelGrantOf] == clusterNamespace {
		gone(host.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{}), name)
	} else {
		gone(err, name)
	}
	if r, err := host.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err == nil && r.Labels[LabelGrantOf] == clusterNamespace {
		gone(host.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{}), name)
	} else {
		gone(err, name)
	}
	return errors.Join(errs...)
}
