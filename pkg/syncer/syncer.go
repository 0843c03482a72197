// Package syncer runs the workloads of a virtual cluster on its host: it
// copies pods down into the host namespace under translated names, binds
// the virtual pods to the nodes they land on, and copies their status back.
//
// This is the first step of the syncer (issue 5): pods only. The
// configmaps, secrets and claims pods refer to are referenced under their
// translated names already, so that a tenant can never point a pod at a
// host object that Nest did not make; copying those objects comes next.
package syncer

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/names"
)

// Syncer mirrors one virtual cluster's pods to its host namespace.
type Syncer struct {
	vc            string
	hostNamespace string
	isolation     config.Isolation
	virtual, host kubernetes.Interface
	virtualPods   corelisters.PodLister
	hostPods      corelisters.PodNamespaceLister
	queue         workqueue.TypedRateLimitingInterface[string]
	log           *slog.Logger
}

// Hook runs the syncer inside a control plane; it does nothing when the
// control plane has no host (`nest controlplane` without --host-kubeconfig).
func Hook() controlplane.Hook {
	return func(ctx context.Context, env controlplane.HookEnv) error {
		if env.HostConfig == "" || env.HostNamespace == "" {
			env.Logger.Info("No host given: the syncer is off")
			return nil
		}
		host, err := kube.Clientset(env.HostConfig)
		if err != nil {
			return fmt.Errorf("syncer: host client: %w", err)
		}
		return Run(ctx, env.Name, env.HostNamespace, env.Config.Isolation, env.Virtual, host, env.Logger)
	}
}

// Run syncs until ctx ends.
func Run(ctx context.Context, vc, hostNamespace string, isolation config.Isolation, virtual, host kubernetes.Interface, log *slog.Logger) error {
	s := &Syncer{
		vc: vc, hostNamespace: hostNamespace, isolation: isolation,
		virtual: virtual, host: host, log: log.With("component", "syncer"),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pods"}),
	}
	defer s.queue.ShutDown()

	virtualInformers := informers.NewSharedInformerFactory(virtual, 0)
	hostInformers := informers.NewSharedInformerFactoryWithOptions(host, 0,
		informers.WithNamespace(hostNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = labels.SelectorFromSet(labels.Set{
				names.LabelManagedBy: names.ManagedByValue, names.LabelVirtualCluster: names.LabelValue(vc),
			}).String()
		}))
	vpods := virtualInformers.Core().V1().Pods()
	hpods := hostInformers.Core().V1().Pods()
	s.virtualPods = vpods.Lister()
	s.hostPods = hpods.Lister().Pods(hostNamespace)
	if _, err := vpods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueueVirtual,
		UpdateFunc: func(_, obj any) { s.enqueueVirtual(obj) },
		DeleteFunc: s.enqueueVirtual,
	}); err != nil {
		return err
	}
	if _, err := hpods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueueHost,
		UpdateFunc: func(_, obj any) { s.enqueueHost(obj) },
		DeleteFunc: s.enqueueHost,
	}); err != nil {
		return err
	}
	virtualInformers.Start(ctx.Done())
	hostInformers.Start(ctx.Done())
	for _, synced := range []cache.InformerSynced{vpods.Informer().HasSynced, hpods.Informer().HasSynced} {
		if !cache.WaitForCacheSync(ctx.Done(), synced) {
			return ctx.Err()
		}
	}
	// Host pods whose virtual pod is gone (deleted while the syncer was
	// down) are found by the initial host events, like any other.
	s.log.Info("Syncer is running", "hostNamespace", hostNamespace)
	const workers = 4
	for range workers {
		go func() {
			for s.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	return nil
}

func (s *Syncer) enqueueVirtual(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		s.queue.Add(key)
	}
}

// enqueueHost maps a host pod back to its virtual pod's key.
func (s *Syncer) enqueueHost(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ns, name := pod.Annotations[annotationVirtualNS], pod.Annotations[names.AnnotationVirtualName]
	if ns != "" && name != "" {
		s.queue.Add(ns + "/" + name)
	}
}

func (s *Syncer) processNext(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	if err := s.syncPod(ctx, key); err != nil {
		s.log.Warn("Sync failed, retrying", "pod", key, "error", err)
		s.queue.AddRateLimited(key)
		return true
	}
	s.queue.Forget(key)
	return true
}
