package syncer

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Indexes of the virtual pod informer, so that the questions the syncer
// asks on every configmap, secret and node event cost a map lookup, not a
// scan of every pod.
const (
	indexPodRefs     = "refs"     // "namespace/kind/name" of what a pod uses
	indexPodNodeName = "nodeName" // the node a pod is bound to
)

func refIndexKey(ns string, kind refKind, name string) string {
	return ns + "/" + string(kind) + "/" + name
}

// podIndexers are the virtual pod informer's indexes.
var podIndexers = cache.Indexers{
	indexPodRefs: func(obj any) ([]string, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return nil, nil
		}
		var keys []string
		for kind, names := range podRefs(pod) {
			for name := range names {
				keys = append(keys, refIndexKey(pod.Namespace, kind, name))
			}
		}
		return keys, nil
	},
	indexPodNodeName: func(obj any) ([]string, error) {
		if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" {
			return []string{pod.Spec.NodeName}, nil
		}
		return nil, nil
	},
}

// refKind is a kind of object a pod refers to by name in its namespace.
type refKind string

const (
	refConfigMap refKind = "configmaps"
	refSecret    refKind = "secrets"
)

// podRefs lists the configmaps and secrets a pod refers to: volumes,
// projections, env, envFrom and image pull secrets; not the service-account
// volume, which is not synced.
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
		if isAPIAccessVolume(&v) {
			continue
		}
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
