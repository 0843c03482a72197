package syncer

import (
	"context"
	"math"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The kinds that are cluster-scoped on the host need a grant beyond the
// host namespace (pkg/hostaccess.ClusterRules), made when the cluster is
// created from its nest.yaml. A config turned on later, or a nest.yaml
// written before these kinds were off by default (storage and ingress
// classes were on, and did nothing), may lack it: an informer the host
// forbids never syncs and would hold the whole syncer at start. So each is
// checked first, and one the host does not allow stays off, with a warning.

// clusterScopedAccess is what each cluster-scoped queue kind needs on the host.
var clusterScopedAccess = []struct {
	kind, group, resource string
	verbs                 []string
}{
	{kindPriorityClass, "scheduling.k8s.io", "priorityclasses", []string{"list", "watch", "create", "update", "delete"}},
	{kindStorageClassUp, "storage.k8s.io", "storageclasses", []string{"list", "watch"}},
	{kindIngressClassUp, "networking.k8s.io", "ingressclasses", []string{"list", "watch"}},
	{kindPriorityClassUp, "scheduling.k8s.io", "priorityclasses", []string{"list", "watch"}},
	{kindStorageClass, "storage.k8s.io", "storageclasses", []string{"list", "watch", "create", "update", "delete"}},
	{kindPV, "", "persistentvolumes", []string{"list", "watch", "create", "update", "delete"}},
}

// dropUngranted turns off the enabled cluster-scoped kinds that the host
// credentials may not work on, asking the host (retrying while it is
// unreachable).
func (s *Syncer) dropUngranted(ctx context.Context) error {
	for _, c := range clusterScopedAccess {
		if !s.enabled(c.kind) {
			continue
		}
		for _, verb := range c.verbs {
			allowed, err := s.hostAllows(ctx, c.group, c.resource, verb)
			if err != nil {
				return err
			}
			if !allowed {
				s.log.Warn("A sync setting is on but the host credentials lack its cluster-scoped grant: the kind is not synced (the grant is made when the cluster is created with the setting on; see docs/syncer.md)",
					"kind", c.kind, "resource", c.resource+"."+c.group, "verb", verb)
				if s.ungranted == nil {
					s.ungranted = map[string]bool{}
				}
				s.ungranted[c.kind] = true
				break
			}
		}
	}
	return nil
}

// hostAllows asks the host whether the syncer may verb a cluster-scoped
// resource.
func (s *Syncer) hostAllows(ctx context.Context, group, resource, verb string) (bool, error) {
	var allowed bool
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Cap: maxRetryDelay, Steps: math.MaxInt32},
		func(ctx context.Context) (bool, error) {
			review, err := s.host.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Group: group, Resource: resource, Verb: verb,
				}},
			}, metav1.CreateOptions{})
			if err != nil {
				s.log.Warn("Cannot ask the host about the syncer's access yet", "resource", resource+"."+group, "error", err)
				return false, nil
			}
			allowed = review.Status.Allowed
			return true, nil
		})
	return allowed, err
}
