// Package operator implements `nest operator`.
package operator

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/nesthome"
	"github.com/nestcluster/nest/pkg/operator"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

type flags struct {
	kubeconfig, namespace, stateDir string
	installCRD, printCRD            bool
	workers                         int
	resync, readyTimeout            time.Duration
	leaderElect                     bool
	leaseNamespace, leaseName       string
	chartValues                     string
}

// NewCommand returns `nest operator`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &flags{}
	c := &cobra.Command{
		Use:   "operator",
		Short: "Reconcile VirtualCluster objects of a host cluster into virtual clusters",
		Long: `Run the Nest operator until SIGINT or SIGTERM: it watches VirtualCluster
objects (nest.dev/v1alpha1, namespaced) on the host cluster and keeps a
virtual cluster running for each, through the same lifecycle as nest create,
pause, resume and delete.

With runtime process (the default) each virtual cluster is a nest
controlplane process on this machine, its state in --state-dir; the host
cluster holds its namespace (nest-NAME-x-NAMESPACE) and the VirtualCluster.
The admin kubeconfig is written to the Secret NAME-kubeconfig next to the
VirtualCluster (status.kubeconfigSecretRef). Deleting a VirtualCluster
deletes its virtual cluster and everything it made on the host first (a
finalizer holds it until then). Failed attempts are recorded in the Failed
condition and retried with back-off. Only the operator holding the Lease
--leader-election-id acts; others wait to take over.

The CRD is installed at start (--install-crd, needs the right to write
CustomResourceDefinitions); --print-crd prints it instead, for kubectl apply.
See docs/operator.md.`,
		Example: `  # Reconcile VirtualClusters of the local host (nest host up), every namespace
  nest operator

  # Then
  kubectl apply -f - <<EOF
  apiVersion: nest.dev/v1alpha1
  kind: VirtualCluster
  metadata: {name: dev, namespace: team-a}
  spec: {isolation: {podSecurity: restricted}}
  EOF
  kubectl -n team-a get virtualclusters
  kubectl -n team-a get secret dev-kubeconfig -o jsonpath='{.data.kubeconfig}' | base64 -d > dev.kubeconfig

  # Another host, one namespace, the CRD applied by an administrator
  nest operator --print-crd | kubectl apply -f -
  nest operator --kubeconfig host.kubeconfig --namespace team-a --install-crd=false`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.printCRD {
				data, err := v1alpha1.CRDYAML()
				if err != nil {
					return err
				}
				_, err = streams.Out.Write(data)
				return err
			}
			if f.workers < 1 {
				return fmt.Errorf("--workers must be at least 1, got %d", f.workers)
			}
			home, err := nesthome.OpenDefault()
			if err != nil {
				return err
			}
			if f.kubeconfig == "" {
				if f.kubeconfig, err = operator.LocalHostKubeconfig(home); err != nil {
					return err
				}
			}
			if f.stateDir == "" {
				f.stateDir = operator.StateDir(home)
			}
			state, err := nesthome.Open(f.stateDir)
			if err != nil {
				return fmt.Errorf("--state-dir: %w", err)
			}
			chartValues, err := cmd.ReadChartValues(f.chartValues)
			if err != nil {
				return err
			}
			logger := globals.Logger(streams)
			// client-go's leader election and informers log through klog:
			// send it to the same structured log.
			klog.SetSlogLogger(logger)
			return operator.Run(c.Context(), operator.Config{
				HostKubeconfig: f.kubeconfig,
				Home:           state,
				ChartValues:    chartValues,
				Namespace:      f.namespace,
				Workers:        f.workers,
				Resync:         f.resync,
				ReadyTimeout:   f.readyTimeout,
				InstallCRD:     f.installCRD,
				LeaderElection: operator.LeaderElection{
					Disabled:  !f.leaderElect,
					Namespace: f.leaseNamespace,
					Name:      f.leaseName,
				},
				Logger: logger,
			})
		},
	}
	fs := c.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the host cluster (default: the local host's, from nest host up)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "watch VirtualClusters in this namespace only (default: all namespaces)")
	fs.StringVar(&f.stateDir, "state-dir", "", "state of the virtual clusters of runtime process (default $NEST_HOME/operator)")
	fs.StringVar(&f.chartValues, "chart-values", "", "YAML file of nest chart values for every VirtualCluster of runtime pod (image, persistence, service)")
	fs.BoolVar(&f.installCRD, "install-crd", true, "create or update the VirtualCluster CRD at start")
	fs.BoolVar(&f.printCRD, "print-crd", false, "print the VirtualCluster CRD as YAML and exit")
	fs.IntVar(&f.workers, "workers", 4, "virtual clusters reconciled at once")
	fs.DurationVar(&f.resync, "resync-interval", time.Minute, "how often every VirtualCluster is reconciled again")
	fs.DurationVar(&f.readyTimeout, "ready-timeout", 3*time.Minute, "how long to wait for a control plane to be ready before the attempt fails")
	fs.BoolVar(&f.leaderElect, "leader-elect", true, "act only while holding the Lease, so that two operators never both act")
	fs.StringVar(&f.leaseNamespace, "leader-election-namespace", "default", "namespace of the Lease")
	fs.StringVar(&f.leaseName, "leader-election-id", "nest-operator", "name of the Lease")
	return c
}
