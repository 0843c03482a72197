// Package portforward implements `nest port-forward`.
package portforward

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest port-forward`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var opts lifecycle.PortForwardOptions
	var kubeconfigOut string
	c := &cobra.Command{
		Use:   "port-forward NAME",
		Short: "Serve a pod-runtime virtual cluster's apiserver on a local port, through the host",
		Long: `Forward local ports to the apiserver and the admin endpoint of a
pod-runtime virtual cluster (nest create --runtime pod), through the host's
apiserver to the control plane's ready pod, as kubectl port-forward does
(websockets, or SPDY where the host does not take them). It needs only
pods/portforward in the cluster's host namespace, with your host kubeconfig.

It writes the cluster's admin kubeconfig, pointing at the local port, to
--write-kubeconfig and runs until interrupted, following the next ready pod
when the pod is replaced. TLS stays end to end: the kubeconfig still checks
the apiserver's certificate against the cluster's CA (127.0.0.1 is one of
its names).

nest snapshot, upgrade and certs need no port-forward of yours: when the
published admin URL is not reachable from here they port-forward by
themselves.`,
		Example: `  nest port-forward dev &
  kubectl --kubeconfig ~/.nest/clusters/dev/port-forward.kubeconfig get namespaces

  # on fixed ports, reachable from other machines
  nest port-forward dev --address 0.0.0.0 --port 6443 --admin-port 6444 --write-kubeconfig dev.kubeconfig`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			p, err := lifecycle.OpenDefault(lifecycle.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			if kubeconfigOut == "" {
				kubeconfigOut = p.PortForwardKubeconfigPath(name)
			}
			f, err := p.PortForward(c.Context(), name, opts)
			if err != nil {
				return err
			}
			defer f.Close()
			data, err := clientcmd.Write(*f.Kubeconfig)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(kubeconfigOut), 0o700); err != nil {
				return fmt.Errorf("--write-kubeconfig: %w", err)
			}
			if err := os.WriteFile(kubeconfigOut, data, 0o600); err != nil {
				return fmt.Errorf("--write-kubeconfig: %w", err)
			}
			fmt.Fprintf(streams.Out, "Forwarding to virtual cluster %q (Ctrl-C stops).\n  apiserver:      %s\n", name, f.Server)
			if f.AdminURL != "" {
				fmt.Fprintf(streams.Out, "  admin endpoint: %s\n", f.AdminURL)
			}
			fmt.Fprintf(streams.Out, "  kubeconfig:     %s\nUse it with:\n  kubectl --kubeconfig %s get namespaces\n", kubeconfigOut, kubeconfigOut)
			select {
			case <-c.Context().Done():
				return nil
			case <-f.Done():
				if err := f.Err(); err != nil {
					return fmt.Errorf("port-forward to %q: %w", name, err)
				}
				return nil
			}
		},
	}
	c.Flags().StringVar(&opts.Address, "address", "127.0.0.1", "local address to listen on")
	c.Flags().IntVar(&opts.Port, "port", 0, "local port of the apiserver (0: a free port)")
	c.Flags().IntVar(&opts.AdminPort, "admin-port", 0, "local port of the admin endpoint (0: a free port, -1: do not forward it)")
	c.Flags().StringVar(&kubeconfigOut, "write-kubeconfig", "", "file to write the kubeconfig to (default $NEST_HOME/clusters/NAME/port-forward.kubeconfig)")
	return c
}
