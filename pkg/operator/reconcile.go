package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// clusterNameLimit keeps the default host namespace, "nest-" and the
// cluster name, a DNS-1123 label.
const clusterNameLimit = names.LabelMaxLength - len("nest-")

// ClusterName is the lifecycle name of the VirtualCluster namespace/name:
// "name-x-namespace", hashed by pkg/names when that is too long or
// ambiguous, so that objects of the same name in two namespaces never
// share a cluster.
func ClusterName(namespace, name string) string {
	return names.HostNameWithLimit(clusterNameLimit, namespace, "", name)
}

// createOptions are the lifecycle's options for vc. The CRD admits only
// the runtimes the lifecycle knows ("" is the process runtime).
func (c *controller) createOptions(vc *v1alpha1.VirtualCluster, cfg *config.Config) lifecycle.CreateOptions {
	opts := lifecycle.CreateOptions{HostKubeconfig: c.cfg.HostKubeconfig, Config: cfg, Timeout: c.cfg.ReadyTimeout, Runtime: string(vc.Spec.Runtime)}
	if opts.Runtime == lifecycle.RuntimePod {
		opts.ChartValues = c.cfg.ChartValues
	}
	return opts
}

// reconcile moves one VirtualCluster towards its spec.
func (c *controller) reconcile(ctx context.Context, key string) error {
	vc, err := c.get(key)
	if err != nil || vc == nil {
		return err
	}
	name := ClusterName(vc.Namespace, vc.Name)
	log := c.log.With("virtualCluster", key, "cluster", name)

	if vc.DeletionTimestamp != nil {
		if !slices.Contains(vc.Finalizers, v1alpha1.Finalizer) {
			return nil
		}
		return c.delete(ctx, vc, name, log)
	}
	if !slices.Contains(vc.Finalizers, v1alpha1.Finalizer) {
		if vc, err = c.addFinalizer(ctx, vc); err != nil {
			return err
		}
	}

	cfg, err := clusterConfig(vc.Spec)
	if err != nil {
		return c.failed(ctx, vc, "InvalidConfig", err, true)
	}

	cluster, err := c.provider.Get(ctx, name)
	if errors.Is(err, lifecycle.ErrNotFound) {
		if err := c.setStatus(ctx, vc, func(s *v1alpha1.VirtualClusterStatus) {
			s.Phase, s.ClusterName = v1alpha1.PhaseCreating, name
			setCondition(s, vc, v1alpha1.ConditionReady, metav1.ConditionFalse, "Creating", "creating the virtual cluster")
		}); err != nil {
			return err
		}
		start := time.Now()
		if _, err := c.provider.Create(ctx, name, c.createOptions(vc, cfg)); err != nil {
			return c.failed(ctx, vc, "CreateFailed", err, false)
		}
		log.Info("Virtual cluster created", "elapsed", sinceStart(start))
		c.event(vc, corev1.EventTypeNormal, "Created", "virtual cluster "+name+" created in "+sinceStart(start).String())
		cluster, err = c.provider.Get(ctx, name)
	}
	if err != nil {
		return fmt.Errorf("read virtual cluster %s: %w", name, err)
	}

	if vc.Spec.Paused {
		if cluster.State != lifecycle.StatePaused {
			if err := c.provider.Pause(ctx, name); err != nil {
				return c.failed(ctx, vc, "PauseFailed", err, false)
			}
			log.Info("Virtual cluster paused")
			c.event(vc, corev1.EventTypeNormal, "Paused", "control plane stopped and its pods removed from the host")
		}
		return c.setStatus(ctx, vc, func(s *v1alpha1.VirtualClusterStatus) {
			s.Phase, s.Endpoint, s.ObservedGeneration = v1alpha1.PhasePaused, "", vc.Generation
			s.ClusterName, s.HostNamespace = name, cluster.HostNamespace
			setCondition(s, vc, v1alpha1.ConditionReady, metav1.ConditionFalse, "Paused", "paused: the control plane is stopped and its pods are removed from the host; its state is kept")
			setCondition(s, vc, v1alpha1.ConditionFailed, metav1.ConditionFalse, "Reconciled", "")
		})
	}
	if cluster.State != lifecycle.StateRunning {
		wasPaused := cluster.State == lifecycle.StatePaused
		if cluster, err = c.provider.Start(ctx, name, c.cfg.ReadyTimeout); err != nil {
			return c.failed(ctx, vc, "StartFailed", err, false)
		}
		if wasPaused {
			log.Info("Virtual cluster resumed")
			c.event(vc, corev1.EventTypeNormal, "Resumed", "control plane started; the syncer puts its pods back")
		} else {
			log.Info("Virtual cluster started")
			c.event(vc, corev1.EventTypeNormal, "Started", "control plane started")
		}
	}
	if cluster.State != lifecycle.StateRunning {
		if err := c.setStatus(ctx, vc, func(s *v1alpha1.VirtualClusterStatus) {
			s.Phase = v1alpha1.PhaseCreating
			setCondition(s, vc, v1alpha1.ConditionReady, metav1.ConditionFalse, "Starting", "waiting for the virtual apiserver to answer")
		}); err != nil {
			return err
		}
		return errRetry
	}
	kubeconfig, err := c.provider.KubeconfigBytes(ctx, name)
	if err != nil {
		return c.failed(ctx, vc, "KubeconfigFailed", err, false)
	}
	ref, err := c.ensureSecret(ctx, vc, kubeconfig)
	if err != nil {
		return c.failed(ctx, vc, "SecretFailed", err, false)
	}
	return c.setStatus(ctx, vc, func(s *v1alpha1.VirtualClusterStatus) {
		s.Phase, s.Endpoint, s.KubeconfigSecretRef, s.ObservedGeneration = v1alpha1.PhaseReady, cluster.Endpoint, ref, vc.Generation
		s.ClusterName, s.HostNamespace = name, cluster.HostNamespace
		setCondition(s, vc, v1alpha1.ConditionReady, metav1.ConditionTrue, "APIServerAnswers", "the virtual apiserver answers at "+cluster.Endpoint)
		setCondition(s, vc, v1alpha1.ConditionFailed, metav1.ConditionFalse, "Reconciled", "")
	})
}

