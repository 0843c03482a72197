// Package vdns is the virtual cluster's DNS server: it answers the
// cluster's names (services, their endpoints and ports, pods) from
// informers on the virtual apiserver, as CoreDNS's kubernetes plugin does,
// and forwards every other name to the host's DNS.
//
// Names under the cluster domain (cluster.local by default):
//
//	SVC.NS.svc           A/AAAA: the service's cluster IPs (the same on the
//	                     host: its host copy has them); headless: the ready
//	                     endpoints' addresses; ExternalName: a CNAME
//	HOST.SVC.NS.svc      A/AAAA of a headless service's endpoint, by its
//	                     hostname or its dashed IP
//	_PORT._PROTO.SVC.NS.svc  SRV of a named port (per endpoint if headless)
//	A-B-C-D.NS.pod       A of that IP (CoreDNS's "pods insecure")
//
// A name under the domain that matches nothing is NXDOMAIN; a name that
// exists without records of the asked type gets an empty answer.
package vdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// DefaultClusterDomain is the cluster domain when none is given.
const DefaultClusterDomain = "cluster.local"

// ttl of every answer about the cluster, in seconds (CoreDNS's default).
const ttl = 5

// Config of a DNS server.
type Config struct {
	// Addr is the UDP and TCP address to listen on, e.g. "127.0.0.1:0"
	// (a free port) or ":1053".
	Addr string
	// ClusterDomain; "" is DefaultClusterDomain.
	ClusterDomain string
	// Upstreams ("ip" or "ip:port") answer every other name; none: the
	// nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is read when Upstreams is empty; "" is /etc/resolv.conf.
	ResolvConf string
	// Virtual is a client of the virtual apiserver.
	Virtual kubernetes.Interface
	Logger  *slog.Logger
}

func (c *Config) validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("a listen address is required"))
	} else if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", c.Addr, err))
	}
	if c.Virtual == nil || c.Logger == nil {
		errs = append(errs, errors.New("a virtual client and a logger are required"))
	}
	if _, ok := dns.IsDomainName(c.ClusterDomain); c.ClusterDomain != "" && !ok {
		errs = append(errs, fmt.Errorf("cluster domain %q is not a domain name", c.ClusterDomain))
	}
	return errors.Join(errs...)
}

// Server is a running DNS server.
type Server struct {
	domain    string // "cluster.local." (lower case, fully qualified)
	services  corelisters.ServiceLister
	slices    cache.Indexer // EndpointSlices by indexService
	upstreams []string
	addr      string
	log       *slog.Logger
}

// indexService indexes EndpointSlices by "namespace/service".
const indexService = "service"

// Start lists and watches the virtual cluster's services and endpoint
// slices, and serves DNS on UDP and TCP until ctx ends.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	domain := cfg.ClusterDomain
	if domain == "" {
		domain = DefaultClusterDomain
	}
	upstreams, err := upstreamsOf(cfg.Upstreams, cfg.ResolvConf)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	factory := informers.NewSharedInformerFactory(cfg.Virtual, 0)
	svcs, eps := factory.Core().V1().Services(), factory.Discovery().V1().EndpointSlices()
	if err := eps.Informer().AddIndexers(cache.Indexers{indexService: func(obj any) ([]string, error) {
		if es, ok := obj.(*discoveryv1.EndpointSlice); ok && es.Labels[discoveryv1.LabelServiceName] != "" {
			return []string{es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, fmt.Errorf("dns: index endpoint slices: %w", err)
	}
	s := &Server{
		domain: dns.CanonicalName(domain), services: svcs.Lister(), slices: eps.Informer().GetIndexer(),
		upstreams: upstreams, log: cfg.Logger.With("component", "dns"),
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), svcs.Informer().HasSynced, eps.Informer().HasSynced) {
		return nil, ctx.Err()
	}
	udp, tcp, err := listen(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	s.addr = udp.LocalAddr().String()
	servers := []*dns.Server{{PacketConn: udp, Handler: s}, {Listener: tcp, Handler: s}}
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ActivateAndServe(); err != nil && ctx.Err() == nil {
				s.log.Error("DNS server stopped", "error", err)
			}
		}()
	}
	go func() {
		<-ctx.Done()
		for _, srv := range servers {
			_ = srv.Shutdown()
		}
		wg.Wait()
	}()
	s.log.Info("DNS server is running", "address", s.addr, "clusterDomain", domain, "upstreams", upstreams)
	return s, nil
}

// Addr is the address the server answers on (UDP and TCP).
func (s *Server) Addr() string { return s.addr }

// listen opens UDP and TCP on one port; for port 0, the port UDP got.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	for range 10 {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen on udp %s: %w", addr, err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			return nil, nil, fmt.Errorf("listen on tcp %s: %w", addr, err)
		}
		// The free UDP port is taken on TCP: try another.
	}
	return nil, nil, fmt.Errorf("no port of %s is free on both UDP and TCP", addr)
}

