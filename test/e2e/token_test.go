package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerTokenForVirtualAPIServer: a virtual pod that mounts its
// service account's token runs on the host with a token of the VIRTUAL
// apiserver (its CA and namespace too) at the same path, and with
// KUBERNETES_SERVICE_HOST/PORT naming the virtual apiserver. The token
// works as a bearer token there and not on the host; it is renewed when due
// and put back when deleted, and goes with the pod.
func TestSyncerTokenForVirtualAPIServer(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "tokens", lifecycle.CreateOptions{})
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "caller"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "caller:1"}}},
	}
	// The service account controller makes "default" soon after start.
	testenv.Eventually(t, time.Minute, "the pod to be created", func() (bool, error) {
		_, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		return err == nil, err
	})
	const saPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	var hostPod *corev1.Pod
	var volume *corev1.Volume
	testenv.Eventually(t, time.Minute, "the host pod", func() (bool, error) {
		p, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, "caller-x-default-x-tokens", metav1.GetOptions{})
		hostPod = p
		return err == nil, err
	})
	for i, v := range hostPod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			volume = &hostPod.Spec.Volumes[i]
		}
	}
	if volume == nil || volume.Secret == nil {
		t.Fatalf("host pod has no kube-api-access volume from a secret: %+v", hostPod.Spec.Volumes)
	}
	mounted := false
	for _, m := range hostPod.Spec.Containers[0].VolumeMounts {
		mounted = mounted || m.Name == volume.Name && m.MountPath == saPath
	}
	if !mounted {
		t.Fatalf("the token volume is not mounted at %s: %+v", saPath, hostPod.Spec.Containers[0].VolumeMounts)
	}
	if hostPod.Spec.AutomountServiceAccountToken == nil || *hostPod.Spec.AutomountServiceAccountToken {
		t.Fatal("the host's own token must not be mounted")
	}

	// KUBERNETES_SERVICE_HOST/PORT: the virtual apiserver as host pods reach it.
	server, err := url.Parse(restConfig(t, vc.Kubeconfig).Host)
	if err != nil {
		t.Fatal(err)
	}
	envs := map[string]string{}
	for _, e := range hostPod.Spec.Containers[0].Env {
		envs[e.Name] = e.Value
	}
	if envs["KUBERNETES_SERVICE_HOST"] != server.Hostname() || envs["KUBERNETES_SERVICE_PORT"] != server.Port() {
		t.Fatalf("KUBERNETES_SERVICE_HOST/PORT = %s:%s, want the virtual apiserver %s", envs["KUBERNETES_SERVICE_HOST"], envs["KUBERNETES_SERVICE_PORT"], server.Host)
	}

	// Right after a cluster starts, the pod may reach the host before its
	// token Secret (which waits for the virtual apiserver's default roles).
	secretName := volume.Secret.SecretName
	var secret *corev1.Secret
	testenv.Eventually(t, time.Minute, "the token secret", func() (bool, error) {
		s, err := env.Client.CoreV1().Secrets(vc.HostNamespace).Get(ctx, secretName, metav1.GetOptions{})
		secret = s
		return err == nil, err
	})
	if string(secret.Data["namespace"]) != "default" || len(secret.Data["ca.crt"]) == 0 || secret.Labels["nest.dev/managed-by"] != "nest" {
		t.Fatalf("token secret: namespace %q, %d bytes of CA, labels %v", secret.Data["namespace"], len(secret.Data["ca.crt"]), secret.Labels)
	}
	token := string(secret.Data["token"])
	checkToken(t, vc.Kubeconfig, env.Client, client, secret)

	t.Run("renewed when due", func(t *testing.T) {
		patch := `{"metadata":{"annotations":{"nest.dev/token-refresh":"2000-01-01T00:00:00Z"}}}`
		if _, err := env.Client.CoreV1().Secrets(vc.HostNamespace).Patch(ctx, secretName, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "a new token", func() (bool, error) {
			s, err := env.Client.CoreV1().Secrets(vc.HostNamespace).Get(ctx, secretName, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			refresh, _ := time.Parse(time.RFC3339, s.Annotations["nest.dev/token-refresh"])
			secret = s
			return string(s.Data["token"]) != token && refresh.After(time.Now().Add(30*time.Minute)), fmt.Errorf("refresh at %s", refresh)
		})
		checkToken(t, vc.Kubeconfig, env.Client, client, secret)
	})
	t.Run("put back when deleted on the host", func(t *testing.T) {
		if err := env.Client.CoreV1().Secrets(vc.HostNamespace).Delete(ctx, secretName, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "the token secret back", func() (bool, error) {
			s, err := env.Client.CoreV1().Secrets(vc.HostNamespace).Get(ctx, secretName, metav1.GetOptions{})
			return err == nil && s.UID != secret.UID, err
		})
	})
	t.Run("deleted with the pod", func(t *testing.T) {
		if err := client.CoreV1().Pods("default").Delete(ctx, "caller", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "the token secret gone", func() (bool, error) {
			_, err := env.Client.CoreV1().Secrets(vc.HostNamespace).Get(ctx, secretName, metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	})
}

// checkToken: the secret's token, with its CA, is a bearer token of the
// virtual apiserver for the pod's service account, and means nothing to
// the host.
func checkToken(t *testing.T, kubeconfig string, host, virtual kubernetes.Interface, secret *corev1.Secret) {
	t.Helper()
	ctx := context.Background()
	cfg := &rest.Config{
		Host:            restConfig(t, kubeconfig).Host,
		BearerToken:     string(secret.Data["token"]),
		TLSClientConfig: rest.TLSClientConfig{CAData: secret.Data["ca.crt"]},
	}
	asPod, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asPod.Discovery().ServerVersion(); err != nil {
		t.Fatalf("the token (with the secret's CA) on the virtual apiserver: %v", err)
	}
	if _, err := asPod.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "system:serviceaccount:default:default") {
		t.Fatalf("listing pods as the token: %v, want forbidden for system:serviceaccount:default:default", err)
	}
	if err := tokenValid(ctx, virtual, string(secret.Data["token"])); err != nil {
		t.Fatalf("virtual TokenReview: %v", err)
	}
	if err := tokenValid(ctx, host, string(secret.Data["token"])); err == nil {
		t.Fatal("the host apiserver accepts the virtual token")
	}
}

func restConfig(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	cfg, err := kube.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
