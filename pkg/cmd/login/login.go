// Package login implements `nest login`.
package login

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/fleet"
	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/nesthome"
)

type flags struct {
	keyFile  string
	keyStdin bool
	user     string
	pwStdin  bool
	caFile   string
	insecure bool
	tenant   string
	project  string
	status   bool
}

// NewCommand returns `nest login`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &flags{}
	c := &cobra.Command{
		Use:   "login HUB_URL",
		Short: "Log in to a Nest hub, so that the lifecycle verbs act on it",
		Long: `Log in to a Nest hub with an API key, or with a user name and password
that the hub exchanges for a new API key valid 12 hours (named
login-HOST-TIME). The key is checked with the hub (/whoami), then kept, as
given, with the hub's URL and the pinned CA in $NEST_HOME/hub.json (mode
0600). Like a kubeconfig's token, whoever can read that file acts as you:
` + "`nest logout`" + ` removes it (the key stays valid on the hub until it
expires or is revoked).

While logged in, create, list, connect, pause, resume and delete act on the
hub, in the tenant and project given here (or by --tenant/--project on each
verb); --local on a verb uses the local runtime instead.`,
		Example: `  # The key from a file, the hub's self-signed certificate pinned
  nest login https://hub.example.com:8443 --api-key-file ~/hub.key --ca-file hub.crt --tenant acme --project web

  # The key on stdin
  pass show nest/hub | nest login https://hub.example.com --api-key-stdin

  # A user's password on stdin, exchanged for a 12-hour key
  pass show nest/alice | nest login https://hub.example.com --ca-file hub.crt --user alice --password-stdin

  # Who and where
  nest login --status`,
		Args: func(c *cobra.Command, args []string) error {
			if f.status {
				return cobra.NoArgs(c, args)
			}
			return cobra.ExactArgs(1)(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			home, err := nesthome.OpenDefault()
			if err != nil {
				return err
			}
			if f.status {
				return status(c, streams, home.Dir())
			}
			login, err := f.login(c.Context(), streams, args[0])
			if err != nil {
				return err
			}
			hc, err := login.Client()
			if err != nil {
				return err
			}
			who, err := hc.WhoAmI(c.Context())
			if err != nil {
				return fmt.Errorf("log in to %s: %w", login.URL, err)
			}
			login.User, login.KeyID, login.LoggedIn = who.User.Name, who.KeyID, time.Now().UTC()
			if f.tenant != "" {
				t, err := fleet.ResolveTenant(c.Context(), hc, f.tenant)
				if err != nil {
					return err
				}
				login.TenantID, login.TenantName = t.ID, t.Name
			}
			if f.project != "" {
				p, err := fleet.ResolveProject(c.Context(), hc, login.TenantID, f.project)
				if err != nil {
					return err
				}
				login.ProjectID, login.ProjectName = p.ID, p.Name
			}
			if err := fleet.SaveLogin(home.Dir(), login); err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Logged in to %s as %s.\n", login.URL, login.User)
			if login.ProjectID != "" {
				fmt.Fprintf(streams.Out, "create, list, connect, pause, resume and delete now act on project %s of tenant %s; --local uses the local runtime.\n",
					login.ProjectName, login.TenantName)
			} else {
				fmt.Fprintln(streams.Out, "Give the lifecycle verbs --tenant T --project P (or log in again with them); --local uses the local runtime.")
			}
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVar(&f.keyFile, "api-key-file", "", "file holding the API key")
	fs.BoolVar(&f.keyStdin, "api-key-stdin", false, "read the API key from stdin")
	fs.StringVar(&f.user, "user", "", "log in as this user with its password (--password-stdin), for a new key valid 12 hours")
	fs.BoolVar(&f.pwStdin, "password-stdin", false, "read the password of --user from stdin")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM of the CA (or self-signed certificate) of the hub, pinned in the login")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the hub's certificate (throwaway hubs only)")
	fs.StringVar(&f.tenant, "tenant", "", "default tenant of the lifecycle verbs, by name or id")
	fs.StringVar(&f.project, "project", "", "default project of the lifecycle verbs, by name or id (needs --tenant)")
	fs.BoolVar(&f.status, "status", false, "show the current login and check its key with the hub")
	c.MarkFlagsMutuallyExclusive("api-key-file", "api-key-stdin", "user")
	c.MarkFlagsRequiredTogether("user", "password-stdin")
	c.MarkFlagsMutuallyExclusive("ca-file", "insecure")
	c.MarkFlagsMutuallyExclusive("status", "api-key-file")
	c.MarkFlagsMutuallyExclusive("status", "api-key-stdin")
	return c
}

// readLine reads the first line of stdin, without its line end.
func readLine(streams cmd.IOStreams) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(streams.In, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// login builds the login from the flags; an API key is not checked yet,
// a password is exchanged for a key.
func (f *flags) login(ctx context.Context, streams cmd.IOStreams, url string) (*fleet.Login, error) {
	if f.project != "" && f.tenant == "" {
		return nil, errors.New("--project needs --tenant")
	}
	l := &fleet.Login{URL: strings.TrimRight(url, "/"), Insecure: f.insecure}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("read the CA: %w", err)
		}
		l.CACert = string(pem)
	}
	var key string
	switch {
	case f.user != "":
		pw, err := readLine(streams)
		if err != nil {
			return nil, fmt.Errorf("read the password from stdin: %w", err)
		}
		if pw == "" {
			return nil, errors.New("the password on stdin is empty")
		}
		host, _ := os.Hostname()
		created, err := client.Login(ctx, client.Config{URL: l.URL, CACert: []byte(l.CACert), Insecure: l.Insecure, UserAgent: "nest-cli"},
			api.LoginRequest{User: f.user, Password: pw, Host: host})
		if err != nil {
			return nil, fmt.Errorf("log in to %s as %s: %w", l.URL, f.user, err)
		}
		key, l.ExpiresAt = created.Key, created.ExpiresAt
	case f.keyFile != "":
		data, err := os.ReadFile(f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("read the API key: %w", err)
		}
		key = strings.TrimSpace(string(data))
	case f.keyStdin:
		line, err := readLine(streams)
		if err != nil {
			return nil, fmt.Errorf("read the API key from stdin: %w", err)
		}
		key = strings.TrimSpace(line)
	default:
		return nil, errors.New("give the API key with --api-key-file F or --api-key-stdin, or log in with --user U --password-stdin")
	}
	if key == "" {
		return nil, errors.New("the API key is empty")
	}
	l.APIKey = key
	return l, nil
}

