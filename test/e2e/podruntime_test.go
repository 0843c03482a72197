package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/controlplane"
	nestexec "github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/ports"
	"github.com/nestcluster/nest/pkg/vdns"
)

// TestPodRuntime: `nest create --runtime pod` installs the nest chart with
// the Helm SDK into the cluster's host namespace and waits for its pod;
// every object is checked on the host. The local host has no container
// runtime (KWOK reports the pod Running, nothing runs), so a test-only pod
// runner (runChartPod) runs the pod's own command, args and nest.yaml as a
// local process with the pod's service-account token; through it the
// lifecycle's Kubeconfig (what `nest connect` merges) reads the published
// kubeconfig Secret and a Deployment syncs to the host. Pause scales the
// StatefulSet to zero and removes the synced pods (the runner stops with
// the pod), resume brings the pod back, delete uninstalls the release and
// removes the namespace.
func TestPodRuntime(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const name, release, full = "podrt", "podrt", "podrt-nest"
	ns := names.HostNamespace(name)
	// No volume provisioner on the local host: the state lives in an emptyDir.
	vc, err := p.Create(ctx, name, lifecycle.CreateOptions{Runtime: lifecycle.RuntimePod,
		ChartValues: map[string]any{"persistence": map[string]any{"enabled": false}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := p.Delete(ctx, name); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Errorf("delete: %v", err)
		}
	})
	if vc.Runtime != lifecycle.RuntimePod || vc.State != lifecycle.StateRunning || vc.Endpoint != "https://"+full+"."+ns+".svc:443" {
		t.Fatalf("created: %+v", vc)
	}
	// Every object of the release, on the host.
	for _, get := range []struct {
		what string
		get  func() error
	}{
		{"namespace", func() error { _, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); return err }},
		{"service account", func() error {
			_, err := env.Client.CoreV1().ServiceAccounts(ns).Get(ctx, full, metav1.GetOptions{})
			return err
		}},
		{"role", func() error { _, err := env.Client.RbacV1().Roles(ns).Get(ctx, full, metav1.GetOptions{}); return err }},
		{"role binding", func() error {
			_, err := env.Client.RbacV1().RoleBindings(ns).Get(ctx, full, metav1.GetOptions{})
			return err
		}},
		{"config", func() error {
			_, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, full+"-config", metav1.GetOptions{})
			return err
		}},
		{"service", func() error {
			_, err := env.Client.CoreV1().Services(ns).Get(ctx, full, metav1.GetOptions{})
			return err
		}},
		{"DNS service", func() error {
			_, err := env.Client.CoreV1().Services(ns).Get(ctx, full+"-dns", metav1.GetOptions{})
			return err
		}},
		{"headless service", func() error {
			_, err := env.Client.CoreV1().Services(ns).Get(ctx, full+"-headless", metav1.GetOptions{})
			return err
		}},
		{"network policy", func() error {
			_, err := env.Client.NetworkingV1().NetworkPolicies(ns).Get(ctx, full+"-namespace", metav1.GetOptions{})
			return err
		}},
		{"limit range", func() error {
			_, err := env.Client.CoreV1().LimitRanges(ns).Get(ctx, full, metav1.GetOptions{})
			return err
		}},
		{"helm release record", func() error {
			_, err := env.Client.CoreV1().Secrets(ns).Get(ctx, "sh.helm.release.v1."+release+".v1", metav1.GetOptions{})
			return err
		}},
		{"statefulset, 1 ready", func() error {
			s, err := env.Client.AppsV1().StatefulSets(ns).Get(ctx, full, metav1.GetOptions{})
			if err == nil && s.Status.ReadyReplicas != 1 {
				err = fmt.Errorf("%d ready", s.Status.ReadyReplicas)
			}
			return err
		}},
		{"pod Running", func() error {
			pod, err := env.Client.CoreV1().Pods(ns).Get(ctx, full+"-0", metav1.GetOptions{})
			if err == nil && pod.Status.Phase != corev1.PodRunning {
				err = fmt.Errorf("phase %s", pod.Status.Phase)
			}
			return err
		}},
	} {
		if err := get.get(); err != nil {
			t.Errorf("%s: %v", get.what, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if _, err := p.Kubeconfig(ctx, name); err == nil || !strings.Contains(err.Error(), "has not published its kubeconfig") {
		t.Fatalf("kubeconfig before the control plane runs: %v", err)
	}

	// The pod's command, run here.
	podState := filepath.Join(t.TempDir(), "state")
	stop := runChartPodIn(t, env, ns, full+"-0", podState)
	var kubeconfigPath string
	testenv.Eventually(t, 3*time.Minute, "the published kubeconfig", func() (bool, error) {
		cfg, err := p.Kubeconfig(ctx, name)
		if err != nil {
			return false, err
		}
		kubeconfigPath = filepath.Join(t.TempDir(), "podrt.kubeconfig")
		return true, clientcmd.WriteToFile(*cfg, kubeconfigPath)
	})
	client, err := kube.Clientset(kubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "the default service account", func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	synced := names.LabelVirtualCluster + "=" + name + ",app=web"
	testenv.Eventually(t, 2*time.Minute, "2 synced pods Running on the host", func() (bool, error) {
		l, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: synced})
		n, err := countLive(l.Items, err)
		return n == 2, fmt.Errorf("%d: %v", n, err)
	})
	// The pod's DNS server answers the virtual cluster's names (here on
	// loopback: the runner cannot bind the Service's address), and the
	// synced pods use it, behind the chart's Service.
	var dnsAddr string
	testenv.Eventually(t, time.Minute, "the DNS server's address file", func() (bool, error) {
		data, err := os.ReadFile(vdns.AddressFile(podState))
		dnsAddr = strings.TrimSpace(string(data))
		return err == nil && dnsAddr != "", err
	})
	kubeSvc, err := client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA)
	resp, _, err := (&dns.Client{Timeout: 10 * time.Second}).Exchange(q, dnsAddr)
	if err != nil || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != kubeSvc.Spec.ClusterIP {
		t.Errorf("kubernetes.default.svc.cluster.local from the pod's DNS: %v, %v; want %s", resp, err, kubeSvc.Spec.ClusterIP)
	}
	dnsSvc, err := env.Client.CoreV1().Services(ns).Get(ctx, full+"-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: synced})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range l.Items {
		if pod.Spec.DNSPolicy != corev1.DNSNone || pod.Spec.DNSConfig == nil || !slices.Equal(pod.Spec.DNSConfig.Nameservers, []string{dnsSvc.Spec.ClusterIP}) {
			t.Errorf("synced pod %s: DNS policy %s, config %+v; want None with nameserver %s (the DNS Service)", pod.Name, pod.Spec.DNSPolicy, pod.Spec.DNSConfig, dnsSvc.Spec.ClusterIP)
		}
	}

	// Pause: the pod goes (and with it the process standing in for it).
	stop()
	for range 2 {
		if err := p.Pause(ctx, name); err != nil {
			t.Fatal(err)
		}
		c, err := p.Get(ctx, name)
		if err != nil || c.State != lifecycle.StatePaused {
			t.Fatalf("after pause: %+v, %v", c, err)
		}
		l, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 0 {
			t.Fatalf("host pods after pause: %d, %v; want none", len(l.Items), err)
		}
	}
	if c, err := p.Start(ctx, name, 0); err != nil || c.State != lifecycle.StateRunning {
		t.Fatalf("resume: %+v, %v", c, err)
	}
	if _, err := env.Client.CoreV1().Pods(ns).Get(ctx, full+"-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("the control plane's pod after resume: %v", err)
	}

	if err := p.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil || !apierrors.IsNotFound(err) {
		t.Errorf("host namespace after delete: %v, want it gone", err)
	}
	if _, err := p.Get(ctx, name); err == nil {
		t.Error("the cluster is still listed after delete")
	}
}

