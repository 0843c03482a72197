package components

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/nestcluster/nest/pkg/pki"
)

// APIServerParams are the settings that differ between the apiservers Nest
// runs (the local host's and each virtual cluster's).
type APIServerParams struct {
	EtcdServers        string
	BindAddress        string
	Port               int
	PKI                *pki.Bundle
	ServiceCIDR        string
	AuthorizationModes string
	// Extra flags, as name → value without dashes; they override the defaults.
	Extra map[string]string
}

// APIServerFlags returns kube-apiserver's flags for p.
func APIServerFlags(p APIServerParams) []string {
	b := p.PKI
	flags := map[string]string{
		"etcd-servers":                     p.EtcdServers,
		"bind-address":                     p.BindAddress,
		"advertise-address":                p.BindAddress,
		"secure-port":                      strconv.Itoa(p.Port),
		"tls-cert-file":                    b.APIServerCert(),
		"tls-private-key-file":             b.APIServerKey(),
		"client-ca-file":                   b.CACert(),
		"service-account-issuer":           "https://kubernetes.default.svc.cluster.local",
		"service-account-key-file":         b.ServiceAccountPub(),
		"service-account-signing-key-file": b.ServiceAccountKey(),
		"service-cluster-ip-range":         p.ServiceCIDR,
		"authorization-mode":               p.AuthorizationModes,
		"allow-privileged":                 "true",
		// Nest's apiservers advertise loopback addresses, which may not be
		// published as the kubernetes service's endpoints.
		"endpoint-reconciler-type":           "none",
		"kubelet-client-certificate":         b.ClientCert("apiserver-kubelet-client"),
		"kubelet-client-key":                 b.ClientKey("apiserver-kubelet-client"),
		"requestheader-client-ca-file":       b.FrontProxyCACert(),
		"requestheader-allowed-names":        "front-proxy-client",
		"requestheader-username-headers":     "X-Remote-User",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"proxy-client-cert-file":             b.FrontProxyClientCert(),
		"proxy-client-key-file":              b.FrontProxyClientKey(),
		"profiling":                          "false",
	}
	maps.Copy(flags, p.Extra)
	return toArgs(flags)
}

// toArgs renders flags as --name=value, sorted so commands are stable.
func toArgs(flags map[string]string) []string {
	args := make([]string, 0, len(flags))
	for _, name := range slices.Sorted(maps.Keys(flags)) {
		args = append(args, fmt.Sprintf("--%s=%s", name, flags[name]))
	}
	return args
}
