// Package server runs the hub: it opens and migrates the store, keeps the
// built-in roles, bootstraps the first admin, serves the API over TLS and
// shuts down gracefully. `nest hub serve` only turns flags into a Config.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/secrets"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/ui"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/pki"
)

// DefaultAddr is where the hub listens by default: loopback only.
const DefaultAddr = "127.0.0.1:8443"

// BootstrapKeyEnv names the environment variable the CLI reads a bootstrap
// admin key from.
const BootstrapKeyEnv = "NEST_HUB_BOOTSTRAP_KEY"

// Config configures a hub server.
type Config struct {
	// Addr is the listen address (default DefaultAddr).
	Addr string
	// DataDir holds the default SQLite database and the generated TLS
	// certificate (the CLI uses $NEST_HOME/hub).
	DataDir string
	// Database is "sqlite:PATH" or "postgres://..." (default
	// sqlite:DataDir/hub.db).
	Database string
	// TLSCert and TLSKey are the serving certificate and key; when both are
	// empty a self-signed pair is kept in DataDir/tls.
	TLSCert, TLSKey string
	// BootstrapKey, or the content of BootstrapKeyFile, becomes the first
	// admin's API key on an empty store instead of a generated one.
	BootstrapKey     string
	BootstrapKeyFile string
	// KeyOut receives the one-time admin key of a first start (never the
	// log). Nil discards it.
	KeyOut io.Writer
	Logger *slog.Logger
	// Ready, when set, is called with the listening address.
	Ready func(addr string)
	// ShutdownTimeout bounds the graceful shutdown (default 15s).
	ShutdownTimeout time.Duration
	// EncryptionKeyFile, or EncryptionKey (the CLI passes
	// $NEST_HUB_ENCRYPTION_KEY), holds the key host credentials are
	// encrypted with; without either, one is generated once into
	// DataDir/encryption.key.
	EncryptionKeyFile string
	EncryptionKey     string
	// NoReconciler serves the API without driving virtual clusters (a
	// second replica, or tests of the API alone).
	NoReconciler bool
	// Reconciler tunes the reconciler; its Store, Secrets, DataDir and
	// Logger are the server's.
	Reconciler reconciler.Config
	// MaxInFlight bounds the API requests served at once (default
	// api.DefaultMaxInFlight).
	MaxInFlight int
}

