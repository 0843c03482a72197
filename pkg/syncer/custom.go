package syncer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/names"
)

// Custom resources named in sync.customResources are copied down as they
// are: everything but metadata and status goes to a host object of the same
// kind, under the translated name, in the host namespace; the host copy's
// status comes back up. The host must serve the kind (its CRD installed),
// and so must the virtual cluster: until both do, the syncer waits and
// looks again. Names inside the spec are not translated: a custom resource
// is opaque to Nest.

// kindCustomPrefix starts the queue kind of custom resources:
// "custom/INDEX", the index into sync.customResources.
const kindCustomPrefix = "custom/"

// customPoll is how often the syncer looks for a custom resource kind that
// one side does not serve yet.
const customPoll = 5 * time.Second

// customSync copies one custom resource kind.
type customSync struct {
	kind          string // queue kind
	cr            config.CustomResource
	virtualGVR    schema.GroupVersionResource
	hostGVR       schema.GroupVersionResource
	virtualClient dynamic.NamespaceableResourceInterface
	hostClient    dynamic.ResourceInterface
	virtualLister cache.GenericLister
	hostLister    cache.GenericNamespaceLister
	hasStatus     bool // the virtual kind has a status subresource
}

// startCustomResources waits, in the background, for each configured custom
// kind to be served on both sides, then starts its informers and syncs it.
func (s *Syncer) startCustomResources(ctx context.Context, virtualDynamic, hostDynamic dynamic.Interface) {
	for i, cr := range s.rules.CustomResources {
		go func() {
			c, err := s.waitCustomKind(ctx, virtualDynamic, hostDynamic, i, cr)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("Custom resource kind cannot be synced", "group", cr.Group, "version", cr.Version, "kind", cr.Kind, "error", err)
				}
				return
			}
			s.log.Info("Syncing custom resources", "resource", c.virtualGVR.String())
		}()
	}
}

// waitCustomKind resolves a custom kind on both sides, polling until both
// serve it, and starts its informers.
func (s *Syncer) waitCustomKind(ctx context.Context, virtualDynamic, hostDynamic dynamic.Interface, i int, cr config.CustomResource) (*customSync, error) {
	gv := schema.GroupVersion{Group: cr.Group, Version: cr.Version}
	logged := false
	for {
		vres, verr := findKind(s.virtual.Discovery(), gv, cr.Kind)
		hres, herr := findKind(s.host.Discovery(), gv, cr.Kind)
		if verr == nil && herr == nil {
			if !vres.Namespaced || !hres.Namespaced {
				return nil, fmt.Errorf("%s is cluster-scoped: only namespaced kinds can be copied into a host namespace", cr.Kind)
			}
			return s.startCustomKind(ctx, virtualDynamic, hostDynamic, i, cr, gv, vres, hres)
		}
		if !logged {
			s.log.Info("Waiting for a custom resource kind to be served on both sides", "kind", cr.Kind, "groupVersion", gv.String(),
				"virtual", errString(verr), "host", errString(herr))
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(customPoll):
		}
	}
}

func (s *Syncer) startCustomKind(ctx context.Context, virtualDynamic, hostDynamic dynamic.Interface, i int, cr config.CustomResource, gv schema.GroupVersion, vres, hres *metav1.APIResource) (*customSync, error) {
	c := &customSync{
		kind: kindCustomPrefix + strconv.Itoa(i), cr: cr,
		virtualGVR: gv.WithResource(vres.Name), hostGVR: gv.WithResource(hres.Name),
	}
	c.hasStatus = hasSubresource(s.virtual.Discovery(), gv, vres.Name+"/status")
	c.virtualClient = virtualDynamic.Resource(c.virtualGVR)
	c.hostClient = hostDynamic.Resource(c.hostGVR).Namespace(s.hostNamespace)

	virtualInformers := dynamicinformer.NewDynamicSharedInformerFactory(virtualDynamic, 0)
	hostInformers := dynamicinformer.NewFilteredDynamicSharedInformerFactory(hostDynamic, 0, s.hostNamespace, func(lo *metav1.ListOptions) {
		lo.LabelSelector = labels.SelectorFromSet(labels.Set{
			names.LabelManagedBy: names.ManagedByValue, names.LabelVirtualCluster: names.LabelValue(s.vc),
		}).String()
	})
	vinf, hinf := virtualInformers.ForResource(c.virtualGVR), hostInformers.ForResource(c.hostGVR)
	c.virtualLister, c.hostLister = vinf.Lister(), hinf.Lister().ByNamespace(s.hostNamespace)
	for _, h := range []informerHandler{
		{vinf.Informer(), s.enqueueVirtual(c.kind)},
		{hinf.Informer(), s.enqueueHost(c.kind)},
	} {
		if _, err := h.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    h.enqueue,
			UpdateFunc: func(_, obj any) { h.enqueue(obj) },
			DeleteFunc: h.enqueue,
		}); err != nil {
			return nil, err
		}
	}
	// Known before the informers start: the keys they queue at once must
	// find it (the listers wait for the caches below).
	s.customMu.Lock()
	s.custom[c.kind] = c
	s.customMu.Unlock()
	virtualInformers.Start(ctx.Done())
	hostInformers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), vinf.Informer().HasSynced, hinf.Informer().HasSynced) {
		return nil, ctx.Err()
	}
	return c, nil
}

