// Package serve implements `nest hub serve`.
package serve

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/secrets"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/nesthome"
)

type flags struct {
	addr, database, dataDir string
	tlsCert, tlsKey         string
	bootstrapKeyFile        string
	encryptionKeyFile       string
	noReconciler            bool
	workers                 int
	resync, healthInterval  time.Duration
	maxInFlight             int
}

// NewCommand returns `nest hub serve`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &flags{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the hub's API over HTTPS until interrupted",
		Long: `Serve the hub's API over HTTPS until SIGINT or SIGTERM, then shut down
gracefully. The store is migrated on start. Without --tls-cert/--tls-key a
self-signed certificate is kept in the data directory (hub/tls/hub.crt under
$NEST_HOME by default): give it to clients, e.g. curl --cacert.

On the first start (no users in the store) the hub creates the user "admin"
bound to the hub-admin role and prints its API key to stderr, once. To choose
that key instead, put it in $` + server.BootstrapKeyEnv + ` or in a file named by
--bootstrap-key-file (nest_ and at least 43 base64url characters); only its
hash is stored.

Host cluster kubeconfigs are stored encrypted (AES-256-GCM) with a 32-byte
key from --encryption-key-file or $` + secrets.KeyEnv + ` (64 hex digits or
base64); without either, one is generated once into DATA_DIR/encryption.key
(mode 0600): back it up with the database.

The reconciler drives the virtual clusters towards the store: each runs as a
` + "`nest controlplane`" + ` process on this machine (state in DATA_DIR/nest), talking to
its host cluster; stopping the hub leaves them running.`,
		Example: `  # Serve on 127.0.0.1:8443 with SQLite in $NEST_HOME/hub/hub.db
  nest hub serve

  # Serve on all interfaces with a shared Postgres database and your certificate
  nest hub serve --addr 0.0.0.0:8443 --database postgres://hub@db:5432/hub \
    --tls-cert hub.crt --tls-key hub.key

  # Then, with the printed key
  curl --cacert ~/.nest/hub/tls/hub.crt -H "Authorization: Bearer $KEY" https://127.0.0.1:8443/api/v1/whoami`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.dataDir == "" {
				home, err := nesthome.OpenDefault()
				if err != nil {
					return err
				}
				f.dataDir = home.HubDir()
			}
			return server.Run(c.Context(), server.Config{
				Addr:              f.addr,
				DataDir:           f.dataDir,
				Database:          f.database,
				TLSCert:           f.tlsCert,
				TLSKey:            f.tlsKey,
				BootstrapKey:      os.Getenv(server.BootstrapKeyEnv),
				BootstrapKeyFile:  f.bootstrapKeyFile,
				KeyOut:            streams.ErrOut,
				Logger:            globals.Logger(streams),
				EncryptionKeyFile: f.encryptionKeyFile,
				EncryptionKey:     os.Getenv(secrets.KeyEnv),
				NoReconciler:      f.noReconciler,
				MaxInFlight:       f.maxInFlight,
				Reconciler:        reconciler.Config{Workers: f.workers, Resync: f.resync, HealthInterval: f.healthInterval},
			})
		},
	}
	c.Flags().StringVar(&f.addr, "addr", server.DefaultAddr, "address to listen on (HOST:PORT)")
	c.Flags().StringVar(&f.database, "database", "", "store: sqlite:PATH or postgres://USER@HOST/DB (default sqlite:DATA_DIR/hub.db)")
	c.Flags().StringVar(&f.dataDir, "data-dir", "", "directory of the default database and TLS certificate (default $NEST_HOME/hub)")
	c.Flags().StringVar(&f.tlsCert, "tls-cert", "", "TLS serving certificate (PEM); with --tls-key, replaces the self-signed one")
	c.Flags().StringVar(&f.tlsKey, "tls-key", "", "TLS private key (PEM) of --tls-cert")
	c.Flags().StringVar(&f.bootstrapKeyFile, "bootstrap-key-file", "", "file holding the first admin's API key (used only on an empty store)")
	c.Flags().StringVar(&f.encryptionKeyFile, "encryption-key-file", "", "file holding the 32-byte key that encrypts host credentials (default: $"+secrets.KeyEnv+", else generated into DATA_DIR/encryption.key)")
	c.Flags().BoolVar(&f.noReconciler, "no-reconciler", false, "serve the API only: do not drive virtual clusters nor check host clusters")
	c.Flags().IntVar(&f.workers, "reconcile-workers", 4, "virtual clusters reconciled at once")
	c.Flags().DurationVar(&f.resync, "resync-interval", 30*time.Second, "how often every virtual cluster is reconciled again")
	c.Flags().IntVar(&f.maxInFlight, "max-inflight", api.DefaultMaxInFlight, "API requests served at once; the others wait in arrival order")
	c.Flags().DurationVar(&f.healthInterval, "health-interval", 30*time.Second, "how often every host cluster's health and capacity is checked")
	return c
}
