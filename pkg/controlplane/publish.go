package controlplane

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/kubeconfig"
)

// KubeconfigSecretKey is the key of the published kubeconfig in its Secret.
const KubeconfigSecretKey = "config"

// HasHost reports whether the control plane was given a host.
func (e HookEnv) HasHost() bool {
	return (e.HostConfig != "" || e.HostInCluster) && e.HostNamespace != ""
}

// HostClient returns a client of the host with the control plane's host
// credentials: the pod's service account, or the host kubeconfig.
func (e HookEnv) HostClient() (kubernetes.Interface, error) {
	cfg, err := e.HostRESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// HostRESTConfig is the REST config behind HostClient.
func (e HookEnv) HostRESTConfig() (*rest.Config, error) {
	if e.HostInCluster {
		return kube.InClusterConfig()
	}
	return kube.RESTConfig(e.HostConfig, "")
}

// AdminKubeconfig returns a self-contained admin kubeconfig of the virtual
// cluster (certificates embedded) that reaches it at server.
func AdminKubeconfig(name, server string, env HookEnv) ([]byte, error) {
	read := func(path string) []byte {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		return data
	}
	ca, cert, key := read(env.PKI.CACert()), read(env.PKI.AdminCert()), read(env.PKI.AdminKey())
	if ca == nil || cert == nil || key == nil {
		return nil, fmt.Errorf("admin kubeconfig: certificates missing in %s", env.PKI.Dir)
	}
	cfg := kubeconfig.Build(kubeconfig.Params{ContextName: name, Server: server, CAData: ca, ClientCertData: cert, ClientKeyData: key})
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig: %w", err)
	}
	return data, nil
}

// PublishKubeconfig is a hook that writes the virtual cluster's admin
// kubeconfig, reaching it at server, into the Secret name of the host
// namespace (key KubeconfigSecretKey), so that whoever may read secrets
// there (the host namespace's owners) can connect: the chart sets it. It
// retries until the host takes it, then keeps it while the control plane runs.
// adminURL, if set, is published next to it (key AdminURLSecretKey): where
// the same admin credentials reach the admin endpoint (admin.go).
func PublishKubeconfig(name, server, adminURL string) Hook {
	return func(ctx context.Context, env HookEnv) error {
		if !env.HasHost() {
			env.Logger.Warn("No host given: the kubeconfig is not published", "secret", name)
			return nil
		}
		host, err := env.HostClient()
		if err != nil {
			return fmt.Errorf("publish kubeconfig: host client: %w", err)
		}
		for {
			var rotated <-chan struct{}
			if env.CertsRotated != nil {
				rotated = env.CertsRotated()
			}
			if err := publishOnce(ctx, host, name, server, adminURL, env); err != nil {
				return err
			}
			// Publish again with the renewed admin certificate.
			select {
			case <-ctx.Done():
				return nil
			case <-rotated:
			}
		}
	}
}

// publishOnce writes the current admin kubeconfig into the Secret,
// retrying until the host takes it or ctx ends.
func publishOnce(ctx context.Context, host kubernetes.Interface, name, server, adminURL string, env HookEnv) error {
	data, err := AdminKubeconfig(env.Name, server, env)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: env.HostNamespace,
			Labels: map[string]string{"nest.dev/kubeconfig-of": env.Name}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{KubeconfigSecretKey: data},
	}
	if adminURL != "" {
		secret.Data[AdminURLSecretKey] = []byte(adminURL)
	}
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 10*time.Second) {
		err := putSecret(ctx, host, secret)
		if err == nil {
			env.Logger.Info("Kubeconfig is published", "secret", env.HostNamespace+"/"+name, "server", server)
			return nil
		}
		env.Logger.Warn("Publishing the kubeconfig failed, retrying", "secret", name, "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// putSecret creates secret or replaces its data.
func putSecret(ctx context.Context, host kubernetes.Interface, secret *corev1.Secret) error {
	_, err := host.CoreV1().Secrets(secret.Namespace).Create(ctx, secret, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing, err := host.CoreV1().Secrets(secret.Namespace).Get(ctx, secret.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	existing.Data, existing.Labels = secret.Data, secret.Labels
	_, err = host.CoreV1().Secrets(secret.Namespace).Update(ctx, existing, metav1.UpdateOptions{})
	return err
}