// upstreamsOf returns the upstream servers as "host:port".
func upstreamsOf(given []string, resolvConf string) ([]string, error) {
	if len(given) == 0 {
		if resolvConf == "" {
			resolvConf = "/etc/resolv.conf"
		}
		conf, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil {
			return nil, fmt.Errorf("read upstream servers from %s: %w", resolvConf, err)
		}
		for _, server := range conf.Servers {
			given = append(given, net.JoinHostPort(server, conf.Port))
		}
	}
	out := make([]string, 0, len(given))
	for _, u := range given {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(u, "53")
		}
		if host, _, _ := net.SplitHostPort(u); net.ParseIP(host) == nil {
			return nil, fmt.Errorf("upstream %q is not an IP address", u)
		}
		out = append(out, u)
	}
	return out, nil
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNotImplemented)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	if !dns.IsSubDomain(s.domain, dns.CanonicalName(q.Name)) {
		s.forward(w, r)
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	answer, extra, rcode := s.resolve(q)
	m.Rcode, m.Answer, m.Extra = rcode, answer, extra
	if rcode != dns.RcodeSuccess || len(answer) == 0 {
		m.Ns = []dns.RR{s.soa()}
	}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); !tcp {
		m.Truncate(udpSize(r))
	}
	_ = w.WriteMsg(m)
}

func udpSize(r *dns.Msg) int {
	if opt := r.IsEdns0(); opt != nil {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}

// soa is the authority of the cluster domain, for negative answers.
func (s *Server) soa() dns.RR {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: s.domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:  "ns.dns." + s.domain, Mbox: "hostmaster." + s.domain,
		Serial: uint32(time.Now().Unix()), Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: ttl,
	}
}

// forward relays a query outside the cluster domain to the upstreams, in
// order, over the protocol it came on.
func (s *Server) forward(w dns.ResponseWriter, r *dns.Msg) {
	network := "udp"
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		network = "tcp"
	}
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	var lastErr error
	for _, upstream := range s.upstreams {
		resp, _, err := c.Exchange(r, upstream)
		if err == nil {
			resp.Id = r.Id
			_ = w.WriteMsg(resp)
			return
		}
		lastErr = err
	}
	s.log.Warn("No upstream DNS server answered", "name", r.Question[0].Name, "upstreams", s.upstreams, "error", lastErr)
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeServerFailure)
	_ = w.WriteMsg(m)
}

// resolve answers a question about a name under the cluster domain.
func (s *Server) resolve(q dns.Question) (answer, extra []dns.RR, rcode int) {
	name := dns.CanonicalName(q.Name)
	rest := strings.TrimSuffix(strings.TrimSuffix(name, s.domain), ".")
	var labels []string
	if rest != "" {
		labels = strings.Split(rest, ".")
	}
	n := len(labels)
	switch {
	case n == 0:
		return nil, nil, dns.RcodeSuccess // the domain itself
	case labels[n-1] == "svc":
		return s.resolveService(q, name, labels[:n-1])
	case labels[n-1] == "pod" && n == 3:
		ip := podIP(labels[0])
		if ip == nil {
			return nil, nil, dns.RcodeNameError
		}
		return addressRecords(name, q.Qtype, ip), nil, dns.RcodeSuccess
	case labels[n-1] == "pod" && n <= 2:
		return nil, nil, dns.RcodeSuccess
	}
	return nil, nil, dns.RcodeNameError
}

