package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/syncer"
)

// TestTenantAttacks: a tenant with cluster-admin in its virtual cluster
// tries to get out of it. Every attack must fail.
func TestTenantAttacks(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	victimVC, victim := env.VirtualCluster(t, "victim", lifecycle.CreateOptions{})
	vc, tenant := env.VirtualCluster(t, "attacker", lifecycle.CreateOptions{})

	t.Run("pods breaking the isolation policy never reach the host", func(t *testing.T) {
		container := func(sc *corev1.SecurityContext) corev1.PodSpec {
			return corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", SecurityContext: sc}}}
		}
		attacks := map[string]corev1.PodSpec{
			"privileged": container(&corev1.SecurityContext{Privileged: ptr.To(true)}),
			"host-path": {
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
				Volumes:    []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
			},
			"host-network": {HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			"host-pid":     {HostPID: true, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			"sys-admin":    container(&corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}),
			"host-port":    {Containers: []corev1.Container{{Name: "c", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 22, HostPort: 22}}}}},
			"privileged-init": {
				InitContainers: []corev1.Container{{Name: "init", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}},
				Containers:     []corev1.Container{{Name: "c", Image: "busybox"}},
			},
		}
		for name, spec := range attacks {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
			if _, err := tenant.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
		}
		for name := range attacks {
			testenv.Eventually(t, time.Minute, "an IsolationPolicy warning on pod "+name, func() (bool, error) {
				evs, err := tenant.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=IsolationPolicy,involvedObject.name=" + name})
				return err == nil && len(evs.Items) > 0, err
			})
		}
		for name := range attacks {
			_, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, names.HostName(vc.Name, "default", name), metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("pod %s reached the host (get: %v)", name, err)
			}
		}
	})

	t.Run("the tenant's credentials mean nothing to the host apiserver", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", vc.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		hostCfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		// The tenant's client certificate, presented to the host; skip the
		// server check so that the host's authentication is what is tested.
		cfg.Host = hostCfg.Host
		cfg.CAData, cfg.CAFile, cfg.Insecure = nil, "", true
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			t.Fatalf("listing host pods with the tenant's certificate: %v, want Unauthorized", err)
		}
	})

	t.Run("another virtual cluster's secret stays out of reach", func(t *testing.T) {
		const password = "victim-password"
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": password}}
		if _, err := victim.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := victim.CoreV1().Pods("default").Create(ctx, podUsingSecret("app", "db"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		victimHostSecret := names.HostNameWithLimit(253, victimVC.Name, "default", "db")
		testenv.Eventually(t, time.Minute, "the victim's secret on the host", func() (bool, error) {
			_, err := env.Client.CoreV1().Secrets(victimVC.HostNamespace).Get(ctx, victimHostSecret, metav1.GetOptions{})
			return err == nil, err
		})
		// The attacker names the victim's host secret, and makes a virtual
		// secret of that name too.
		decoy := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: victimHostSecret}, StringData: map[string]string{"password": "decoy"}}
		if _, err := tenant.CoreV1().Secrets("default").Create(ctx, decoy, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := tenant.CoreV1().Pods("default").Create(ctx, podUsingSecret("thief", victimHostSecret), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var thief *corev1.Pod
		testenv.Eventually(t, time.Minute, "the thief's pod on the host", func() (bool, error) {
			var err error
			thief, err = env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, names.HostName(vc.Name, "default", "thief"), metav1.GetOptions{})
			return err == nil, err
		})
		if got := thief.Spec.Volumes[0].Secret.SecretName; got == victimHostSecret {
			t.Fatalf("the thief's host pod mounts the victim's host secret %s", got)
		}
		secrets, err := env.Client.CoreV1().Secrets(vc.HostNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets.Items {
			if string(s.Data["password"]) == password {
				t.Fatalf("the victim's password is in the attacker's host namespace, in secret %s", s.Name)
			}
		}
		got, err := env.Client.CoreV1().Secrets(victimVC.HostNamespace).Get(ctx, victimHostSecret, metav1.GetOptions{})
		if err != nil || string(got.Data["password"]) != password {
			t.Fatalf("the victim's host secret was changed or removed: %v", err)
		}
	})

	t.Run("forged ownership labels and service accounts are ignored", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "forger", Labels: map[string]string{
				names.LabelVirtualCluster: victimVC.Name, names.LabelVirtualNamespace: "kube-system", "app": "forger",
			}},
			Spec: corev1.PodSpec{
				ServiceAccountName:           "default",
				AutomountServiceAccountToken: ptr.To(true),
				Containers:                   []corev1.Container{{Name: "c", Image: "busybox"}},
				Volumes: []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "https://kubernetes.default.svc", Path: "token"}}},
				}}}},
			},
		}
		if _, err := tenant.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var host *corev1.Pod
		testenv.Eventually(t, time.Minute, "the forger's pod on the host", func() (bool, error) {
			var err error
			host, err = env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, names.HostName(vc.Name, "default", "forger"), metav1.GetOptions{})
			return err == nil, err
		})
		if host.Labels[names.LabelVirtualCluster] != vc.Name || host.Labels[names.LabelVirtualNamespace] != "default" || host.Labels["app"] != "forger" {
			t.Errorf("host pod labels %v: want the attacker's own ownership labels and app=forger", host.Labels)
		}
		if host.Spec.ServiceAccountName != syncer.WorkloadServiceAccount || host.Spec.AutomountServiceAccountToken == nil || *host.Spec.AutomountServiceAccountToken {
			t.Errorf("host pod runs as %q with automount %v, want %s without a token", host.Spec.ServiceAccountName, host.Spec.AutomountServiceAccountToken, syncer.WorkloadServiceAccount)
		}
		for _, v := range host.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil {
					t.Errorf("host pod volume %s projects a host service-account token", v.Name)
				}
			}
		}
		// And the host account its pods run as may do nothing.
		for _, resource := range []string{"pods", "secrets", "configmaps"} {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               fmt.Sprintf("system:serviceaccount:%s:%s", vc.HostNamespace, syncer.WorkloadServiceAccount),
				Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + vc.HostNamespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: vc.HostNamespace, Verb: "list", Resource: resource},
			}}
			got, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Allowed {
				t.Errorf("%s may list %s in its host namespace", syncer.WorkloadServiceAccount, resource)
			}
		}
	})
}

// podUsingSecret is a pod mounting one secret.
func podUsingSecret(name, secret string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "s", MountPath: "/s"}}}},
			Volumes:    []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}},
		},
	}
}
