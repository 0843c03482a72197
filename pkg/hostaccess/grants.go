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

// EnsureGrants gives the cluster's syncer (the service account
// serviceAccount in clusterNamespace: Name for the one Ensure makes, or a
// chart's) read access to the services named in serviceReads (namespace →
// names) outside its own namespace, where its Role already allows them,
// and to the host's nodes when readNodes.
func EnsureGrants(ctx context.Context, host kubernetes.Interface, clusterNamespace, serviceAccount, vc string, serviceReads map[string][]string, readNodes bool) error {
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccount, Namespace: clusterNamespace}}
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
	if err := ensureNodeGrant(ctx, host, clusterNamespace, lbls, subject); err != nil {
		if apierrors.IsForbidden(err) {
			return fmt.Errorf("%w: %w", ErrNodeGrantForbidden, err)
		}
		return err
	}
	return nil
}

// ErrNodeGrantForbidden says the caller may not grant reading the host's
// nodes: the cluster then shows generated node data.
var ErrNodeGrantForbidden = errors.New("not allowed to grant reading the host's nodes")

func ensureNodeGrant(ctx context.Context, host kubernetes.Interface, clusterNamespace string, lbls map[string]string, subject []rbacv1.Subject) error {
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

// RevokeGrants deletes the grants EnsureGrants made for the cluster of
// clusterNamespace: its Role and RoleBinding in each of serviceNamespaces
// and its node grant, each only if its label says it is that cluster's
// grant (the ones in the namespace itself go with it). A grant a user
// cannot read (Forbidden) was not made with those credentials either.
func RevokeGrants(ctx context.Context, host kubernetes.Interface, clusterNamespace string, serviceNamespaces []string) error {
	var errs []error
	name := GrantName(clusterNamespace)
	ours := func(m metav1.Object, err error) bool {
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			errs = append(errs, fmt.Errorf("read host grant %s: %w", name, err))
		}
		return err == nil && m.GetLabels()[LabelGrantOf] == clusterNamespace
	}
	gone := func(err error, what string) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("revoke host grant %s: %w", what, err))
		}
	}
	for _, ns := range slices.Compact(slices.Sorted(slices.Values(serviceNamespaces))) {
		if ns == clusterNamespace {
			continue
		}
		if b, err := host.RbacV1().RoleBindings(ns).Get(ctx, name, metav1.GetOptions{}); ours(b, err) {
			gone(host.RbacV1().RoleBindings(ns).Delete(ctx, name, metav1.DeleteOptions{}), ns+"/"+name)
		}
		if r, err := host.RbacV1().Roles(ns).Get(ctx, name, metav1.GetOptions{}); ours(r, err) {
			gone(host.RbacV1().Roles(ns).Delete(ctx, name, metav1.DeleteOptions{}), ns+"/"+name)
		}
	}
	nodes := NodeGrantName(clusterNamespace)
	if b, err := host.RbacV1().ClusterRoleBindings().Get(ctx, nodes, metav1.GetOptions{}); ours(b, err) {
		gone(host.RbacV1().ClusterRoleBindings().Delete(ctx, nodes, metav1.DeleteOptions{}), nodes)
	}
	if r, err := host.RbacV1().ClusterRoles().Get(ctx, nodes, metav1.GetOptions{}); ours(r, err) {
		gone(host.RbacV1().ClusterRoles().Delete(ctx, nodes, metav1.DeleteOptions{}), nodes)
	}
	return errors.Join(errs...)
}