// podNoVolume are chart values without the state volume: the pod runner's
// state directory stands in for it.
var podNoVolume = map[string]any{"persistence": map[string]any{"enabled": false}}

// createPodCluster creates name on the pod runtime without a volume and
// deletes it, and the
// clusters named by also (made by the test later), when the test ends. It
// returns the host namespace and the release's full name.
func createPodCluster(t *testing.T, p *lifecycle.Provider, name string, also ...string) (ns, full string) {
	t.Helper()
	for _, n := range append([]string{name}, also...) {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := p.Delete(ctx, n); err != nil && !errors.Is(err, lifecycle.ErrNotFound) {
				t.Errorf("delete %s: %v", n, err)
			}
		})
	}
	if _, err := p.Create(context.Background(), name, lifecycle.CreateOptions{Runtime: lifecycle.RuntimePod,
		ChartValues: podNoVolume}); err != nil {
		t.Fatal(err)
	}
	return names.HostNamespace(name), name + "-nest"
}

// runChartPod is a test-only pod runner: it runs the command of the chart
// pod ns/pod (simulated by KWOK) as a local process, with the pod's args
// and nest.yaml (from its ConfigMap) and a token of the pod's service
// account (TokenRequest) for the host. What cannot be the same here is
// rewritten: the state directory is a temp dir, the apiserver binds to
// loopback on a free port, --host-in-cluster becomes a kubeconfig with the
// token, and the published kubeconfig's server is that loopback address
// (standing in for a port-forward to the Service), as is the admin
// endpoint's. It returns a function that stops the process.
func runChartPod(t *testing.T, env *testenv.Env, ns, podName string) func() {
	t.Helper()
	return runChartPodIn(t, env, ns, podName, filepath.Join(t.TempDir(), "state"))
}