func (c *Config) validate() error {
	if c.DataDir == "" {
		return errors.New("hub server: DataDir is required")
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT: %w", c.Addr, err)
	}
	if c.Database == "" {
		c.Database = "sqlite:" + filepath.Join(c.DataDir, "hub.db")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if c.BootstrapKey != "" && c.BootstrapKeyFile != "" {
		return fmt.Errorf("give the bootstrap key in %s or in --bootstrap-key-file, not both", BootstrapKeyEnv)
	}
	if c.KeyOut == nil {
		c.KeyOut = io.Discard
	}
	if c.Logger == nil {
		c.Logger = nestlog.Discard()
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	return nil
}

// bootstrapKey returns the configured bootstrap key, checked, or "".
func (c *Config) bootstrapKey() (string, error) {
	key, source := c.BootstrapKey, BootstrapKeyEnv
	if c.BootstrapKeyFile != "" {
		data, err := os.ReadFile(c.BootstrapKeyFile)
		if err != nil {
			return "", fmt.Errorf("read --bootstrap-key-file: %w", err)
		}
		key, source = strings.TrimSpace(string(data)), c.BootstrapKeyFile
	}
	if key == "" {
		return "", nil
	}
	if _, _, err := auth.SplitKey(key); err != nil {
		return "", fmt.Errorf("bootstrap key from %s: %w", source, err)
	}
	return key, nil
}

// Run serves the hub until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := cfg.Logger
	bootstrapKey, err := cfg.bootstrapKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create hub data directory: %w", err)
	}
	s, err := openStore(ctx, cfg.Database, log)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := auth.EnsureBuiltinRoles(ctx, s); err != nil {
		return err
	}
	key, err := auth.Bootstrap(ctx, s, bootstrapKey)
	if err != nil {
		return err
	}
	switch {
	case key != "" && bootstrapKey != "":
		log.Info("Created the admin user with the given bootstrap key", "user", auth.AdminUser)
	case key != "":
		log.Info("Created the admin user; its API key is shown once, below", "user", auth.AdminUser)
		fmt.Fprintf(cfg.KeyOut, "\nAdmin API key (shown only this once; store it now):\n\n  %s\n\nSend it as the header \"Authorization: Bearer KEY\".\n\n", key)
	case bootstrapKey != "":
		log.Warn("The hub already has users: the bootstrap key is ignored")
	}

	tlsCert, tlsKey := cfg.TLSCert, cfg.TLSKey
	if tlsCert == "" {
		tlsCert, tlsKey = filepath.Join(cfg.DataDir, "tls", "hub.crt"), filepath.Join(cfg.DataDir, "tls", "hub.key")
		ips, names := servingSANs(cfg.Addr)
		changed, err := pki.EnsureSelfSigned(tlsCert, tlsKey, "nest-hub", ips, names)
		if err != nil {
			return fmt.Errorf("self-signed TLS certificate: %w", err)
		}
		if changed {
			log.Info("Wrote a self-signed TLS certificate", "cert", tlsCert)
		}
	}
	pair, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
	if err != nil {
		return fmt.Errorf("load TLS certificate: %w", err)
	}

	encKey, source, keyPath, err := secrets.LoadKey(cfg.EncryptionKeyFile, cfg.EncryptionKey, cfg.DataDir)
	if err != nil {
		return err
	}
	switch source {
	case secrets.FromGenerated:
		log.Warn("Generated the key that encrypts host credentials; back it up: without it they cannot be read", "file", keyPath)
	default:
		log.Info("Host credentials are encrypted with the key from "+string(source), "source", keyPath)
	}
	box, err := secrets.New(encKey)
	if err != nil {
		return err
	}
	apiCfg := api.Config{Store: s, Logger: log, Secrets: box, MaxInFlight: cfg.MaxInFlight}
	var rec *reconciler.Reconciler
	if !cfg.NoReconciler {
		rc := cfg.Reconciler
		rc.Store, rc.Secrets, rc.DataDir, rc.Logger = s, box, cfg.DataDir, log
		if rec, err = reconciler.New(rc); err != nil {
			return err
		}
		apiCfg.Fleet = rec
	}
	a, err := api.New(apiCfg)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           ui.Handler(a.Handler()),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests keep running when ctx ends: Shutdown lets them finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	srv.RegisterOnShutdown(a.StopStreams)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	addr := ln.Addr().String()
	log.Info("Hub is serving", "addr", "https://"+addr, "database", store.RedactURL(cfg.Database), "cert", tlsCert)
	if cfg.Ready != nil {
		cfg.Ready(addr)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	pruneCtx, stopPrune := context.WithCancel(ctx)
	pruned := make(chan struct{})
	go func() { defer close(pruned); pruneIdempotency(pruneCtx, s, log) }()
	defer func() { stopPrune(); <-pruned }() // before the store closes
	if rec != nil {
		// The reconciler stops with the hub (before the store closes); the
		// virtual clusters' processes keep running.
		recCtx, stopRec := context.WithCancel(ctx)
		recDone := make(chan struct{})
		go func() { defer close(recDone); _ = rec.Run(recCtx) }()
		defer func() { stopRec(); <-recDone }()
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	log.Info("Hub is shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	log.Info("Hub stopped")
	return nil
}

// IdempotencyTTL is how long the result of a create made with an
// Idempotency-Key is replayed to a retry.
const IdempotencyTTL = 24 * time.Hour

// pruneIdempotency forgets idempotency records past IdempotencyTTL, hourly,
// until ctx is done.
func pruneIdempotency(ctx context.Context, s *store.Store, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := s.PruneIdempotency(ctx, time.Now().Add(-IdempotencyTTL)); err != nil {
			if ctx.Err() == nil {
				log.Warn("Could not prune idempotency records", "err", err)
			}
		} else if n > 0 {
			log.Debug("Pruned idempotency records", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func openStore(ctx context.Context, url string, log *slog.Logger) (*store.Store, error) {
	s, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate the hub store: %w", err)
	}
	if len(applied) > 0 {
		log.Info("Migrated the hub store", "dialect", s.Dialect(), "versions", applied)
	}
	return s, nil
}

// servingSANs are the names of a self-signed certificate: loopback, this
// host's name and the listen host when it is a specific one.
func servingSANs(addr string) ([]net.IP, []string) {
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsUnspecified() && !ip.IsLoopback() {
			ips = append(ips, ip)
		}
	} else if host != "" && host != "localhost" {
		names = append(names, host)
	}
	return ips, names
}
