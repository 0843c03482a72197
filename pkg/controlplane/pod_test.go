package controlplane

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/pki"
)

func TestLocalServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, bind, want string
	}{
		{"loopback", "127.0.0.1", "https://127.0.0.1:6443"},
		{"any IPv4 (a pod)", "0.0.0.0", "https://127.0.0.1:6443"},
		{"any IPv6", "::", "https://127.0.0.1:6443"},
		{"a given address", "10.1.2.3", "https://10.1.2.3:6443"},
		{"IPv6 address", "fd00::1", "https://[fd00::1]:6443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := LocalServer(tt.bind, 6443); got != tt.want {
				t.Errorf("LocalServer(%q) = %q, want %q", tt.bind, got, tt.want)
			}
		})
	}
}

func TestConfigValidatePodSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "in-cluster host", cfg: Config{HostInCluster: true, HostNamespace: "nest-a"}},
		{name: "service names and IPs", cfg: Config{TLSSANs: []string{"nest.nest-a.svc", "nest.nest-a.svc.cluster.local", "10.0.0.7", "*.example.com", "fd00::7"}}},
		{name: "kubeconfig and in-cluster", cfg: Config{HostInCluster: true, HostKubeconfig: "/h"}, wantErr: "exclusive"},
		{name: "URL as SAN", cfg: Config{TLSSANs: []string{"https://nest.example.com"}}, wantErr: `TLS SAN "https://nest.example.com"`},
		{name: "empty SAN", cfg: Config{TLSSANs: []string{""}}, wantErr: `TLS SAN ""`},
		{name: "restore secret with a host", cfg: Config{RestoreSecret: "a-nest-restore", HostInCluster: true, HostNamespace: "nest-a"}},
		{name: "restore secret without a host", cfg: Config{RestoreSecret: "a-nest-restore"}, wantErr: "restore secret: it is read from the host namespace"},
		{name: "restore secret without a namespace", cfg: Config{RestoreSecret: "a-nest-restore", HostKubeconfig: "/h"}, wantErr: "restore secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Name, cfg.Dir, cfg.Port = "a", t.TempDir(), 6443
			err := cfg.validate()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("validate() = %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestPrepareForAPod checks what a control plane in a pod needs: its
// serving certificate names the Service in front of it, and its own
// kubeconfigs reach it on loopback although it binds every address.
func TestPrepareForAPod(t *testing.T) {
	t.Parallel()
	layout := Layout{Dir: t.TempDir()}
	sans := []string{"nest.nest-a.svc", "nest.nest-a.svc.cluster.local", "10.0.0.7"}
	b, err := Prepare(layout, LocalServer("0.0.0.0", 6443), sans...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(b.APIServerCert())
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sans[:2] {
		if !slices.Contains(cert.DNSNames, name) {
			t.Errorf("serving cert DNS names %v lack %s", cert.DNSNames, name)
		}
	}
	if !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("10.0.0.7")) }) {
		t.Errorf("serving cert IPs %v lack 10.0.0.7", cert.IPAddresses)
	}
	cfg, err := clientcmd.LoadFromFile(layout.AdminKubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		if c.Server != "https://127.0.0.1:6443" {
			t.Errorf("admin kubeconfig server = %s, want https://127.0.0.1:6443", c.Server)
		}
	}
}

func TestAdminKubeconfigIsSelfContained(t *testing.T) {
	t.Parallel()
	layout := Layout{Dir: t.TempDir()}
	b, err := Prepare(layout, LocalServer("0.0.0.0", 6443))
	if err != nil {
		t.Fatal(err)
	}
	data, err := AdminKubeconfig("dev", "https://dev-nest.tenant-a.svc:443", HookEnv{PKI: b})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil {
		t.Fatalf("no current context in %s", data)
	}
	cluster, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	if cluster.Server != "https://dev-nest.tenant-a.svc:443" || len(cluster.CertificateAuthorityData) == 0 {
		t.Errorf("cluster = %s with %d bytes of CA, want the given server and an embedded CA", cluster.Server, len(cluster.CertificateAuthorityData))
	}
	if len(user.ClientCertificateData) == 0 || len(user.ClientKeyData) == 0 || user.ClientCertificate != "" {
		t.Errorf("user credentials are not embedded")
	}
	if _, err := AdminKubeconfig("dev", "https://x", HookEnv{PKI: &pki.Bundle{Dir: t.TempDir()}}); err == nil {
		t.Errorf("AdminKubeconfig without certificates: want an error")
	}
}