// delete deletes the virtual cluster and everything it made, then lets
// the VirtualCluster go.
func (c *controller) delete(ctx context.Context, vc *v1alpha1.VirtualCluster, name string, log *slog.Logger) error {
	if err := c.setStatus(ctx, vc, func(s *v1alpha1.VirtualClusterStatus) {
		s.Phase = v1alpha1.PhaseDeleting
		setCondition(s, vc, v1alpha1.ConditionReady, metav1.ConditionFalse, "Deleting", "deleting the virtual cluster and its host objects")
	}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	start := time.Now()
	err := c.provider.Delete(ctx, name)
	existed := !errors.Is(err, lifecycle.ErrNotFound)
	if err != nil && existed {
		return c.failed(ctx, vc, "DeleteFailed", err, false)
	}
	if err := c.deleteSecret(ctx, vc); err != nil {
		return c.failed(ctx, vc, "DeleteFailed", err, false)
	}
	if err := c.removeFinalizer(ctx, vc); err != nil {
		return err
	}
	if existed {
		log.Info("Virtual cluster deleted", "elapsed", sinceStart(start))
		c.event(vc, corev1.EventTypeNormal, "Deleted", "virtual cluster "+name+" and its host objects deleted")
	}
	return nil
}

// addFinalizer adds the finalizer and returns the updated object.
func (c *controller) addFinalizer(ctx context.Context, vc *v1alpha1.VirtualCluster) (*v1alpha1.VirtualCluster, error) {
	vc = vc.DeepCopy()
	vc.Finalizers = append(vc.Finalizers, v1alpha1.Finalizer)
	return c.update(ctx, vc)
}

// removeFinalizer removes the finalizer, reading again on conflicts.
func (c *controller) removeFinalizer(ctx context.Context, vc *v1alpha1.VirtualCluster) error {
	for {
		vc = vc.DeepCopy()
		vc.Finalizers = slices.DeleteFunc(vc.Finalizers, func(f string) bool { return f == v1alpha1.Finalizer })
		_, err := c.update(ctx, vc)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
		if vc, err = c.fetch(ctx, vc.Namespace, vc.Name); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
	}
}

func (c *controller) update(ctx context.Context, vc *v1alpha1.VirtualCluster) (*v1alpha1.VirtualCluster, error) {
	u, err := toUnstructured(vc)
	if err != nil {
		return nil, err
	}
	out, err := c.cs.dynamic.Resource(v1alpha1.GroupVersionResource).Namespace(vc.Namespace).Update(ctx, u, metav1.UpdateOptions{FieldManager: fieldManager})
	if err != nil {
		return nil, fmt.Errorf("update VirtualCluster %s/%s: %w", vc.Namespace, vc.Name, err)
	}
	return fromUnstructured(out)
}

// fetch reads a VirtualCluster from the server, not the cache.
func (c *controller) fetch(ctx context.Context, namespace, name string) (*v1alpha1.VirtualCluster, error) {
	u, err := c.cs.dynamic.Resource(v1alpha1.GroupVersionResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return fromUnstructured(u)
}

// failed records a failure: phase Failed, the Failed condition True with
// reason and message. A permanent failure waits for a new spec (nil is
// returned); any other is returned, to be retried with back-off.
func (c *controller) failed(ctx context.Context, vc *v1alpha1.VirtualCluster, reason string, err error, permanent bool) error {
	if ctx.Err() != nil {
		return err // shutting down: the next operator carries on
	}
	c.event(vc, corev1.EventTypeWarning, reason, err.Error())
	serr := c.setStatus(ctx, vc, func(s *v1alpha1.VirtualClusterStatus) {
		if vc.DeletionTimestamp == nil {
			s.Phase = v1alpha1.PhaseFailed
		}
		if permanent {
			s.ObservedGeneration = vc.Generation
		}
		setCondition(s, vc, v1alpha1.ConditionFailed, metav1.ConditionTrue, reason, err.Error())
		if vc.DeletionTimestamp == nil {
			setCondition(s, vc, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, err.Error())
		}
	})
	if serr != nil && !apierrors.IsNotFound(serr) {
		c.log.Warn("Could not record a failure", "virtualCluster", vc.Namespace+"/"+vc.Name, "error", serr)
	}
	if permanent {
		c.log.Warn("VirtualCluster cannot be reconciled until its spec changes", "virtualCluster", vc.Namespace+"/"+vc.Name, "reason", reason, "error", err)
		return nil
	}
	return fmt.Errorf("%s: %w", reason, err)
}

// setStatus applies mutate to the status and writes it when it changed,
// reading the object again on conflicts.
func (c *controller) setStatus(ctx context.Context, vc *v1alpha1.VirtualCluster, mutate func(*v1alpha1.VirtualClusterStatus)) error {
	for attempt := 0; ; attempt++ {
		next := vc.DeepCopy()
		mutate(&next.Status)
		if equality.Semantic.DeepEqual(vc.Status, next.Status) {
			return nil
		}
		u, err := toUnstructured(next)
		if err != nil {
			return err
		}
		out, err := c.cs.dynamic.Resource(v1alpha1.GroupVersionResource).Namespace(vc.Namespace).UpdateStatus(ctx, u, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			if updated, err := fromUnstructured(out); err == nil {
				*vc = *updated
			}
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= 10 {
			return fmt.Errorf("write status of VirtualCluster %s/%s: %w", vc.Namespace, vc.Name, err)
		}
		fresh, err := c.fetch(ctx, vc.Namespace, vc.Name)
		if err != nil {
			return fmt.Errorf("read VirtualCluster %s/%s: %w", vc.Namespace, vc.Name, err)
		}
		*vc = *fresh
	}
}

// setCondition sets one condition; its transition time moves only when
// its status changes.
func setCondition(s *v1alpha1.VirtualClusterStatus, vc *v1alpha1.VirtualCluster, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: vc.Generation,
	})
}
