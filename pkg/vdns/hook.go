package vdns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nestcluster/nest/pkg/controlplane"
)

// HookConfig is what `nest controlplane` says about its DNS server.
type HookConfig struct {
	Addr          string   // listen address (UDP and TCP)
	ClusterDomain string   // "" is DefaultClusterDomain
	Upstreams     []string // "": the nameservers of /etc/resolv.conf
}

// AddressFile is where Hook writes the address it serves on, in a
// cluster's state directory (for tools and tests; port 0 picks a free one).
func AddressFile(dir string) string { return filepath.Join(dir, "dns.address") }

// Hook runs the DNS server inside a control plane until it stops.
func Hook(cfg HookConfig) controlplane.Hook {
	return func(ctx context.Context, env controlplane.HookEnv) error {
		s, err := Start(ctx, Config{
			Addr: cfg.Addr, ClusterDomain: cfg.ClusterDomain, Upstreams: cfg.Upstreams,
			Virtual: env.Virtual, Logger: env.Logger,
		})
		if err != nil {
			return err
		}
		if err := os.WriteFile(AddressFile(env.Layout.Dir), []byte(s.Addr()+"\n"), 0o600); err != nil {
			return fmt.Errorf("dns: write its address: %w", err)
		}
		<-ctx.Done()
		return nil
	}
}
