package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nestcluster/nest/pkg/hub/client"
)

// LoginFile is the name of the login in the Nest home.
const LoginFile = "hub.json"

// ErrNotLoggedIn is returned by LoadLogin when there is no login.
var ErrNotLoggedIn = errors.New("not logged in to a hub (run: nest login HUB_URL)")

// Login is what `nest login` keeps in $NEST_HOME/hub.json (mode 0600):
// where the hub is, how to trust it, the API key as given (like a
// kubeconfig's token, it is a secret: anyone who reads the file is the
// user) and the default tenant and project of the lifecycle verbs.
type Login struct {
	URL string `json:"url"`
	// APIKey is the key as given to `nest login`.
	APIKey string `json:"apiKey"`
	// CACert is the PEM of the CA pinned at login (--ca-file), trusted
	// besides the system's; Insecure skips verification (--insecure).
	CACert   string `json:"caCert,omitempty"`
	Insecure bool   `json:"insecure,omitempty"`
	// User and KeyID are who the hub said the key is, at login.
	User  string `json:"user"`
	KeyID string `json:"keyId"`
	// ExpiresAt is when a key made by a password login expires.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Tenant and Project are the defaults of the lifecycle verbs, as ids
	// (TenantName and ProjectName are for display).
	TenantID    string    `json:"tenantId,omitempty"`
	TenantName  string    `json:"tenantName,omitempty"`
	ProjectID   string    `json:"projectId,omitempty"`
	ProjectName string    `json:"projectName,omitempty"`
	LoggedIn    time.Time `json:"loggedIn"`
}

// Client returns a hub client for the login.
func (l *Login) Client() (*client.Client, error) {
	return client.New(client.Config{URL: l.URL, APIKey: l.APIKey, CACert: []byte(l.CACert), Insecure: l.Insecure, UserAgent: "nest-cli"})
}

func (l *Login) validate() error {
	switch {
	case l.URL == "":
		return errors.New("the login has no hub URL")
	case l.APIKey == "":
		return errors.New("the login has no API key")
	}
	return nil
}

// LoginPath is the login file in the Nest home dir.
func LoginPath(homeDir string) string { return filepath.Join(homeDir, LoginFile) }

// LoadLogin reads the login of the Nest home dir; ErrNotLoggedIn when
// there is none.
func LoadLogin(homeDir string) (*Login, error) {
	path := LoginPath(homeDir)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotLoggedIn
	}
	if err != nil {
		return nil, fmt.Errorf("read the hub login: %w", err)
	}
	var l Login
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): run nest logout, then nest login", path, err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w: run nest logout, then nest login", path, err)
	}
	return &l, nil
}

// SaveLogin writes the login into the Nest home dir, readable only by
// its owner; it replaces any previous login at once.
func SaveLogin(homeDir string, l *Login) error {
	if err := l.validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(homeDir, ".hub-*.json")
	if err != nil {
		return fmt.Errorf("save the hub login: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save the hub login: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save the hub login: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save the hub login: %w", err)
	}
	if err := os.Rename(tmp.Name(), LoginPath(homeDir)); err != nil {
		return fmt.Errorf("save the hub login: %w", err)
	}
	return nil
}

// RemoveLogin deletes the login; it reports whether there was one.
func RemoveLogin(homeDir string) (bool, error) {
	err := os.Remove(LoginPath(homeDir))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove the hub login: %w", err)
	}
	return true, nil
}
