package syncer

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/names"
)

// subdomainLimit is the name limit of configmaps, secrets and PVCs.
const subdomainLimit = 253

// hostPodName is the host name of a virtual pod.
func (s *Syncer) hostPodName(namespace, name string) string {
	return names.HostName(s.vc, namespace, name)
}

// hostObjectName is the host name of a configmap, secret or PVC a pod uses.
func (s *Syncer) hostObjectName(namespace, name string) string {
	return names.HostNameWithLimit(subdomainLimit, s.vc, namespace, name)
}

func allContainers(spec *corev1.PodSpec) []corev1.Container {
	out := append([]corev1.Container{}, spec.InitContainers...)
	return append(out, spec.Containers...)
}

// translatePod returns the host pod for a virtual pod: in the host
// namespace, under its translated name, with every reference to a
// configmap, secret or claim translated the same way, and nothing that
// would reach the host's API with the tenant's identity.
func (s *Syncer) translatePod(v *corev1.Pod) *corev1.Pod {
	h := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      s.hostPodName(v.Namespace, v.Name),
			Namespace: s.hostNamespace,
			Labels:    s.hostLabels(v.Labels, v.Namespace),
			Annotations: map[string]string{
				names.AnnotationVirtualName: v.Name,
				names.AnnotationVirtualKind: "Pod",
				names.AnnotationVirtualUID:  string(v.UID),
				annotationVirtualNS:         v.Namespace,
			},
		},
		Spec: *v.Spec.DeepCopy(),
	}
	if owner := metav1.GetControllerOf(v); owner != nil {
		// Host tooling keyed on a pod's controller (the local host's KWOK
		// completes Job pods) sees the virtual one.
		h.Annotations[names.AnnotationVirtualOwnerKind] = owner.Kind
	}
	spec := &h.Spec
	// The host schedules it; the virtual pod is bound to the node it lands on.
	spec.NodeName = ""
	spec.SchedulerName = ""
	s.placedByVirtualScheduler(v.Spec.NodeName, spec)
	s.translateNodeNames(v.Spec.NodeName, spec) // the host nodes the tenant named
	s.dropVirtualOnlyResources(v.Spec.NodeName, h)
	// Nest's workload service account, bound to nothing, with no token: the
	// tenant's service account lives in the virtual cluster, not on the
	// host. (Not the namespace's "default": the host makes that one a few
	// seconds after the namespace, and pods wait for it.)
	spec.ServiceAccountName = s.hostServiceAccount(v)
	spec.DeprecatedServiceAccount = ""
	spec.AutomountServiceAccountToken = ptrTo(false)
	// Priority classes are the virtual cluster's: the host's default, or
	// the host copy of the tenant's class when they are synced.
	s.translatePriority(v, spec)
	spec.ImagePullSecrets = translateLocalRefs(spec.ImagePullSecrets, func(n string) string { return s.hostObjectName(v.Namespace, n) })

	// Its DNS and the "kubernetes" and service variables are the virtual
	// cluster's, as its kubelet would set them; the host kubelet's service
	// links (the host namespace's services) are off.
	s.translateDNS(v.Namespace, spec)
	s.translateAffinity(v.Namespace, spec)
	spec.EnableServiceLinks = ptrTo(false)
	env := s.serviceEnv(v)

	var volumes []corev1.Volume
	dropped := map[string]bool{}
	for _, vol := range spec.Volumes {
		if isAPIAccessVolume(&vol) {
			// Same name, same mounts: the token of the virtual apiserver,
			// its CA and the namespace, from the pod's token Secret.
			volumes = append(volumes, corev1.Volume{Name: vol.Name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: s.tokenSecretName(v.Namespace, v.Name), DefaultMode: vol.Projected.DefaultMode,
			}}})
			continue
		}
		if s.translateVolume(v.Namespace, &vol) {
			volumes = append(volumes, vol)
		} else {
			dropped[vol.Name] = true
		}
	}
	spec.Volumes = volumes
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			s.translateContainer(v.Namespace, &list[i], dropped)
			prependEnv(&list[i], env)
		}
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		s.translateContainer(v.Namespace, &c, dropped)
		prependEnv(&c, env)
		spec.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
	return h
}

