// Package controlplane implements `nest controlplane`, the process that runs
// one virtual cluster's control plane.
package controlplane

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/syncer"
	"github.com/nestcluster/nest/pkg/vdns"
	"github.com/nestcluster/nest/pkg/vmetrics"
)

type flags struct {
	name, dir, configPath  string
	hostKubeconfig, hostNS string
	bindAddress, datastore string
	port                   int
	hostInCluster          bool
	tlsSANs                []string
	kubeconfigSecret       string
	kubeconfigServer       string
	dnsListen, dnsIP       string
	dnsService             string
	dnsUpstreams           []string
	adminPort              int
	adminServer            string
	restoreFrom            string
	restoreSecret          string
}

// NewCommand returns `nest controlplane`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &flags{}
	c := &cobra.Command{
		Use:   "controlplane",
		Short: "Run one virtual cluster's control plane in this process",
		Long: `Run one virtual cluster's control plane in this process: its datastore
(kine on SQLite unless nest.yaml names etcd or Postgres), kube-apiserver,
the controllers that need no nodes, kube-scheduler when nest.yaml turns on
controlPlane.scheduler, the syncer and the metrics API (metrics.k8s.io
from the host's, for kubectl top). 'nest create' starts it
for you; run it by hand (or in a pod) to host a virtual cluster yourself.`,
		Example: `  nest controlplane --name dev --dir /var/lib/nest/dev --port 6443 \
    --host-kubeconfig host.kubeconfig --host-namespace nest-dev

  # As a pod of the host (the Helm chart charts/nest):
  nest controlplane --name dev --dir /var/lib/nest --bind-address 0.0.0.0 \
    --host-in-cluster --host-namespace nest-dev --tls-san nest.nest-dev.svc`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cluster, err := config.LoadOrDefault(f.configPath)
			if err != nil {
				return err
			}
			if f.datastore != "" {
				cluster.Datastore.Endpoint = f.datastore
			}
			if f.dnsService != "" && f.dnsIP != "" {
				return errors.New("--dns-service and --dns-service-ip are exclusive")
			}
			hooks := []controlplane.Hook{syncer.HookWithDNS(f.dnsIP)}
			if f.dnsService != "" {
				hooks[0] = func(ctx context.Context, env controlplane.HookEnv) error {
					ip, err := controlplane.DNSServiceIP(ctx, env, f.dnsService, env.Logger)
					if err != nil {
						return err
					}
					env.Logger.Info("Host pods use the virtual DNS", "service", f.dnsService, "ip", ip)
					return syncer.HookWithDNS(ip)(ctx, env)
				}
			}
			hooks = append(hooks, vmetrics.Hook())
			if f.dnsListen != "" {
				hooks = append(hooks, vdns.Hook(vdns.HookConfig{Addr: f.dnsListen, Upstreams: f.dnsUpstreams}))
			}
			if f.kubeconfigSecret != "" {
				server := f.kubeconfigServer
				if server == "" {
					server = controlplane.LocalServer(f.bindAddress, f.port)
				}
				admin := f.adminServer
				if admin == "" && f.adminPort != 0 {
					admin = controlplane.LocalServer(f.bindAddress, f.adminPort)
				}
				hooks = append(hooks, controlplane.PublishKubeconfig(f.kubeconfigSecret, server, admin))
			}
			return controlplane.Run(c.Context(), controlplane.Config{
				Name: f.name, Dir: f.dir, BindAddress: f.bindAddress, Port: f.port,
				Cluster: cluster, HostKubeconfig: f.hostKubeconfig, HostNamespace: f.hostNS,
				HostInCluster: f.hostInCluster, TLSSANs: f.tlsSANs,
				AdminPort: f.adminPort, RestoreFrom: f.restoreFrom, RestoreSecret: f.restoreSecret,
				Hooks:  hooks,
				Logger: globals.Logger(streams),
			})
		},
	}
	c.Flags().StringVar(&f.name, "name", "", "name of the virtual cluster")
	c.Flags().StringVar(&f.dir, "dir", "", "state directory (certificates, SQLite data, kubeconfigs)")
	c.Flags().StringVar(&f.configPath, "config", "", "nest.yaml of the virtual cluster")
	c.Flags().StringVar(&f.datastore, "datastore", "", "datastore endpoint, overriding nest.yaml (default: SQLite in --dir)")
	c.Flags().StringVar(&f.bindAddress, "bind-address", "127.0.0.1", "address the virtual apiserver listens on")
	c.Flags().IntVar(&f.port, "port", 6443, "port of the virtual apiserver")
	c.Flags().StringVar(&f.hostKubeconfig, "host-kubeconfig", "", "kubeconfig of the host cluster")
	c.Flags().StringVar(&f.hostNS, "host-namespace", "", "namespace of the virtual cluster on the host")
	c.Flags().BoolVar(&f.hostInCluster, "host-in-cluster", false, "use this pod's service account for the host (running as a pod of the host), instead of --host-kubeconfig")
	c.Flags().StringVar(&f.kubeconfigSecret, "kubeconfig-secret", "", "publish the admin kubeconfig in this Secret of the host namespace (key \"config\")")
	c.Flags().StringVar(&f.kubeconfigServer, "kubeconfig-server", "", "server URL in the published kubeconfig (default: this process's own address)")
	c.Flags().StringSliceVar(&f.tlsSANs, "tls-san", nil, "extra IPs and DNS names of the apiserver's serving certificate (e.g. a host Service's names); repeatable")
	c.Flags().IntVar(&f.adminPort, "admin-port", 0, "serve the admin endpoint (snapshot, certificate check and rotation, for the cluster's admin certificate only) on --bind-address at this port (default: none)")
	c.Flags().StringVar(&f.adminServer, "admin-server", "", "URL of the admin endpoint published next to the kubeconfig (default: this process's own address)")
	c.Flags().StringVar(&f.restoreFrom, "restore-from", "", "snapshot file (nest snapshot) loaded into the datastore before the apiserver starts, if the datastore holds no object yet")
	c.Flags().StringVar(&f.restoreSecret, "restore-secret", "", "manifest Secret, in the host namespace, of a snapshot carried in parts (nest restore --runtime pod makes them): checked at every start; a restore not applied yet replaces the datastore's objects before the apiserver starts, the previous ones kept until it is ready, then the Secrets are deleted")
	c.Flags().StringVar(&f.dnsListen, "dns-listen", "", "serve the virtual cluster's DNS (cluster.local names from the virtual apiserver, the rest forwarded) on this UDP and TCP address, e.g. 127.0.0.1:0 or :1053; its address is written to dns.address in --dir (default: no DNS server)")
	c.Flags().StringSliceVar(&f.dnsUpstreams, "dns-upstream", nil, "DNS server (ip or ip:port) that answers names outside the cluster domain; repeatable (default: the nameservers of /etc/resolv.conf)")
	c.Flags().StringVar(&f.dnsService, "dns-service", "", "like --dns-service-ip, with the cluster IP of this Service of the host namespace (the chart's Service in front of --dns-listen), read at start")
	c.Flags().StringVar(&f.dnsIP, "dns-service-ip", "", "IP (port 53) at which the host's pods reach this DNS server, e.g. the cluster IP of a host Service in front of it; host pods with dnsPolicy ClusterFirst are pointed at it (default: they keep the host's DNS)")
	for _, n := range []string{"name", "dir"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}