func status(c *cobra.Command, streams cmd.IOStreams, dir string) error {
	login, err := fleet.LoadLogin(dir)
	if errors.Is(err, fleet.ErrNotLoggedIn) {
		fmt.Fprintln(streams.Out, "Not logged in to a hub: the lifecycle verbs use the local runtime.")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "Hub:      %s\nUser:     %s (key %s)\nSince:    %s\n", login.URL, login.User, login.KeyID, login.LoggedIn.Format(time.RFC3339))
	if !login.ExpiresAt.IsZero() {
		fmt.Fprintf(streams.Out, "Expires:  %s\n", login.ExpiresAt.Format(time.RFC3339))
	}
	if login.ProjectID != "" {
		fmt.Fprintf(streams.Out, "Project:  %s (tenant %s)\n", login.ProjectName, login.TenantName)
	} else if login.TenantID != "" {
		fmt.Fprintf(streams.Out, "Tenant:   %s (no default project)\n", login.TenantName)
	}
	trust := "system CAs"
	switch {
	case login.Insecure:
		trust = "not verified (--insecure)"
	case login.CACert != "":
		trust = "pinned CA"
	}
	fmt.Fprintf(streams.Out, "TLS:      %s\n", trust)
	hc, err := login.Client()
	if err != nil {
		return err
	}
	if _, err := hc.WhoAmI(c.Context()); err != nil {
		return fmt.Errorf("the hub refused the login: %w", err)
	}
	fmt.Fprintln(streams.Out, "Key:      valid")
	return nil
}