// findKind returns the resource serving kind in gv, if the server serves it.
func findKind(d discovery.DiscoveryInterface, gv schema.GroupVersion, kind string) (*metav1.APIResource, error) {
	list, err := d.ServerResourcesForGroupVersion(gv.String())
	if err != nil {
		return nil, err
	}
	for i := range list.APIResources {
		r := &list.APIResources[i]
		if r.Kind == kind && !strings.Contains(r.Name, "/") {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%s serves no kind %s", gv, kind)
}

func hasSubresource(d discovery.DiscoveryInterface, gv schema.GroupVersion, name string) bool {
	list, err := d.ServerResourcesForGroupVersion(gv.String())
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == name {
			return true
		}
	}
	return false
}

func errString(err error) string {
	if err == nil {
		return "served"
	}
	return err.Error()
}

// customKind returns the custom kind behind a queue kind, or nil (not
// custom, or not started yet: its informers queue everything once started).
func (s *Syncer) customKind(kind string) *customSync {
	if !strings.HasPrefix(kind, kindCustomPrefix) {
		return nil
	}
	s.customMu.Lock()
	defer s.customMu.Unlock()
	return s.custom[kind]
}

// syncCustom converges the host copy of one custom resource, and its
// status back up.
func (s *Syncer) syncCustom(ctx context.Context, c *customSync, ns, name string) error {
	v, haveV, err := found(getUnstructured(c.virtualLister.ByNamespace(ns).Get(name)))
	if err != nil {
		return err
	}
	hname := s.hostObjectName(ns, name)
	h, haveH, err := found(getUnstructured(c.hostLister.Get(hname)))
	if err != nil {
		return err
	}
	wanted := haveV && v.GetDeletionTimestamp() == nil
	var ref corev1.ObjectReference
	if haveV {
		ref = corev1.ObjectReference{Kind: c.cr.Kind, APIVersion: v.GetAPIVersion(), Namespace: ns, Name: name, UID: v.GetUID()}
	}
	err = syncCopy(ctx, s, copyOf[*unstructured.Unstructured]{
		kind: strings.ToLower(c.cr.Kind), hostName: hname, client: dynamicCopies{c.hostClient},
		host: h, exists: haveH, wanted: wanted, virtual: ref,
		want: func() *unstructured.Unstructured { return s.translateCustom(v, hname, c.cr.Kind) },
		current: func(h, want *unstructured.Unstructured) bool {
			return sameOrigin(h, want) && equality.Semantic.DeepEqual(h.GetLabels(), want.GetLabels()) &&
				equality.Semantic.DeepEqual(customContent(h), customContent(want))
		},
		update: func(h, want *unstructured.Unstructured) (*unstructured.Unstructured, bool) {
			updated := want.DeepCopy()
			updated.SetResourceVersion(h.GetResourceVersion())
			updated.SetUID(h.GetUID())
			if status, ok := h.Object["status"]; ok {
				updated.Object["status"] = status
			}
			return updated, true
		},
	}, ns, name)
	if err != nil || !wanted || !haveH || !s.ownsObject(h, ns, name) {
		return err
	}
	hostStatus, hasHostStatus := h.Object["status"]
	if !hasHostStatus || equality.Semantic.DeepEqual(hostStatus, v.Object["status"]) {
		return nil
	}
	updated := v.DeepCopy()
	updated.Object["status"] = hostStatus
	if c.hasStatus {
		_, err = c.virtualClient.Namespace(ns).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	} else {
		_, err = c.virtualClient.Namespace(ns).Update(ctx, updated, metav1.UpdateOptions{})
	}
	return ignoreGone(err, fmt.Sprintf("copy status up to virtual %s %s/%s", c.cr.Kind, ns, name))
}

// translateCustom returns the host copy of a custom resource: its content
// (all but metadata and status) under Nest's metadata.
func (s *Syncer) translateCustom(v *unstructured.Unstructured, hname, kind string) *unstructured.Unstructured {
	h := &unstructured.Unstructured{Object: customContent(v)}
	h.SetAPIVersion(v.GetAPIVersion())
	h.SetKind(v.GetKind())
	meta := s.hostMeta(v.GetNamespace(), v.GetName(), kind, v.GetUID(), hname)
	meta.Labels = s.hostLabels(v.GetLabels(), v.GetNamespace())
	h.SetName(meta.Name)
	h.SetNamespace(meta.Namespace)
	h.SetLabels(meta.Labels)
	h.SetAnnotations(meta.Annotations)
	return h
}

// customContent is an object without apiVersion, kind, metadata and status.
func customContent(u *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for k, v := range u.Object {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
		default:
			out[k] = v
		}
	}
	return runtime.DeepCopyJSON(out)
}

// getUnstructured turns a generic lister's answer into an object.
func getUnstructured(obj any, err error) (*unstructured.Unstructured, error) {
	if err != nil {
		return nil, err
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("lister returned %T", obj)
	}
	return u, nil
}

// dynamicCopies adapts a dynamic client to syncCopy's hostClient.
type dynamicCopies struct{ dynamic.ResourceInterface }

func (d dynamicCopies) Create(ctx context.Context, u *unstructured.Unstructured, o metav1.CreateOptions) (*unstructured.Unstructured, error) {
	return d.ResourceInterface.Create(ctx, u, o)
}

func (d dynamicCopies) Get(ctx context.Context, name string, o metav1.GetOptions) (*unstructured.Unstructured, error) {
	return d.ResourceInterface.Get(ctx, name, o)
}

func (d dynamicCopies) Update(ctx context.Context, u *unstructured.Unstructured, o metav1.UpdateOptions) (*unstructured.Unstructured, error) {
	return d.ResourceInterface.Update(ctx, u, o)
}

func (d dynamicCopies) Delete(ctx context.Context, name string, o metav1.DeleteOptions) error {
	err := d.ResourceInterface.Delete(ctx, name, o)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
