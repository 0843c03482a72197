// Package kubeconfig builds self-contained kubeconfigs for Nest clusters and
// merges them into (or removes them from) a user's kubeconfig file, keeping
// timestamped backups of every file it changes.
package kubeconfig

import (
	"bytes"
	"fmt"
	"github.com/nestcluster/nest/pkg/fsutil"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/homedir"
)

// Params describes one cluster/user/context triple.
type Params struct {
	ContextName string
	// ClusterName and UserName default to ContextName when empty.
	ClusterName string
	UserName    string
	Server      string
	// PEM data, embedded so the kubeconfig does not depend on other files.
	CAData         []byte
	ClientCertData []byte
	ClientKeyData  []byte
	// Token authenticates instead of a client certificate (a service account's).
	Token string
	// Namespace is the context's default namespace; empty means "default".
	Namespace string
}

// Build returns a kubeconfig with a single context, set as current.
func Build(p Params) *clientcmdapi.Config {
	clusterName, userName := p.ClusterName, p.UserName
	if clusterName == "" {
		clusterName = p.ContextName
	}
	if userName == "" {
		userName = p.ContextName
	}
	cfg := clientcmdapi.NewConfig()

	cluster := clientcmdapi.NewCluster()
	cluster.Server = p.Server
	cluster.CertificateAuthorityData = p.CAData
	cfg.Clusters[clusterName] = cluster

	user := clientcmdapi.NewAuthInfo()
	user.ClientCertificateData = p.ClientCertData
	user.ClientKeyData = p.ClientKeyData
	user.Token = p.Token
	cfg.AuthInfos[userName] = user

	ctx := clientcmdapi.NewContext()
	ctx.Cluster = clusterName
	ctx.AuthInfo = userName
	ctx.Namespace = p.Namespace
	cfg.Contexts[p.ContextName] = ctx

	cfg.CurrentContext = p.ContextName
	return cfg
}

// Write serializes cfg to path atomically with mode 0600, creating the
// parent directory (0700) if needed. A file that already holds exactly
// that, with mode 0600, is left as it is (a control plane's start writes
// its kubeconfigs again each time, and each atomic write syncs twice).
func Write(path string, cfg *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == 0o600 {
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create kubeconfig dir for %s: %w", path, err)
	}
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// DefaultPath is the file kubectl would write to: the first entry of
// $KUBECONFIG, else ~/.kube/config.
func DefaultPath() string {
	for _, p := range filepath.SplitList(os.Getenv(clientcmd.RecommendedConfigPathEnvVar)) {
		if p != "" {
			return p
		}
	}
	return filepath.Join(homedir.HomeDir(), clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)
}