// resolveService answers names under svc.DOMAIN; labels are the ones
// before "svc".
func (s *Server) resolveService(q dns.Question, name string, labels []string) (answer, extra []dns.RR, rcode int) {
	switch len(labels) {
	case 0, 1: // svc.DOMAIN, NS.svc.DOMAIN
		return nil, nil, dns.RcodeSuccess
	case 2: // SVC.NS
		svc, ok := s.service(labels[1], labels[0])
		if !ok {
			return nil, nil, dns.RcodeNameError
		}
		return s.serviceRecords(q.Qtype, name, svc)
	case 3: // HOST.SVC.NS
		svc, ok := s.service(labels[2], labels[1])
		if !ok || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			return nil, nil, dns.RcodeNameError
		}
		var ips []net.IP
		for _, ep := range s.endpoints(svc) {
			if ep.host == labels[0] {
				ips = append(ips, ep.ip)
			}
		}
		if len(ips) == 0 {
			return nil, nil, dns.RcodeNameError
		}
		return addressRecords(name, q.Qtype, ips...), nil, dns.RcodeSuccess
	case 4: // _PORT._PROTO.SVC.NS
		port, proto := labels[0], labels[1]
		svc, ok := s.service(labels[3], labels[2])
		if !ok || !strings.HasPrefix(port, "_") || !strings.HasPrefix(proto, "_") {
			return nil, nil, dns.RcodeNameError
		}
		srv, extra := s.srvRecords(name, svc, port[1:], proto[1:])
		if len(srv) == 0 {
			return nil, nil, dns.RcodeNameError
		}
		if q.Qtype != dns.TypeSRV && q.Qtype != dns.TypeANY {
			return nil, nil, dns.RcodeSuccess
		}
		return srv, extra, dns.RcodeSuccess
	}
	return nil, nil, dns.RcodeNameError
}

func (s *Server) service(ns, name string) (*corev1.Service, bool) {
	svc, err := s.services.Services(ns).Get(name)
	return svc, err == nil
}

// serviceRecords answers SVC.NS.svc.DOMAIN.
func (s *Server) serviceRecords(qtype uint16, name string, svc *corev1.Service) (answer, extra []dns.RR, rcode int) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		if qtype == dns.TypeCNAME || qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeANY {
			return []dns.RR{&dns.CNAME{Hdr: header(name, dns.TypeCNAME), Target: dns.Fqdn(svc.Spec.ExternalName)}}, nil, dns.RcodeSuccess
		}
		return nil, nil, dns.RcodeSuccess
	}
	if qtype == dns.TypeSRV {
		var all []dns.RR
		for _, p := range svc.Spec.Ports {
			if p.Name == "" {
				continue
			}
			srv, ex := s.srvRecords(name, svc, p.Name, strings.ToLower(string(p.Protocol)))
			all, extra = append(all, srv...), append(extra, ex...)
		}
		return all, extra, dns.RcodeSuccess
	}
	return addressRecords(name, qtype, s.serviceIPs(svc)...), nil, dns.RcodeSuccess
}

// serviceIPs are a service's cluster IPs, or for a headless service its
// endpoints' addresses.
func (s *Server) serviceIPs(svc *corev1.Service) []net.IP {
	var ips []net.IP
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		for _, ep := range s.endpoints(svc) {
			ips = append(ips, ep.ip)
		}
		return ips
	}
	clusterIPs := svc.Spec.ClusterIPs
	if len(clusterIPs) == 0 && svc.Spec.ClusterIP != "" {
		clusterIPs = []string{svc.Spec.ClusterIP}
	}
	for _, ip := range clusterIPs {
		if parsed := net.ParseIP(ip); parsed != nil {
			ips = append(ips, parsed)
		}
	}
	return ips
}

