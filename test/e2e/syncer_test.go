package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerRunsDeployment: a Deployment in a virtual cluster runs on the
// host, as exactly its own translated pods, and leaves nothing when deleted.
func TestSyncerRunsDeployment(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "workloads", lifecycle.CreateOptions{})
	ctx := context.Background()
	hostPods := func() ([]corev1.Pod, error) {
		l, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: "nest.dev/virtual-cluster=workloads"})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", 20), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "20/20 replicas available in the virtual cluster", func() (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.AvailableReplicas == 20, fmt.Errorf("%d available", d.Status.AvailableReplicas)
	})
	pods, err := hostPods()
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 20 {
		t.Fatalf("host namespace holds %d pods, want exactly 20", len(pods))
	}
	vpods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range vpods.Items {
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			t.Errorf("virtual pod %s: node %q phase %s IP %q, want bound, Running, with the host pod's IP", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP)
		}
	}

	if err := client.AppsV1().Deployments("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "no pods left on either side", func() (bool, error) {
		pods, err := hostPods()
		if err != nil {
			return false, err
		}
		vpods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		return len(pods) == 0 && len(vpods.Items) == 0, fmt.Errorf("%d host, %d virtual pods", len(pods), len(vpods.Items))
	})
}

// TestSyncerLeavesForeignHostPodsAlone: a host pod that Nest did not make is
// never changed or deleted, even when a virtual pod's translated name
// collides with it; the virtual pod gets a warning instead.
func TestSyncerLeavesForeignHostPodsAlone(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "squatted", lifecycle.CreateOptions{})
	ctx := context.Background()
	foreign := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app-x-default-x-squatted", Labels: map[string]string{"owner": "someone-else"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "theirs", Image: "theirs:1"}}},
	}
	var created *corev1.Pod
	// The host makes the namespace's default service account a moment
	// after the namespace.
	testenv.Eventually(t, time.Minute, "the foreign pod to be created on the host", func() (bool, error) {
		var err error
		created, err = env.Client.CoreV1().Pods(vc.HostNamespace).Create(ctx, foreign, metav1.CreateOptions{})
		return err == nil, err
	})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "mine", Image: "mine:1"}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "a HostNameTaken warning on the virtual pod", func() (bool, error) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=HostNameTaken,involvedObject.name=app"})
		return err == nil && len(evs.Items) > 0, err
	})
	got, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, foreign.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the foreign host pod is gone: %v", err)
	}
	if got.UID != created.UID || got.Spec.Containers[0].Image != "theirs:1" || got.Labels["owner"] != "someone-else" {
		t.Fatalf("the foreign host pod was changed: %+v", got.ObjectMeta)
	}
}

// TestSyncerCopiesWhatPodsUse: configmaps and secrets reach the host only
// while a pod uses them, and follow their virtual originals.
func TestSyncerCopiesWhatPodsUse(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "configs", lifecycle.CreateOptions{})
	ctx := context.Background()
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "v1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"creds", "unused"} {
		if _, err := client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"pw": name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "user"},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}},
			Containers: []corev1.Container{{
				Name: "app", Image: "app:1",
				Env:          []corev1.EnvVar{{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "pw"}}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}},
			}},
		},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostCM := func() (*corev1.ConfigMap, error) {
		return env.Client.CoreV1().ConfigMaps(vc.HostNamespace).Get(ctx, "settings-x-default-x-configs", metav1.GetOptions{})
	}
	testenv.Eventually(t, time.Minute, "the configmap and secret on the host, and the pod Running", func() (bool, error) {
		if _, err := hostCM(); err != nil {
			return false, err
		}
		if _, err := env.Client.CoreV1().Secrets(vc.HostNamespace).Get(ctx, "creds-x-default-x-configs", metav1.GetOptions{}); err != nil {
			return false, err
		}
		p, err := client.CoreV1().Pods("default").Get(ctx, "user", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	if _, err := env.Client.CoreV1().Secrets(vc.HostNamespace).Get(ctx, "unused-x-default-x-configs", metav1.GetOptions{}); err == nil {
		t.Fatal("a secret no pod uses was copied to the host")
	}

	cm, err := client.CoreV1().ConfigMaps("default").Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["mode"] = "v2"
	if _, err := client.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the host copy to follow the update", func() (bool, error) {
		h, err := hostCM()
		return err == nil && h.Data["mode"] == "v2", err
	})

	if err := client.CoreV1().Pods("default").Delete(ctx, "user", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the copies to leave the host with the last pod using them", func() (bool, error) {
		_, cmErr := hostCM()
		_, sErr := env.Client.CoreV1().Secrets(vc.HostNamespace).Get(ctx, "creds-x-default-x-configs", metav1.GetOptions{})
		return apierrors.IsNotFound(cmErr) && apierrors.IsNotFound(sErr), fmt.Errorf("configmap: %v, secret: %v", cmErr, sErr)
	})
}

// TestSyncerServesLogs: `kubectl logs` on a virtual pod reaches its host
// copy, through the virtual node's kubelet endpoint that the syncer serves.
// The local host's kubelets are KWOK's, which keep no logs: its answer names
// the host pod and container the request reached, which is what is checked.
func TestSyncerServesLogs(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "logs", lifecycle.CreateOptions{})
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "talker"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "talker:1"}, {Name: "sidecar", Image: "sidecar:1"}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the pod Running", func() (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "talker", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	want := fmt.Sprintf("no logs found for container %q in pod %q", "sidecar", vc.HostNamespace+"/talker-x-default-x-logs")
	testenv.Eventually(t, time.Minute, "the log request to reach the host pod's sidecar container", func() (bool, error) {
		// Stream, as kubectl does: the error carries the kubelet's answer.
		stream, err := client.CoreV1().Pods("default").GetLogs("talker", &corev1.PodLogOptions{Container: "sidecar", TailLines: ptr.To[int64](10)}).Stream(ctx)
		if err == nil {
			stream.Close()
			return false, errors.New("no error: KWOK keeps no logs, it should have said so")
		}
		return strings.Contains(err.Error(), want), err
	})
}
