package vdns

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// testServer is a Server over fixed objects, serving on loopback.
func testServer(t *testing.T, upstreams []string, objs ...any) string {
	t.Helper()
	svcs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	eps := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{indexService: func(obj any) ([]string, error) {
		es := obj.(*discoveryv1.EndpointSlice)
		return []string{es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]}, nil
	}})
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			err = svcs.Add(o)
		case *discoveryv1.EndpointSlice:
			err = eps.Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{domain: "cluster.local.", services: corelisters.NewServiceLister(svcs), slices: eps, upstreams: upstreams,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return serve(t, s)
}

// serve runs a handler on a loopback UDP and TCP port until the test ends.
func serve(t *testing.T, h dns.Handler) string {
	t.Helper()
	udp, tcp, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{PacketConn: udp, Handler: h}, {Listener: tcp, Handler: h}} {
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return udp.LocalAddr().String()
}

func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Ports: ports}}
	if clusterIP != corev1.ClusterIPNone {
		svc.Spec.ClusterIPs = []string{clusterIP}
	}
	return svc
}

func slice(ns, svc string, port int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-abc", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		Endpoints:  eps,
		Ports:      []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
}

// answers renders the answer section as "TYPE value" lines, sorted.
func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		fields := strings.Fields(rr.String())
		out = append(out, dns.TypeToString[rr.Header().Rrtype]+" "+strings.Join(fields[4:], " "))
	}
	sort.Strings(out)
	return out
}

func TestServerAnswers(t *testing.T) {
	t.Parallel()
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	upstream := serve(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "example.org." {
			m.Answer = []dns.RR{&dns.A{Hdr: header("example.org.", dns.TypeA), A: net.ParseIP("192.0.2.1")}}
		}
		_ = w.WriteMsg(m)
	}))
	addr := testServer(t, []string{upstream},
		service("shop", "web", "10.96.0.10", http),
		service("shop", "dual", "10.96.0.11"),
		service("shop", "db", corev1.ClusterIPNone, http),
		slice("shop", "db", 8080,
			discoveryv1.Endpoint{Addresses: []string{"10.244.0.5"}, Hostname: ptr.To("db-0")},
			discoveryv1.Endpoint{Addresses: []string{"10.244.0.6"}},
			discoveryv1.Endpoint{Addresses: []string{"10.244.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}},
	)
	tests := []struct {
		name  string
		qname string
		qtype uint16
		tcp   bool
		rcode int
		want  []string
	}{
		{"service A: its cluster IP", "web.shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeSuccess, []string{"A 10.96.0.10"}},
		{"case does not matter", "WEB.Shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeSuccess, []string{"A 10.96.0.10"}},
		{"over TCP", "web.shop.svc.cluster.local.", dns.TypeA, true, dns.RcodeSuccess, []string{"A 10.96.0.10"}},
		{"service AAAA of an IPv4 service: no data", "web.shop.svc.cluster.local.", dns.TypeAAAA, false, dns.RcodeSuccess, nil},
		{"unknown service", "nope.shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeNameError, nil},
		{"service in another namespace", "web.other.svc.cluster.local.", dns.TypeA, false, dns.RcodeNameError, nil},
		{"headless: the ready endpoints", "db.shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeSuccess, []string{"A 10.244.0.5", "A 10.244.0.6"}},
		{"headless endpoint by hostname", "db-0.db.shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeSuccess, []string{"A 10.244.0.5"}},
		{"headless endpoint by dashed IP", "10-244-0-6.db.shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeSuccess, []string{"A 10.244.0.6"}},
		{"not-ready endpoint", "10-244-0-7.db.shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeNameError, nil},
		{"SRV of a named port", "_http._tcp.web.shop.svc.cluster.local.", dns.TypeSRV, false, dns.RcodeSuccess, []string{"SRV 0 100 80 web.shop.svc.cluster.local."}},
		{"SRV of a headless service: per endpoint", "_http._tcp.db.shop.svc.cluster.local.", dns.TypeSRV, false, dns.RcodeSuccess,
			[]string{"SRV 0 100 8080 10-244-0-6.db.shop.svc.cluster.local.", "SRV 0 100 8080 db-0.db.shop.svc.cluster.local."}},
		{"SRV of an unknown port", "_grpc._tcp.web.shop.svc.cluster.local.", dns.TypeSRV, false, dns.RcodeNameError, nil},
		{"SRV of the service name: its named ports", "web.shop.svc.cluster.local.", dns.TypeSRV, false, dns.RcodeSuccess, []string{"SRV 0 100 80 web.shop.svc.cluster.local."}},
		{"ExternalName: a CNAME", "ext.shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeSuccess, []string{"CNAME db.example.com."}},
		{"pod by dashed IP", "10-244-1-2.shop.pod.cluster.local.", dns.TypeA, false, dns.RcodeSuccess, []string{"A 10.244.1.2"}},
		{"pod by dashed IPv6", "fd00--1.shop.pod.cluster.local.", dns.TypeAAAA, false, dns.RcodeSuccess, []string{"AAAA fd00::1"}},
		{"pod label that is no IP", "web-1.shop.pod.cluster.local.", dns.TypeA, false, dns.RcodeNameError, nil},
		{"namespace name: exists, no records", "shop.svc.cluster.local.", dns.TypeA, false, dns.RcodeSuccess, nil},
		{"other name in the domain", "foo.cluster.local.", dns.TypeA, false, dns.RcodeNameError, nil},
		{"outside the domain: forwarded", "example.org.", dns.TypeA, false, dns.RcodeSuccess, []string{"A 192.0.2.1"}},
		{"outside the domain over TCP: forwarded", "example.org.", dns.TypeA, true, dns.RcodeSuccess, []string{"A 192.0.2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &dns.Client{Timeout: 10 * time.Second}
			if tt.tcp {
				c.Net = "tcp"
			}
			m := new(dns.Msg)
			m.SetQuestion(tt.qname, tt.qtype)
			resp, _, err := c.Exchange(m, addr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got := answers(resp); !slices.Equal(got, tt.want) {
				t.Errorf("answers = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestForwardFailure(t *testing.T) {
	t.Parallel()
	// A port nothing answers on: the client gets SERVFAIL, not silence.
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	addr := testServer(t, []string{dead.LocalAddr().String()})
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeA)
	resp, _, err := (&dns.Client{Timeout: 30 * time.Second}).Exchange(m, addr)
	if err != nil || resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("answer %v, %v; want SERVFAIL", resp, err)
	}
}

func TestUpstreams(t *testing.T) {
	t.Parallel()
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("search example.org\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		given   []string
		want    []string
		wantErr string
	}{
		{"from resolv.conf", nil, []string{"192.0.2.53:53", "[2001:db8::53]:53"}, ""},
		{"given, port defaulted", []string{"10.0.0.10", "10.0.0.11:5353"}, []string{"10.0.0.10:53", "10.0.0.11:5353"}, ""},
		{"not an IP", []string{"dns.example.org"}, nil, `upstream "dns.example.org:53" is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := upstreamsOf(tt.given, resolv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("upstreamsOf() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := Start(context.Background(), Config{Addr: "nope"}); err == nil || !strings.Contains(err.Error(), `listen address "nope"`) {
		t.Errorf("Start with a bad address: %v", err)
	}
}
