package localhost

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nestcluster/nest/pkg/components"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/localhost/kwok"
	"github.com/nestcluster/nest/pkg/pki"
)

// component is one process of the local host.
type component struct {
	name    string
	command exec.Command
	// healthy answers nil when the component serves.
	healthy func(ctx context.Context) error
}

// componentNames in start order; Down stops them in reverse.
var componentNames = []string{"datastore", components.APIServer, components.ControllerManager, components.Scheduler, "kwok", components.Metrics}

// nodeMonitorGracePeriod is how long the local host's node controller waits
// for a heartbeat of a simulated node before marking it NotReady.
const nodeMonitorGracePeriod = "3m"

// components returns the host's processes in start order.

func (h *Host) components(s *state, b *pki.Bundle, kwokPath string) []component {
	loopback := "127.0.0.1"
	etcdServers := "unix://" + h.kineSocket()
	datastore := component{
		name:    "datastore",
		healthy: dialCheck("unix", h.kineSocket()),
		command: h.nestCommand("datastore", components.Kine,
			"--endpoint="+components.SQLiteEndpoint(filepath.Join(h.dataDir(), "state.db")),
			"--listen-address=unix://"+h.kineSocket()),
	}
	if s.Datastore == DatastoreEtcd {
		etcdServers = fmt.Sprintf("http://%s:%d", loopback, s.Ports.Etcd)
		datastore = component{
			name:    "datastore",
			healthy: dialCheck("tcp", fmt.Sprintf("%s:%d", loopback, s.Ports.Etcd)),
			command: h.nestCommand("datastore", components.Etcd,
				"--data-dir="+filepath.Join(h.dataDir(), "etcd"),
				fmt.Sprintf("--listen-client-url=http://%s:%d", loopback, s.Ports.Etcd),
				fmt.Sprintf("--listen-peer-url=http://%s:%d", loopback, s.Ports.EtcdPeer)),
		}
	}
	apiserver := component{
		name:    components.APIServer,
		healthy: h.apiserverCheck(s, b),
		command: h.nestCommand(components.APIServer, components.APIServer, components.APIServerFlags(components.APIServerParams{
			EtcdServers:        etcdServers,
			BindAddress:        loopback,
			Port:               s.Ports.APIServer,
			PKI:                b,
			ServiceCIDR:        ServiceCIDR,
			AuthorizationModes: "Node,RBAC",
		})...),
	}
	cmKubeconfig := h.kubeconfigFor(components.ControllerManager)
	controllerManager := component{
		name:    components.ControllerManager,
		healthy: httpsCheck(fmt.Sprintf("https://%s:%d/healthz", loopback, s.Ports.ControllerManager)),
		command: h.nestCommand(components.ControllerManager, components.ControllerManager,
			"--kubeconfig="+cmKubeconfig,
			"--authentication-kubeconfig="+cmKubeconfig,
			"--authorization-kubeconfig="+cmKubeconfig,
			"--bind-address="+loopback,
			"--secure-port="+strconv.Itoa(s.Ports.ControllerManager),
			"--cluster-signing-cert-file="+b.CACert(),
			"--cluster-signing-key-file="+b.CAKey(),
			"--root-ca-file="+b.CACert(),
			"--service-account-private-key-file="+b.ServiceAccountKey(),
			"--use-service-account-credentials=true",
			"--controllers=*,bootstrapsigner,tokencleaner",
			"--service-cluster-ip-range="+ServiceCIDR,
			"--leader-elect=false",
			"--profiling=false",
			// Simulated nodes on a shared, noisy machine: kwok starved of CPU
			// for the default 50 s would get every node marked NotReady and
			// every pod on it unready. Nodes here fail only when kwok does.
			"--node-monitor-grace-period="+nodeMonitorGracePeriod,
		),
	}
	schedKubeconfig := h.kubeconfigFor(components.Scheduler)
	scheduler := component{
		name:    components.Scheduler,
		healthy: httpsCheck(fmt.Sprintf("https://%s:%d/healthz", loopback, s.Ports.Scheduler)),
		command: h.nestCommand(components.Scheduler, components.Scheduler,
			"--kubeconfig="+schedKubeconfig,
			"--authentication-kubeconfig="+schedKubeconfig,
			"--authorization-kubeconfig="+schedKubeconfig,
			"--bind-address="+loopback,
			"--secure-port="+strconv.Itoa(s.Ports.Scheduler),
			"--leader-elect=false",
			"--profiling=false",
		),
	}
	kwokAddr := fmt.Sprintf("%s:%d", loopback, s.Ports.Kwok)
	var kwokExtra []string
	if s.SimulatePortForward {
		kwokExtra = append(kwokExtra, kwok.EnablePortForwardCRD)
	}
	simulator := component{
		name:    "kwok",
		healthy: httpCheck("http://" + kwokAddr + "/healthz"),
		command: exec.Command{
			Path:    kwokPath,
			Args:    kwok.Args(h.kubeconfigFor("kwok"), h.kwokConfigPath(), s.Ports.Kwok, PodCIDR, kwokExtra...),
			LogPath: h.logPath("kwok"),
		},
	}
	metricsAddr := fmt.Sprintf("%s:%d", loopback, s.Ports.Metrics)
	metrics := component{
		name:    components.Metrics,
		healthy: dialCheck("tcp", metricsAddr),
		command: h.nestCommand(components.Metrics, components.Metrics,
			"--kubeconfig="+h.kubeconfigFor(components.Metrics),
			"--bind-address="+loopback,
			"--port="+strconv.Itoa(s.Ports.Metrics),
			"--requestheader-client-ca-file="+b.FrontProxyCACert(),
		),
	}
	return []component{datastore, apiserver, controllerManager, scheduler, simulator, metrics}
}

func (h *Host) kwokConfigPath() string { return filepath.Join(h.dir, "kwok.yaml") }

// nestCommand runs `nest component NAME ARGS...` for the host component c.
func (h *Host) nestCommand(c, name string, args ...string) exec.Command {
	return exec.Command{
		Path:    h.nestPath,
		Args:    append([]string{"component", name}, args...),
		LogPath: h.logPath(c),
	}
}

func dialCheck(network, address string) func(context.Context) error {
	return func(ctx context.Context) error {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, network, address)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

func httpCheck(url string) func(context.Context) error {
	return httpGetCheck(&http.Client{Timeout: 2 * time.Second}, url)
}

// httpsCheck probes a component's loopback health endpoint. The component
// serves with a self-signed cert that it made itself, and /healthz carries no
// secret, so the probe does not verify it.
func httpsCheck(url string) func(context.Context) error {
	return httpGetCheck(&http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback health probe
	}, url)
}

func httpGetCheck(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", url, resp.Status)
		}
		return nil
	}
}
