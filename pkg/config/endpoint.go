package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// DatastoreKind is the kind of database behind a datastore endpoint.
type DatastoreKind string

// Datastore kinds, as returned by ParseEndpoint.
const (
	DatastoreSQLite   DatastoreKind = "sqlite"
	DatastoreEtcd     DatastoreKind = "etcd"
	DatastorePostgres DatastoreKind = "postgres"
)

// defaultEtcdPort is filled in when an etcd server omits its port.
const defaultEtcdPort = "2379"

// Endpoint is a parsed datastore.endpoint.
type Endpoint struct {
	Kind DatastoreKind
	// SQLitePath is the database file; "" means the embedded default location.
	SQLitePath string
	// EtcdServers are client URLs with scheme and port ("https://host:2379").
	EtcdServers []string
	// URL is the endpoint as written, for backends that take it whole (postgres, sqlite options).
	URL string
}

// supportedSchemes is listed in error messages.
const supportedSchemes = "sqlite, etcd, http, https, postgres, postgresql"

// ParseEndpoint parses a datastore endpoint:
//
//	""                                  embedded SQLite
//	sqlite:///abs/path.db[?options]     SQLite file at an absolute path
//	etcd://host:port[,host:port]        etcd over plain HTTP
//	https://host:port[,host:port]       etcd over TLS (http:// also accepted)
//	postgres://user:pass@host[:port]/db[?options]
func ParseEndpoint(endpoint string) (Endpoint, error) {
	if endpoint == "" {
		return Endpoint{Kind: DatastoreSQLite}, nil
	}
	scheme, _, ok := strings.Cut(endpoint, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("missing scheme, want one of %s", supportedSchemes)
	}
	switch scheme {
	case "sqlite":
		return parseSQLite(endpoint)
	case "etcd", "http", "https":
		return parseEtcd(endpoint)
	case "postgres", "postgresql":
		return parsePostgres(endpoint)
	default:
		return Endpoint{}, fmt.Errorf("unsupported scheme %q, want one of %s", scheme, supportedSchemes)
	}
}

func parseSQLite(endpoint string) (Endpoint, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return Endpoint{}, fmt.Errorf("parse sqlite URL: %w", redactURLError(err))
	}
	if u.Host != "" || u.User != nil || !path.IsAbs(u.Path) {
		return Endpoint{}, errors.New("sqlite path must be absolute, as in sqlite:///var/lib/nest/state.db")
	}
	if strings.HasSuffix(u.Path, "/") {
		return Endpoint{}, errors.New("sqlite path must name a file, not a directory")
	}
	return Endpoint{Kind: DatastoreSQLite, SQLitePath: u.Path, URL: endpoint}, nil
}

// parseEtcd accepts a comma-separated server list; servers after the first
// may omit the scheme and inherit it, but may not use a different one.
func parseEtcd(endpoint string) (Endpoint, error) {
	scheme, _, _ := strings.Cut(endpoint, "://")
	clientScheme := scheme
	if scheme == "etcd" {
		clientScheme = "http"
	}
	var servers []string
	for i, server := range strings.Split(endpoint, ",") {
		if !strings.Contains(server, "://") {
			server = scheme + "://" + server
		}
		u, err := url.Parse(server)
		if err != nil {
			return Endpoint{}, fmt.Errorf("etcd server %d: %w", i+1, redactURLError(err))
		}
		if u.Scheme != scheme {
			return Endpoint{}, fmt.Errorf("etcd server %d: scheme %q differs from %q", i+1, u.Scheme, scheme)
		}
		if u.Hostname() == "" {
			return Endpoint{}, fmt.Errorf("etcd server %d: missing host", i+1)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return Endpoint{}, fmt.Errorf("etcd server %d: want only scheme://host:port", i+1)
		}
		port := u.Port()
		if port == "" {
			port = defaultEtcdPort
		} else if err := validatePort(port); err != nil {
			return Endpoint{}, fmt.Errorf("etcd server %d: %w", i+1, err)
		}
		servers = append(servers, clientScheme+"://"+net.JoinHostPort(u.Hostname(), port))
	}
	return Endpoint{Kind: DatastoreEtcd, EtcdServers: servers, URL: endpoint}, nil
}

func parsePostgres(endpoint string) (Endpoint, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return Endpoint{}, fmt.Errorf("parse postgres URL: %w", redactURLError(err))
	}
	if u.Hostname() == "" {
		return Endpoint{}, errors.New("postgres URL is missing the host")
	}
	if port := u.Port(); port != "" {
		if err := validatePort(port); err != nil {
			return Endpoint{}, err
		}
	}
	return Endpoint{Kind: DatastorePostgres, URL: endpoint}, nil
}

func validatePort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	return nil
}

// redactURLError drops the URL from a url.Error: it may hold a password.
func redactURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

// redactEndpoint hides a password before the endpoint is shown in an error.
func redactEndpoint(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Redacted()
	}
	if strings.Contains(endpoint, "@") {
		return "<redacted>"
	}
	return endpoint
}

// EtcdPrefix is the key prefix of virtual cluster name in an external etcd,
// so that several virtual clusters can share one etcd.
func EtcdPrefix(name string) string { return "/nest/" + name + "/registry" }
