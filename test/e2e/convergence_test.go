package e2e

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
)

// TestSyncerConvergesAfterKills: while 1,000 objects (pods, the configmaps
// they use, services) are created and some deleted again, the control
// plane (apiserver, datastore and syncer in one process) is killed with
// SIGKILL at random points and restarted. Afterwards host and virtual
// cluster must agree exactly: 0 lost, 0 duplicated, 0 orphaned objects.
func TestSyncerConvergesAfterKills(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, _ := env.VirtualCluster(t, "chaos", lifecycle.CreateOptions{})
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("random seed %d", seed)

	const configMaps, pods, services = 20, 490, 490
	var (
		mu       sync.Mutex
		client   kubernetes.Interface
		pid      = vc.PID
		creating = true
	)
	connect := func() kubernetes.Interface {
		mu.Lock()
		defer mu.Unlock()
		return client
	}
	if client, err = kube.Clientset(vc.Kubeconfig); err != nil {
		t.Fatal(err)
	}

	// The killer: SIGKILL at random moments while objects are being made,
	// each followed by a restart, as `nest resume` does.
	kills := 0
	killerDone := make(chan error, 1)
	go func() {
		for {
			time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
			mu.Lock()
			if !creating {
				mu.Unlock()
				killerDone <- nil
				return
			}
			victim := pid
			mu.Unlock()
			if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
				killerDone <- fmt.Errorf("kill control plane %d: %w", victim, err)
				return
			}
			kills++
			var restarted *lifecycle.Cluster
			for {
				var startErr error
				if restarted, startErr = p.Start(ctx, vc.Name, time.Minute); startErr == nil && restarted.State == lifecycle.StateRunning {
					break
				}
				time.Sleep(200 * time.Millisecond) // the old process may still hold its lock
			}
			c, err := kube.Clientset(restarted.Kubeconfig)
			if err != nil {
				killerDone <- err
				return
			}
			mu.Lock()
			client, pid = c, restarted.PID
			mu.Unlock()
		}
	}()

	// retry runs one call until it succeeds or says what the caller
	// wanted anyway (a create that already happened, a delete of a gone
	// object): any other error is the killed control plane.
	retry := func(what string, call func(kubernetes.Interface) error, done func(error) bool) {
		deadline := time.Now().Add(3 * time.Minute)
		for {
			err := call(connect())
			if err == nil || done(err) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: still failing after 3 minutes: %v", what, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	create := func(what string, call func(kubernetes.Interface) error) {
		retry("create "+what, call, apierrors.IsAlreadyExists)
	}
	remove := func(what string, call func(kubernetes.Interface) error) {
		retry("delete "+what, call, apierrors.IsNotFound)
	}

	for i := range configMaps {
		name := fmt.Sprintf("cm-%02d", i)
		create(name, func(c kubernetes.Interface) error {
			_, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"i": name}}, metav1.CreateOptions{})
			return err
		})
	}
	wantPods, wantServices := map[string]bool{}, map[string]bool{}
	for i := range max(pods, services) {
		podName, svcName := fmt.Sprintf("pod-%03d", i), fmt.Sprintf("svc-%03d", i)
		if i < pods {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: podName, Labels: map[string]string{"app": svcName}},
				Spec: corev1.PodSpec{
					Volumes:    []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: fmt.Sprintf("cm-%02d", i%configMaps)}}}}},
					Containers: []corev1.Container{{Name: "app", Image: "app:1", VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}}}},
				},
			}
			create(podName, func(c kubernetes.Interface) error {
				_, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
				return err
			})
			wantPods[podName] = true
		}
		if i < services {
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: svcName},
				Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": svcName}, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}},
			}
			create(svcName, func(c kubernetes.Interface) error {
				_, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
				return err
			})
			wantServices[svcName] = true
		}
		// Every fifth object goes again a little later.
		if j := i - 10; j >= 0 && j%5 == 0 {
			oldPod, oldSvc := fmt.Sprintf("pod-%03d", j), fmt.Sprintf("svc-%03d", j)
			remove(oldPod, func(c kubernetes.Interface) error {
				return c.CoreV1().Pods("default").Delete(ctx, oldPod, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			})
			remove(oldSvc, func(c kubernetes.Interface) error {
				return c.CoreV1().Services("default").Delete(ctx, oldSvc, metav1.DeleteOptions{})
			})
			delete(wantPods, oldPod)
			delete(wantServices, oldSvc)
		}
	}
	mu.Lock()
	creating = false
	mu.Unlock()
	if err := <-killerDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane killed %d times while %d objects were made; %d pods and %d services remain", kills, configMaps+pods+services, len(wantPods), len(wantServices))
	if kills == 0 {
		t.Fatal("the control plane was never killed: the test proved nothing")
	}

	c := connect()
	host := env.Client
	testenv.Eventually(t, 5*time.Minute, "host and virtual cluster to agree exactly", func() (bool, error) {
		vpods, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		hpods, err := host.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: names.LabelVirtualCluster + "=chaos"})
		if err != nil {
			return false, err
		}
		if err := sameSet("virtual pods vs created", podNames(vpods.Items), wantPods); err != nil {
			return false, err
		}
		if err := sameOrigins("host pods", objectMetas(hpods.Items), wantPods); err != nil {
			return false, err
		}
		vsvcs, err := c.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		hsvcs, err := host.CoreV1().Services(vc.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: names.LabelVirtualCluster + "=chaos"})
		if err != nil {
			return false, err
		}
		virtualIPs := map[string]string{}
		for _, s := range vsvcs.Items {
			if s.Name != "kubernetes" {
				virtualIPs[s.Name] = s.Spec.ClusterIP
			}
		}
		if err := sameSet("virtual services vs created", slices.Collect(maps.Keys(virtualIPs)), wantServices); err != nil {
			return false, err
		}
		if err := sameOrigins("host services", objectMetas(hsvcs.Items), wantServices); err != nil {
			return false, err
		}
		for _, h := range hsvcs.Items {
			if name := h.Annotations[names.AnnotationVirtualName]; virtualIPs[name] != h.Spec.ClusterIP {
				return false, fmt.Errorf("service %s: virtual cluster IP %s, host %s", name, virtualIPs[name], h.Spec.ClusterIP)
			}
		}
		hcms, err := host.CoreV1().ConfigMaps(vc.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: names.LabelVirtualCluster + "=chaos"})
		if err != nil {
			return false, err
		}
		wantCMs := map[string]bool{}
		for name := range wantPods {
			var i int
			_, _ = fmt.Sscanf(name, "pod-%d", &i)
			wantCMs[fmt.Sprintf("cm-%02d", i%configMaps)] = true
		}
		if err := sameOrigins("host configmaps", objectMetas(hcms.Items), wantCMs); err != nil {
			return false, err
		}
		return true, nil
	})
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func objectMetas[T any, PT interface {
	*T
	metav1.Object
}](items []T) []metav1.Object {
	out := make([]metav1.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

// sameSet compares names with the wanted set, naming what is lost and
// what is extra.
func sameSet(what string, got []string, want map[string]bool) error {
	seen := map[string]int{}
	for _, n := range got {
		seen[n]++
	}
	var lost, extra, dup []string
	for n := range want {
		if seen[n] == 0 {
			lost = append(lost, n)
		}
	}
	for n, count := range seen {
		if !want[n] {
			extra = append(extra, n)
		}
		if count > 1 {
			dup = append(dup, n)
		}
	}
	if len(lost)+len(extra)+len(dup) > 0 {
		slices.Sort(lost)
		slices.Sort(extra)
		return fmt.Errorf("%s: %d lost %v, %d orphaned %v, %d duplicated %v", what, len(lost), head(lost), len(extra), head(extra), len(dup), head(dup))
	}
	return nil
}

// sameOrigins compares the virtual origins of host objects with the wanted
// set: every host copy must be named by the translator after its origin.
func sameOrigins(what string, hostObjects []metav1.Object, want map[string]bool) error {
	var origins []string
	for _, o := range hostObjects {
		name := o.GetAnnotations()[names.AnnotationVirtualName]
		label, subdomain := names.HostName("chaos", "default", name), names.HostNameWithLimit(names.SubdomainMaxLength, "chaos", "default", name)
		if o.GetName() != label && o.GetName() != subdomain { // pods and services: labels; configmaps: subdomains
			return fmt.Errorf("%s: %s is not the translated name of its origin %s", what, o.GetName(), name)
		}
		origins = append(origins, name)
	}
	return sameSet(what, origins, want)
}

func head(s []string) []string { return s[:min(len(s), 5)] }
