package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/nestcluster/nest/pkg/names"
)

// hostAutomatic are the objects a host puts into every namespace by itself;
// they neither belong to anyone nor keep a namespace alive.
var hostAutomatic = map[string]sets.Set[string]{
	"serviceaccounts": sets.New("default"),
	"configmaps":      sets.New("kube-root-ca.crt"),
}

// skippedResources hold no objects worth keeping a namespace for.
var skippedResources = sets.New("events", "events.events.k8s.io")

// hostInventory is what a virtual cluster's host namespace holds, sorted by
// owner.
type hostInventory struct {
	// owned are the objects labelled as the virtual cluster's.
	owned []hostObject
	// foreign are objects Nest did not make and that nothing owns (objects
	// with an owner reference go with their owner).
	foreign []hostObject
	// collections are the resources that serve deletecollection: their
	// owned objects go in one request.
	collections sets.Set[schema.GroupVersionResource]
}

type hostObject struct {
	resource schema.GroupVersionResource
	name     string
}

func (o hostObject) String() string {
	if o.resource.Group == "" {
		return o.resource.Resource + "/" + o.name
	}
	return o.resource.Resource + "." + o.resource.Group + "/" + o.name
}

// inventoryHostNamespace lists every object in namespace, through discovery
// and the metadata API so that custom resources count too.
func inventoryHostNamespace(ctx context.Context, cfg *rest.Config, namespace, vc string) (*hostInventory, error) {
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := disco.ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discover host resources: %w", err)
	}
	inv := &hostInventory{collections: sets.New[schema.GroupVersionResource]()}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			verbs := sets.New(r.Verbs...)
			qualified := r.Name
			if gv.Group != "" {
				qualified += "." + gv.Group
			}
			if strings.Contains(r.Name, "/") || !verbs.HasAll("list", "delete") || skippedResources.Has(qualified) {
				continue
			}
			gvr := gv.WithResource(r.Name)
			if verbs.Has("deletecollection") {
				inv.collections.Insert(gvr)
			}
			objs, err := meta.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
					continue
				}
				return nil, fmt.Errorf("list %s in host namespace %s: %w", qualified, namespace, err)
			}
			for _, o := range objs.Items {
				obj := hostObject{resource: gvr, name: o.Name}
				switch {
				case o.Labels[names.LabelManagedBy] == names.ManagedByValue && o.Labels[names.LabelVirtualCluster] == names.LabelValue(vc):
					inv.owned = append(inv.owned, obj)
				case len(o.OwnerReferences) > 0, hostAutomatic[r.Name].Has(o.Name):
				default:
					inv.foreign = append(inv.foreign, obj)
				}
			}
		}
	}
	return inv, nil
}

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// ownedSelector selects the host objects labelled as the virtual cluster's:
// the same two labels inventoryHostNamespace sorts them by.
func ownedSelector(vc string) string {
	return labels.SelectorFromSet(labels.Set{
		names.LabelManagedBy:      names.ManagedByValue,
		names.LabelVirtualCluster: names.LabelValue(vc),
	}).String()
}

// deleteOwned deletes the virtual cluster's own objects, pods first: the
// kind whose deletion takes time (graceful termination on the node), and
// the one a namespace deletion waits for before anything else. A resource
// serving deletecollection goes in one request selecting the cluster's
// labels, others object by object. Each delete uses the object's own grace
// period; dependents follow through the host's garbage collector. It does
// not wait for the objects to be gone.
func deleteOwned(ctx context.Context, cfg *rest.Config, namespace, vc string, inv *hostInventory) error {
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	byResource := map[schema.GroupVersionResource][]hostObject{}
	for _, o := range inv.owned {
		byResource[o.resource] = append(byResource[o.resource], o)
	}
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	for _, gvr := range deletionOrder(maps.Keys(byResource)) {
		client := meta.Resource(gvr).Namespace(namespace)
		if inv.collections.Has(gvr) {
			err := client.DeleteCollection(ctx, opts, metav1.ListOptions{LabelSelector: ownedSelector(vc)})
			if err == nil || apierrors.IsNotFound(err) {
				continue
			}
			// Host credentials that may delete objects but not collections
			// of them: one by one, as below.
			if !apierrors.IsMethodNotSupported(err) && !apierrors.IsForbidden(err) {
				return fmt.Errorf("delete the %s of virtual cluster %s in host namespace %s: %w", gvr.GroupResource(), vc, namespace, err)
			}
		}
		for _, o := range byResource[gvr] {
			if err := client.Delete(ctx, o.name, opts); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s in host namespace %s: %w", o, namespace, err)
			}
		}
	}
	return nil
}

// deletionOrder sorts resources for deleteOwned: pods first, then by group,
// version and name, so that every delete goes the same way.
func deletionOrder(resources iter.Seq[schema.GroupVersionResource]) []schema.GroupVersionResource {
	return slices.SortedFunc(resources, func(a, b schema.GroupVersionResource) int {
		if (a == podsResource) != (b == podsResource) {
			if a == podsResource {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.String(), b.String())
	})
}

// describeObjects names up to a few objects, for a log line.
func describeObjects(objs []hostObject) string {
	const shown = 5
	var out []string
	for i, o := range objs {
		if i == shown {
			out = append(out, fmt.Sprintf("and %d more", len(objs)-shown))
			break
		}
		out = append(out, o.String())
	}
	return strings.Join(out, ", ")
}
