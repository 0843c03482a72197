package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		endpoint string
		want     Endpoint
		wantErr  string // substring; empty means success
	}{
		{name: "empty is embedded sqlite", endpoint: "", want: Endpoint{Kind: DatastoreSQLite}},
		{
			name: "sqlite file", endpoint: "sqlite:///var/lib/nest/state.db?_journal=WAL",
			want: Endpoint{Kind: DatastoreSQLite, SQLitePath: "/var/lib/nest/state.db", URL: "sqlite:///var/lib/nest/state.db?_journal=WAL"},
		},
		{name: "sqlite relative path", endpoint: "sqlite://state.db", wantErr: "must be absolute"},
		{name: "sqlite directory", endpoint: "sqlite:///var/lib/nest/", wantErr: "not a directory"},
		{
			name: "etcd servers", endpoint: "etcd://etcd-0:2379,etcd-1",
			want: Endpoint{Kind: DatastoreEtcd, EtcdServers: []string{"http://etcd-0:2379", "http://etcd-1:2379"}, URL: "etcd://etcd-0:2379,etcd-1"},
		},
		{
			name: "etcd over TLS", endpoint: "https://10.0.0.1:2379,https://[fd00::1]:2380",
			want: Endpoint{Kind: DatastoreEtcd, EtcdServers: []string{"https://10.0.0.1:2379", "https://[fd00::1]:2380"}, URL: "https://10.0.0.1:2379,https://[fd00::1]:2380"},
		},
		{name: "etcd mixed schemes", endpoint: "https://a:2379,http://b:2379", wantErr: `server 2: scheme "http" differs`},
		{name: "etcd missing host", endpoint: "etcd://:2379", wantErr: "server 1: missing host"},
		{name: "etcd empty server", endpoint: "etcd://a:2379,", wantErr: "server 2: missing host"},
		{name: "etcd bad port", endpoint: "etcd://a:99999", wantErr: `invalid port "99999"`},
		{name: "etcd with path", endpoint: "https://a:2379/v3", wantErr: "want only scheme://host:port"},
		{
			name: "postgres", endpoint: "postgres://nest:pw@db.example.com:5432/nest?sslmode=require",
			want: Endpoint{Kind: DatastorePostgres, URL: "postgres://nest:pw@db.example.com:5432/nest?sslmode=require"},
		},
		{name: "postgresql scheme", endpoint: "postgresql://db/nest", want: Endpoint{Kind: DatastorePostgres, URL: "postgresql://db/nest"}},
		{name: "postgres missing host", endpoint: "postgres:///nest", wantErr: "missing the host"},
		{name: "postgres bad URL keeps the password out", endpoint: "postgres://u:secret@db:port/x", wantErr: "invalid port"},
		{name: "missing scheme", endpoint: "localhost:2379", wantErr: "missing scheme"},
		{name: "unsupported scheme", endpoint: "mysql://db/nest", wantErr: `unsupported scheme "mysql"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEndpoint(tt.endpoint)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseEndpoint(%q) error = %v, want it to contain %q", tt.endpoint, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q leaks the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEndpoint(%q) error = %v", tt.endpoint, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseEndpoint(%q) = %+v, want %+v", tt.endpoint, got, tt.want)
			}
		})
	}
}
