package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/vdns"
)

// TestVirtualDNS: the control plane's DNS server answers the virtual
// cluster's names from its apiserver, as a DNS client asks them: a
// service's cluster IP (the one its host copy has), a headless service's
// pods, the SRV record of a named port, a pod by its dashed IP, and
// NXDOMAIN for a service that does not exist.
func TestVirtualDNS(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	vc, client := env.VirtualCluster(t, "dns", lifecycle.CreateOptions{})
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	port := []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: port}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-headless"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"}, Ports: port}},
	} {
		if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var addr string
	testenv.Eventually(t, time.Minute, "the DNS server's address file", func() (bool, error) {
		data, err := os.ReadFile(vdns.AddressFile(env.Home.ClusterDir("dns")))
		addr = strings.TrimSpace(string(data))
		return err == nil && addr != "", err
	})
	query := func(name string, qtype uint16) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		resp, _, err := (&dns.Client{Timeout: 10 * time.Second}).Exchange(m, addr)
		return resp, err
	}
	records := func(resp *dns.Msg) []string {
		var out []string
		for _, rr := range resp.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				out = append(out, rr.A.String())
			case *dns.SRV:
				out = append(out, fmt.Sprintf("%d %s", rr.Port, rr.Target))
			}
		}
		slices.Sort(out)
		return out
	}

	testenv.Eventually(t, 2*time.Minute, "web.default.svc.cluster.local to be the service's cluster IP, on both sides", func() (bool, error) {
		v, err := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		h, err := env.Client.CoreV1().Services(vc.HostNamespace).Get(ctx, "web-x-default-x-dns", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		resp, err := query("web.default.svc.cluster.local.", dns.TypeA)
		if err != nil {
			return false, err
		}
		got := records(resp)
		return slices.Equal(got, []string{v.Spec.ClusterIP}) && v.Spec.ClusterIP == h.Spec.ClusterIP,
			fmt.Errorf("answer %v, virtual cluster IP %s, host %s", got, v.Spec.ClusterIP, h.Spec.ClusterIP)
	})
	var podIPs []string
	testenv.Eventually(t, 2*time.Minute, "web-headless to be the two pods' IPs", func() (bool, error) {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		podIPs = nil
		for _, p := range pods.Items {
			if p.Status.PodIP != "" && p.Status.Phase == corev1.PodRunning {
				podIPs = append(podIPs, p.Status.PodIP)
			}
		}
		slices.Sort(podIPs)
		resp, err := query("web-headless.default.svc.cluster.local.", dns.TypeA)
		if err != nil {
			return false, err
		}
		got := records(resp)
		return len(podIPs) == 2 && slices.Equal(got, podIPs), fmt.Errorf("answer %v, pod IPs %v", got, podIPs)
	})
	tests := []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		want  []string
	}{
		{"SRV of the named port", "_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess, []string{"80 web.default.svc.cluster.local."}},
		{"a pod by its dashed IP", strings.ReplaceAll(podIPs[0], ".", "-") + ".default.pod.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{podIPs[0]}},
		{"a service that does not exist", "nope.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := query(tt.qname, tt.qtype)
			if err != nil {
				t.Fatal(err)
			}
			if got := records(resp); resp.Rcode != tt.rcode || !slices.Equal(got, tt.want) {
				t.Errorf("%s: %s %v, want %s %v", tt.qname, dns.RcodeToString[resp.Rcode], got, dns.RcodeToString[tt.rcode], tt.want)
			}
		})
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		t.Errorf("DNS address %q, want loopback: the local host's pods are simulated", addr)
	}
}
