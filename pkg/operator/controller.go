package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// fieldManager is the operator's name in managed fields.
const fieldManager = "nest-operator"

// errRetry asks for another reconcile after the back-off, without being a
// failure worth a log line.
var errRetry = errors.New("not settled yet")

func metaFor(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name}
}

// controller reconciles VirtualCluster objects.
type controller struct {
	cfg      Config
	cs       *clients
	provider *lifecycle.Provider
	log      *slog.Logger
	queue    workqueue.TypedRateLimitingInterface[string]
	lister   cache.GenericLister
	events   record.EventRecorder
}

func newController(cfg Config, cs *clients, provider *lifecycle.Provider) *controller {
	limiter := workqueue.NewTypedItemExponentialFailureRateLimiter[string](cfg.RetryBase, cfg.RetryMax)
	return &controller{
		cfg: cfg, cs: cs, provider: provider, log: cfg.Logger, events: &record.FakeRecorder{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[string]{Name: "virtualclusters"}),
	}
}

// run watches VirtualClusters and reconciles them until ctx is done.
func (c *controller) run(ctx context.Context) error {
	defer c.queue.ShutDown()
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.cs.kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	c.events = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: fieldManager})
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.cs.dynamic, c.cfg.Resync, c.cfg.Namespace, nil)
	informer := factory.ForResource(v1alpha1.GroupVersionResource)
	c.lister = informer.Lister()
	enqueue := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("watch VirtualClusters: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for gvr, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch %s: the cache did not sync (is the CRD installed? nest operator --install-crd does it)", gvr.Resource)
		}
	}
	c.log.Info("Operator is reconciling", "namespace", orAll(c.cfg.Namespace), "workers", c.cfg.Workers)
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	c.log.Info("Operator stopped")
	return nil
}

func orAll(ns string) string {
	if ns == "" {
		return "(all)"
	}
	return ns
}

// next reconciles one key; false when the queue is shut down.
func (c *controller) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	err := c.reconcile(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key)
	case ctx.Err() != nil:
		// Shutting down: the next operator carries on.
	default:
		if !errors.Is(err, errRetry) {
			c.log.Warn("Reconcile failed; retrying with back-off", "virtualCluster", key, "attempts", c.queue.NumRequeues(key)+1, "error", err)
		}
		c.queue.AddRateLimited(key)
	}
	return true
}

// get returns the cached VirtualCluster of key, nil if it is gone.
func (c *controller) get(key string) (*v1alpha1.VirtualCluster, error) {
	obj, err := c.lister.Get(key)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return fromUnstructured(obj)
}

func fromUnstructured(obj runtime.Object) (*v1alpha1.VirtualCluster, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	vc := &v1alpha1.VirtualCluster{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, vc); err != nil {
		return nil, fmt.Errorf("decode VirtualCluster %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return vc, nil
}

func toUnstructured(vc *v1alpha1.VirtualCluster) (*unstructured.Unstructured, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(vc)
	if err != nil {
		return nil, fmt.Errorf("encode VirtualCluster %s/%s: %w", vc.Namespace, vc.Name, err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(v1alpha1.GroupVersionKind)
	return u, nil
}

// event records a Kubernetes event about vc (kubectl describe shows it).
func (c *controller) event(vc *v1alpha1.VirtualCluster, typ, reason, message string) {
	u, err := toUnstructured(vc)
	if err != nil {
		return
	}
	c.events.Event(u, typ, reason, message)
}

// sinceStart rounds a duration for logs.
func sinceStart(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