// hostLabels are the labels of a host copy: the tenant's own, so that host
// services can select host pods, plus the ownership labels, which also keep
// a selector from reaching another virtual namespace or cluster. Tenant
// labels under Nest's domain are dropped: they would forge ownership.
func (s *Syncer) hostLabels(virtual map[string]string, ns string) map[string]string {
	out := names.OwnershipLabels(s.vc, ns)
	for k, v := range virtual {
		if !isNestKey(k) {
			out[k] = v
		}
	}
	return out
}

// hostSelector translates a tenant's label selector for host objects.
func (s *Syncer) hostSelector(virtual map[string]string, ns string) map[string]string {
	if len(virtual) == 0 {
		return nil
	}
	return s.hostLabels(virtual, ns)
}

// isNestKey reports whether a label or annotation key is in Nest's domain
// (nest.dev/x or sub.nest.dev/x).
func isNestKey(k string) bool {
	prefix, _, ok := strings.Cut(k, "/")
	return ok && (prefix == names.Domain || strings.HasSuffix(prefix, "."+names.Domain))
}

// annotationVirtualNS holds the virtual namespace in full (the label value
// may be hashed).
const annotationVirtualNS = names.Domain + "/virtual-namespace"

// isAPIAccessVolume reports whether a volume is the one the virtual
// cluster's service-account admission adds (token, CA, namespace): on the
// host it becomes the pod's token Secret (see tokens.go).
func isAPIAccessVolume(vol *corev1.Volume) bool {
	return vol.Projected != nil && strings.HasPrefix(vol.Name, "kube-api-access-")
}

// translateVolume rewrites a volume's references; false drops it (a
// projection of nothing but service-account tokens, which the host would
// mint for its own apiserver).
func (s *Syncer) translateVolume(ns string, vol *corev1.Volume) bool {
	name := func(n string) string { return s.hostObjectName(ns, n) }
	switch {
	case vol.ConfigMap != nil:
		vol.ConfigMap.Name = name(vol.ConfigMap.Name)
	case vol.Secret != nil:
		vol.Secret.SecretName = name(vol.Secret.SecretName)
	case vol.PersistentVolumeClaim != nil:
		vol.PersistentVolumeClaim.ClaimName = name(vol.PersistentVolumeClaim.ClaimName)
	case vol.Projected != nil:
		var sources []corev1.VolumeProjection
		for _, src := range vol.Projected.Sources {
			switch {
			case src.ServiceAccountToken != nil:
				continue // a virtual token means nothing to the host
			case src.ConfigMap != nil:
				src.ConfigMap.Name = name(src.ConfigMap.Name)
			case src.Secret != nil:
				src.Secret.Name = name(src.Secret.Name)
			}
			sources = append(sources, src)
		}
		if len(sources) == 0 || isAPIAccessVolume(vol) {
			return false
		}
		vol.Projected.Sources = sources
	}
	return true
}

func (s *Syncer) translateContainer(ns string, c *corev1.Container, dropped map[string]bool) {
	name := func(n string) string { return s.hostObjectName(ns, n) }
	for i := range c.Env {
		if ref := c.Env[i].ValueFrom; ref != nil {
			if ref.ConfigMapKeyRef != nil {
				ref.ConfigMapKeyRef.Name = name(ref.ConfigMapKeyRef.Name)
			}
			if ref.SecretKeyRef != nil {
				ref.SecretKeyRef.Name = name(ref.SecretKeyRef.Name)
			}
		}
	}
	for i := range c.EnvFrom {
		if c.EnvFrom[i].ConfigMapRef != nil {
			c.EnvFrom[i].ConfigMapRef.Name = name(c.EnvFrom[i].ConfigMapRef.Name)
		}
		if c.EnvFrom[i].SecretRef != nil {
			c.EnvFrom[i].SecretRef.Name = name(c.EnvFrom[i].SecretRef.Name)
		}
	}
	var mounts []corev1.VolumeMount
	for _, m := range c.VolumeMounts {
		if !dropped[m.Name] {
			mounts = append(mounts, m)
		}
	}
	c.VolumeMounts = mounts
}

func translateLocalRefs(refs []corev1.LocalObjectReference, name func(string) string) []corev1.LocalObjectReference {
	out := make([]corev1.LocalObjectReference, len(refs))
	for i, r := range refs {
		out[i] = corev1.LocalObjectReference{Name: name(r.Name)}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }
