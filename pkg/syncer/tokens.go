package syncer

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/names"
)

// A virtual pod that mounts its service account's token (the
// kube-api-access volume of the virtual cluster's admission) gets on the host
// a Secret with a token of the VIRTUAL apiserver, asked for the pod's
// virtual service account and bound to the virtual pod, with the virtual
// cluster's CA and the pod's namespace: the same three files, at the same
// mount paths. The syncer renews it at 80 % of its lifetime, and deletes it
// with the pod.

const (
	// kindToken is the virtual-kind annotation of a token Secret.
	kindToken = "ServiceAccountToken"
	// annotationTokenRefresh is when a token Secret is renewed (RFC 3339).
	annotationTokenRefresh = names.Domain + "/token-refresh"
	// tokenLifetime is what the syncer asks for; the apiserver may shorten it.
	tokenLifetime = time.Hour
	// rootCAConfigMap is published in every namespace by the virtual
	// cluster's root-ca-cert-publisher.
	rootCAConfigMap = "kube-root-ca.crt"
)

// The tokens wait for the virtual apiserver to be fully ready. The control
// plane starts its hooks (this syncer) before the apiserver's
// rbac/bootstrap-roles post-start hook is done (controlplane.
// SlowBootstrapChecks): for about a second after a cluster starts, the
// default roles (system:public-info-viewer, system:discovery,
// system:basic-user) are missing and a valid token of a service account is
// refused even /version (403). Until then, pods go to the host without
// their token Secret (a kubelet does not start a pod before its Secret
// volumes exist), and the Secrets follow once the apiserver is ready: the
// gate queues every pod again when it opens.

// Token work that no pod waits for (the Secrets of the pods that went to
// the host while the gate was shut, and renewals) has its own queue and
// workers: under load the apiserver is ready only seconds after the first
// pods, and queuing all of them again in the syncer's queue held every new
// pod behind as many TokenRequests and Secret writes (seconds of queue wait
// in the sync benchmark's tail). A pod that is not on the host yet still
// gets its Secret first, in its own sync (keepToken).

// tokenWorkers run the token queue.
const tokenWorkers = 2

// watchTokensReady opens the token gate once the virtual apiserver answers
// /readyz with every check, and queues the pods' tokens.
func (s *Syncer) watchTokensReady(ctx context.Context) {
	s.tokensReady = make(chan struct{})
	go func() {
		if err := kube.WaitReady(ctx, s.virtual, 20*time.Millisecond); err != nil {
			return
		}
		close(s.tokensReady)
		pods, err := s.virtualPods.List(labels.Everything())
		if err != nil {
			return
		}
		for _, pod := range pods {
			if needsToken(pod) {
				s.queueToken(pod.Namespace+"/"+pod.Name, 0)
			}
		}
	}()
}

// queueToken queues a pod's token (key "namespace/name") after delay, in
// the token queue.
func (s *Syncer) queueToken(key string, delay time.Duration) {
	if s.tokenQueue == nil { // no token workers: the pod's own sync does it
		s.queue.AddAfter(queueKey(kindPod, key), delay)
		return
	}
	s.tokenQueue.AddAfter(key, delay)
}

// runTokenQueue works the token queue until it shuts down.
func (s *Syncer) runTokenQueue(ctx context.Context) {
	for {
		key, quit := s.tokenQueue.Get()
		if quit {
			return
		}
		if err := s.syncTokenOf(ctx, key); err != nil {
			s.log.Warn("Token sync failed, retrying", "pod", key, "error", err)
			s.tokenQueue.AddRateLimited(key)
		} else {
			s.tokenQueue.Forget(key)
		}
		s.tokenQueue.Done(key)
	}
}

// syncTokenOf keeps the token Secret of a live virtual pod fresh. A Secret
// left behind by a pod deleted meanwhile goes with the pod's own sync (its
// event queues the pod).
func (s *Syncer) syncTokenOf(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	vpod, ok, err := found(s.virtualPods.Pods(ns).Get(name))
	if err != nil || !ok || vpod.DeletionTimestamp != nil || vpod.Status.Phase == corev1.PodSucceeded || vpod.Status.Phase == corev1.PodFailed {
		return err
	}
	return s.keepToken(ctx, vpod, key)
}

// tokensAllowed reports whether the token gate is open (always, without one).
func (s *Syncer) tokensAllowed() bool {
	if s.tokensReady == nil {
		return true
	}
	select {
	case <-s.tokensReady:
		return true
	default:
		return false
	}
}

// tokenSecretName is the host name of a pod's token Secret. The "/" is in no
// virtual object's name: the name is hashed, and no copy of a tenant's own
// Secret can ever have it.
func (s *Syncer) tokenSecretName(ns, pod string) string {
	return s.hostObjectName(ns, pod+"/token")
}

// needsToken reports whether a virtual pod mounts its service account token.
func needsToken(pod *corev1.Pod) bool {
	for i := range pod.Spec.Volumes {
		if isAPIAccessVolume(&pod.Spec.Volumes[i]) {
			return true
		}
	}
	return false
}

// ownsToken reports whether a host Secret is this syncer's token Secret of
// the pod ns/name.
func (s *Syncer) ownsToken(h *corev1.Secret, ns, name string) bool {
	return s.ownsObject(h, ns, name) && h.Annotations[names.AnnotationVirtualKind] == kindToken
}

// tokenFresh reports whether the cache shows a pod's token Secret as this
// pod's and not yet due for renewal.
func (s *Syncer) tokenFresh(vpod *corev1.Pod) bool {
	h, have, err := found(s.hostSecrets.Get(s.tokenSecretName(vpod.Namespace, vpod.Name)))
	if err != nil || !have || !s.ownsToken(h, vpod.Namespace, vpod.Name) || h.Annotations[names.AnnotationVirtualUID] != string(vpod.UID) {
		return false
	}
	refresh, err := time.Parse(time.RFC3339, h.Annotations[annotationTokenRefresh])
	if err != nil || !time.Now().Before(refresh) {
		return false
	}
	s.recent.forget(recentToken + h.Name) // the informer shows it now
	return true
}

// tokenWrittenRecently reports whether this syncer wrote a pod's token
// Secret a moment ago, fresh, and its informer does not show it yet.
func (s *Syncer) tokenWrittenRecently(vpod *corev1.Pod) bool {
	c, ok := s.recent.get(recentToken+s.tokenSecretName(vpod.Namespace, vpod.Name), vpod.UID)
	return ok && time.Now().Before(c.refresh)
}

// syncToken makes sure the token Secret of a virtual pod exists, belongs
// to this pod (UID) and is fresh. It returns how long until it must be
// renewed.
func (s *Syncer) syncToken(ctx context.Context, vpod *corev1.Pod) (time.Duration, error) {
	ns, name := vpod.Namespace, vpod.Name
	hname := s.tokenSecretName(ns, name)
	h, have, err := found(s.hostSecrets.Get(hname))
	if err != nil {
		return 0, err
	}
	if have && !s.ownsToken(h, ns, name) {
		return 0, s.refuseForeign(ctx, objectRef(vpod, "Pod"), "secret", hname)
	}
	now := time.Now()
	if have && h.Annotations[names.AnnotationVirtualUID] == string(vpod.UID) {
		if refresh, err := time.Parse(time.RFC3339, h.Annotations[annotationTokenRefresh]); err == nil && now.Before(refresh) {
			s.recent.forget(recentToken + hname)
			return refresh.Sub(now), nil
		}
	}
	if c, ok := s.recent.get(recentToken+hname, vpod.UID); ok && now.Before(c.refresh) {
		return c.refresh.Sub(now), nil // written a moment ago, not in the informer yet
	}
	ca, err := s.rootCA(ctx, ns)
	if err != nil {
		return 0, fmt.Errorf("the CA for the token of pod %s/%s: %w", ns, name, err)
	}
	sa := vpod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := s.virtual.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: ptrTo(int64(tokenLifetime.Seconds())),
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: name, UID: vpod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return 0, fmt.Errorf("request a token of service account %s/%s for pod %s: %w", ns, sa, name, err)
	}
	issued := now
	lifetime := tr.Status.ExpirationTimestamp.Sub(issued)
	if lifetime <= 0 {
		lifetime = tokenLifetime
	}
	refresh := issued.Add(lifetime * 4 / 5)
	want := &corev1.Secret{
		ObjectMeta: s.hostMeta(ns, name, kindToken, vpod.UID, hname),
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			corev1.ServiceAccountTokenKey:     []byte(tr.Status.Token),
			corev1.ServiceAccountRootCAKey:    ca,
			corev1.ServiceAccountNamespaceKey: []byte(ns),
		},
	}
	want.Annotations[annotationTokenRefresh] = refresh.UTC().Format(time.RFC3339)
	secrets := s.host.CoreV1().Secrets(s.hostNamespace)
	if have {
		want.ResourceVersion = h.ResourceVersion
		_, err = secrets.Update(ctx, want, metav1.UpdateOptions{})
	} else {
		_, err = secrets.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Not in our informer yet: the next sync sees it.
			return 0, fmt.Errorf("token secret %s exists but is not in the cache yet", hname)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("store the token of pod %s/%s in host secret %s: %w", ns, name, hname, err)
	}
	s.recent.add(recentToken+hname, vpod.UID, refresh)
	s.log.Debug("Service account token stored on the host", "pod", ns+"/"+name, "secret", hname, "refresh", refresh.UTC())
	return refresh.Sub(now), nil
}

// rootCA is the virtual cluster's CA, as its root-ca-cert-publisher
// publishes it in kube-root-ca.crt of every namespace (the controller
// manager's --root-ca-file is the bundle's CA). The syncer reads it from
// the bundle when it has one: in a new namespace the ConfigMap comes a
// moment after the first pods, which would wait for it with back-off.
func (s *Syncer) rootCA(ctx context.Context, ns string) ([]byte, error) {
	if len(s.caPEM) > 0 {
		return s.caPEM, nil
	}
	var cm *corev1.ConfigMap
	var ok bool
	var err error
	if s.virtualConfigMaps != nil {
		cm, ok, err = found(s.virtualConfigMaps.ConfigMaps(ns).Get(rootCAConfigMap))
	} else { // configmaps are not synced: no informer
		cm, ok, err = found(s.virtual.CoreV1().ConfigMaps(ns).Get(ctx, rootCAConfigMap, metav1.GetOptions{}))
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no %s in virtual namespace %s yet", rootCAConfigMap, ns)
	}
	return []byte(cm.Data[corev1.ServiceAccountRootCAKey]), nil
}

// deleteToken deletes a pod's token Secret, if there is one of ours.
func (s *Syncer) deleteToken(ctx context.Context, ns, name string) error {
	hname := s.tokenSecretName(ns, name)
	s.recent.forget(recentToken + hname)
	h, have, err := found(s.hostSecrets.Get(hname))
	if err != nil || !have || !s.ownsToken(h, ns, name) {
		return err
	}
	err = s.host.CoreV1().Secrets(s.hostNamespace).Delete(ctx, hname, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &h.UID}})
	return ignoreGone(err, "delete token secret "+hname)
}
