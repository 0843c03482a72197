// Package hostaccess gives a virtual cluster its own credentials on the host:
// a service account in the virtual cluster's host namespace, bound to a Role
// in that namespace only. The control plane (and the syncer in it) talks to
// the host with these, never with the user's admin credentials, so a tenant
// who escapes into the control plane still cannot reach other namespaces.
package hostaccess

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/nestcluster/nest/pkg/names"
)

// Name of the service account, Role, RoleBinding and token Secret.
const Name = "nest-syncer"

// Rules are everything the syncer may do, in its host namespace only: the
// kinds it copies down (docs/configuration.md, sync.toHost), events, the
// kubelet paths it proxies (logs, exec, attach, port-forward), reading the
// host's metrics of its pods (pods.metrics.k8s.io), and every
// resource of the API groups of the custom resources it copies
// (sync.customResources), if any.
func Rules(customGroups ...string) []rbacv1.PolicyRule {
	all := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{
			"pods", "pods/status", "services", "endpoints", "configmaps", "secrets",
			"persistentvolumeclaims", "serviceaccounts", "events",
		}, Verbs: all},
		{APIGroups: []string{""}, Resources: []string{"pods/log", "pods/exec", "pods/attach", "pods/portforward"}, Verbs: []string{"get", "create"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: all},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "networkpolicies"}, Verbs: all},
		{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: all},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: all},
		// The host's figures of its own pods, for the virtual cluster's
		// metrics API (pkg/vmetrics, `kubectl top`).
		{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
	}
	if len(customGroups) > 0 {
		groups := slices.Compact(slices.Sorted(slices.Values(customGroups)))
		rules = append(rules, rbacv1.PolicyRule{APIGroups: groups, Resources: []string{"*"}, Verbs: all})
	}
	return rules
}

// Ensure makes (or updates) the service account, Role (Rules with
// customGroups), RoleBinding and a long-lived token Secret in namespace,
// and returns the token. Long-lived,
// because a control plane must keep working across restarts and days of
// idleness; deleting the namespace revokes it. The service account, Role
// and RoleBinding are made at once (a binding may name a Role or an
// account that does not exist yet); the Secret only once its account
// exists, since the token controller deletes a token Secret whose account
// it cannot find.
func Ensure(ctx context.Context, host kubernetes.Interface, namespace, vc string, customGroups ...string) (string, error) {
	labels := names.OwnershipLabels(vc, "")
	meta := metav1.ObjectMeta{Name: Name, Namespace: namespace, Labels: labels}
	role := &rbacv1.Role{ObjectMeta: meta, Rules: Rules(customGroups...)}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: meta,
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: namespace}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: Name},
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		errs[0] = createOrUpdate(ctx, "service account", func() error {
			_, err := host.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta}, metav1.CreateOptions{})
			return err
		}, nil)
	})
	wg.Go(func() {
		errs[1] = createOrUpdate(ctx, "role", func() error {
			_, err := host.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{})
			return err
		}, func() error {
			_, err := host.RbacV1().Roles(namespace).Update(ctx, role, metav1.UpdateOptions{})
			return err
		})
	})
	wg.Go(func() {
		errs[2] = createOrUpdate(ctx, "role binding", func() error {
			_, err := host.RbacV1().RoleBindings(namespace).Create(ctx, binding, metav1.CreateOptions{})
			return err
		}, nil)
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: namespace, Labels: labels,
			Annotations: map[string]string{corev1.ServiceAccountNameKey: Name}},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if err := createOrUpdate(ctx, "token secret", func() error {
		_, err := host.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{})
		return err
	}, nil); err != nil {
		return "", err
	}
	return waitToken(ctx, host, namespace)
}

// waitToken waits for the host's token controller to fill the Secret,
// watching it so that the token is seen as soon as it is written (a
// failed watch falls back to reading it again after a pause).
func waitToken(ctx context.Context, host kubernetes.Interface, namespace string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	secrets := host.CoreV1().Secrets(namespace)
	for {
		s, err := secrets.Get(ctx, Name, metav1.GetOptions{})
		if token := tokenOf(s, err); token != "" {
			return token, nil
		}
		if err == nil {
			if token := watchToken(ctx, secrets, s.ResourceVersion); token != "" {
				return token, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("host did not issue a token for %s/%s (is its token controller running?): %w", namespace, Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// watchToken watches the token Secret from resourceVersion until it holds
// a token, which it returns, or the watch ends ("").
func watchToken(ctx context.Context, secrets typedcorev1.SecretInterface, resourceVersion string) string {
	w, err := secrets.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", Name).String(),
		ResourceVersion: resourceVersion,
	})
	if err != nil {
		return ""
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if s, ok := ev.Object.(*corev1.Secret); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
			if token := tokenOf(s, nil); token != "" {
				return token
			}
		}
	}
	return ""
}

func tokenOf(s *corev1.Secret, err error) string {
	if err != nil || s == nil {
		return ""
	}
	return string(s.Data[corev1.ServiceAccountTokenKey])
}

// createOrUpdate runs create; on AlreadyExists it runs update, if given.
func createOrUpdate(_ context.Context, what string, create, update func() error) error {
	err := create()
	if apierrors.IsAlreadyExists(err) {
		if update == nil {
			return nil
		}
		err = update()
	}
	if err != nil {
		return fmt.Errorf("host %s %s: %w", what, Name, err)
	}
	return nil
}