// runChartPodIn is runChartPod with the state directory stateDir, which
// stands in for the pod's volume: a runner started again in it finds the
// state of the previous one, as a restarted pod finds its claim's.
func runChartPodIn(t *testing.T, env *testenv.Env, ns, podName, stateDir string) func() {
	t.Helper()
	return runChartPodWith(t, env, ns, podName, stateDir, runnerOptions{})
}

// runnerOptions change what the pod runner rewrites.
type runnerOptions struct {
	// keepPublishedURLs publishes the pod's own URLs (the Service's
	// in-cluster names, unreachable from here) instead of the runner's
	// loopback addresses: the port-forward test reaches it through KWOK.
	keepPublishedURLs bool
}

func runChartPodWith(t *testing.T, env *testenv.Env, ns, podName, stateDir string, ro runnerOptions) func() {
	t.Helper()
	ctx := context.Background()
	pod, err := env.Client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, pod.Spec.ServiceAccountName, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostKubeconfig := tokenKubeconfig(t, env.Kubeconfig, tr.Status.Token, ns)
	dir := t.TempDir()
	configPath := filepath.Join(dir, "nest.yaml")
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil {
			cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, configPath, []byte(cm.Data["nest.yaml"]))
		}
	}
	port, adminPort := runnerPorts(t, stateDir)
	var args []string
	for _, a := range pod.Spec.Containers[0].Args {
		a = strings.ReplaceAll(a, "$(POD_NAMESPACE)", ns)
		flag, _, _ := strings.Cut(a, "=")
		if ro.keepPublishedURLs && (flag == "--kubeconfig-server" || flag == "--admin-server") {
			args = append(args, a)
			continue
		}
		switch flag {
		case "--dir":
			a = "--dir=" + stateDir
		case "--config":
			a = "--config=" + configPath
		case "--bind-address":
			a = "--bind-address=127.0.0.1"
		case "--port":
			a = "--port=" + strconv.Itoa(port)
		case "--host-in-cluster":
			a = "--host-kubeconfig=" + hostKubeconfig
		case "--kubeconfig-server":
			a = "--kubeconfig-server=" + controlplane.LocalServer("127.0.0.1", port)
		case "--dns-listen":
			a = "--dns-listen=127.0.0.1:0"
		case "--admin-port":
			a = "--admin-port=" + strconv.Itoa(adminPort)
		case "--admin-server":
			a = "--admin-server=" + controlplane.LocalServer("127.0.0.1", adminPort)
		}
		args = append(args, a)
	}
	t.Logf("pod runner: nest %s", strings.Join(args, " "))
	layout := controlplane.Layout{Dir: stateDir}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	pid, err := nestexec.Local{}.StartDetached(nestexec.Command{Path: env.NestBinary, Args: args, LogPath: layout.LogPath()})
	if err != nil {
		t.Fatal(err)
	}
	stop := func() { _ = nestexec.Terminate(pid, stateDir, 10*time.Second) }
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pod runner log:\n%s", nestexec.TailLog(layout.LogPath(), 60))
		}
		stop()
	})
	return stop
}

// runnerAddresses keeps the ports of a runner's state directory: a runner
// started again in it (a new pod with the same volume) gets the same
// addresses, as the pod would behind its Service.
var runnerAddresses = struct {
	sync.Mutex
	ports map[string][2]int
}{ports: map[string][2]int{}}

func runnerPorts(t *testing.T, stateDir string) (port, adminPort int) {
	t.Helper()
	runnerAddresses.Lock()
	defer runnerAddresses.Unlock()
	if p, ok := runnerAddresses.ports[stateDir]; ok {
		return p[0], p[1]
	}
	for {
		var err error
		if port, err = ports.Free(); err != nil {
			t.Fatal(err)
		}
		if adminPort, err = ports.Free(); err != nil {
			t.Fatal(err)
		}
		if port != adminPort {
			break
		}
	}
	runnerAddresses.ports[stateDir] = [2]int{port, adminPort}
	return port, adminPort
}
