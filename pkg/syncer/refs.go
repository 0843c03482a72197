package syncer

import (
	corev1 "k8s.io/api/core/v1"
)

// refKind is a kind of object a pod refers to by name in its namespace.
type refKind string

const (
	refConfigMap refKind = "configmaps"
	refSecret    refKind = "secrets"
)

// podRefs lists the configmaps and secrets a pod refers to: volumes,
// projections, env, envFrom and image pull secrets.
func podRefs(pod *corev1.Pod) map[refKind]map[string]bool {
	refs := map[refKind]map[string]bool{refConfigMap: {}, refSecret: {}}
	add := func(k refKind, name string) {
		if name != "" {
			refs[k][name] = true
		}
	}
	for _, s := range pod.Spec.ImagePullSecrets {
		add(refSecret, s.Name)
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			add(refConfigMap, v.ConfigMap.Name)
		case v.Secret != nil:
			add(refSecret, v.Secret.SecretName)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					add(refConfigMap, src.ConfigMap.Name)
				}
				if src.Secret != nil {
					add(refSecret, src.Secret.Name)
				}
			}
		}
	}
	containers := allContainers(&pod.Spec)
	for _, ec := range pod.Spec.EphemeralContainers {
		containers = append(containers, corev1.Container(ec.EphemeralContainerCommon))
	}
	for _, c := range containers {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if e.ValueFrom.ConfigMapKeyRef != nil {
				add(refConfigMap, e.ValueFrom.ConfigMapKeyRef.Name)
			}
			if e.ValueFrom.SecretKeyRef != nil {
				add(refSecret, e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				add(refConfigMap, e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil {
				add(refSecret, e.SecretRef.Name)
			}
		}
	}
	return refs
}