// srvRecords are the SRV records of a service's named port: one naming
// the service for a cluster IP service, one per endpoint for a headless one.
func (s *Server) srvRecords(name string, svc *corev1.Service, port, proto string) (srv, extra []dns.RR) {
	i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
		return strings.EqualFold(p.Name, port) && strings.EqualFold(string(p.Protocol), proto)
	})
	if i < 0 {
		return nil, nil
	}
	svcName := dns.Fqdn(svc.Name + "." + svc.Namespace + ".svc." + strings.TrimSuffix(s.domain, "."))
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		srv = append(srv, &dns.SRV{Hdr: header(name, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(svc.Spec.Ports[i].Port), Target: svcName})
		for _, ip := range s.serviceIPs(svc) {
			extra = append(extra, addressRecords(svcName, dns.TypeANY, ip)...)
		}
		return srv, extra
	}
	for _, ep := range s.endpoints(svc) {
		p, ok := ep.ports[portKey(port, proto)]
		if !ok {
			continue
		}
		target := ep.host + "." + svcName
		srv = append(srv, &dns.SRV{Hdr: header(name, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p), Target: target})
		extra = append(extra, addressRecords(target, dns.TypeANY, ep.ip)...)
	}
	return srv, extra
}

// endpoint is one address of a headless service.
type endpoint struct {
	ip    net.IP
	host  string           // its hostname, or its dashed IP
	ports map[string]int32 // by portKey
}

func portKey(name, proto string) string { return strings.ToLower(name) + "/" + strings.ToLower(proto) }

// endpoints are a service's ready endpoints (all of them, if it publishes
// not-ready addresses), from its EndpointSlices, in a stable order.
func (s *Server) endpoints(svc *corev1.Service) []endpoint {
	objs, _ := s.slices.ByIndex(indexService, svc.Namespace+"/"+svc.Name)
	var out []endpoint
	seen := map[string]bool{}
	for _, obj := range objs {
		es, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		ports := map[string]int32{}
		for _, p := range es.Ports {
			if p.Name != nil && p.Port != nil {
				proto := corev1.ProtocolTCP
				if p.Protocol != nil {
					proto = *p.Protocol
				}
				ports[portKey(*p.Name, string(proto))] = *p.Port
			}
		}
		for _, ep := range es.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, addr := range ep.Addresses {
				ip := net.ParseIP(addr)
				if ip == nil || seen[addr] {
					continue
				}
				seen[addr] = true
				host := dashed(ip)
				if ep.Hostname != nil && *ep.Hostname != "" {
					host = *ep.Hostname
				}
				out = append(out, endpoint{ip: ip, host: host, ports: ports})
			}
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int { return strings.Compare(a.ip.String(), b.ip.String()) })
	return out
}

// dashed writes an IP as a DNS label: 10-0-0-1, or for IPv6 2001-db8--1.
func dashed(ip net.IP) string {
	return strings.NewReplacer(".", "-", ":", "-").Replace(ip.String())
}

// podIP reads a dashed IP label (10-0-0-1, 2001-db8--1).
func podIP(label string) net.IP {
	if ip := net.ParseIP(strings.ReplaceAll(label, "-", ".")); ip != nil && ip.To4() != nil {
		return ip
	}
	if ip := net.ParseIP(strings.ReplaceAll(label, "-", ":")); ip != nil && ip.To4() == nil {
		return ip
	}
	return nil
}

// addressRecords are the A and AAAA records of ips that qtype asks for
// (TypeANY: both).
func addressRecords(name string, qtype uint16, ips ...net.IP) []dns.RR {
	var out []dns.RR
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			if qtype == dns.TypeA || qtype == dns.TypeANY {
				out = append(out, &dns.A{Hdr: header(name, dns.TypeA), A: v4})
			}
		} else if qtype == dns.TypeAAAA || qtype == dns.TypeANY {
			out = append(out, &dns.AAAA{Hdr: header(name, dns.TypeAAAA), AAAA: ip})
		}
	}
	return out
}

func header(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}
