package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	clientcmdlatest "k8s.io/client-go/tools/clientcmd/api/latest"
	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"
)

// Merge adds the clusters, users and contexts of cfg to the kubeconfig at
// target, replacing entries with the same names and keeping all others, as
// `kubectl config set-*` would. With setCurrent, the target's
// current-context becomes cfg.CurrentContext.
//
// A missing target is created. An existing target is first copied to a
// backup next to it, whose path is returned ("" when no backup was needed:
// new file, or nothing to change); only the newest 5 Nest backups are kept.
// A target that does not parse as a kubeconfig, or that has fields this
// client-go does not know (they would be lost on rewrite), is an error and
// is left as is.
func Merge(target string, cfg *clientcmdapi.Config, setCurrent bool) (backupPath string, err error) {
	return merge(target, cfg, setCurrent, time.Now())
}

func merge(target string, cfg *clientcmdapi.Config, setCurrent bool, now time.Time) (string, error) {
	if setCurrent && cfg.CurrentContext == "" {
		return "", fmt.Errorf("merge into %s: setCurrent requested but the new kubeconfig has no current-context", target)
	}
	return update(target, now, func(existing *clientcmdapi.Config) {
		for name, c := range cfg.Clusters {
			existing.Clusters[name] = c
		}
		for name, u := range cfg.AuthInfos {
			existing.AuthInfos[name] = u
		}
		for name, c := range cfg.Contexts {
			existing.Contexts[name] = c
		}
		if setCurrent {
			existing.CurrentContext = cfg.CurrentContext
		}
	})
}

// Remove deletes the named context, cluster and user from target (an empty
// name skips that kind). Missing entries and a missing file are not errors.
// If current-context pointed at the removed context it is cleared. The same
// backup rule as Merge applies.
func Remove(target string, contextName, clusterName, userName string) error {
	return remove(target, contextName, clusterName, userName, time.Now())
}

func remove(target string, contextName, clusterName, userName string, now time.Time) error {
	if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	_, err := update(target, now, func(existing *clientcmdapi.Config) {
		if contextName != "" {
			delete(existing.Contexts, contextName)
			if existing.CurrentContext == contextName {
				existing.CurrentContext = ""
			}
		}
		if clusterName != "" {
			delete(existing.Clusters, clusterName)
		}
		if userName != "" {
			delete(existing.AuthInfos, userName)
		}
	})
	return err
}

// update loads target (empty config if missing), applies change, and writes
// the result back with a backup, unless the result is unchanged.
func update(target string, now time.Time, change func(*clientcmdapi.Config)) (string, error) {
	// Write through symlinks (e.g. a dotfiles-managed ~/.kube/config)
	// instead of replacing the link with a regular file.
	if resolved, err := filepath.EvalSymlinks(target); err == nil {
		target = resolved
	}
	original, err := os.ReadFile(target)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read kubeconfig %s: %w", target, err)
	}

	existing, err := load(target, original)
	if err != nil {
		return "", err
	}
	before, err := clientcmd.Write(*existing)
	if err != nil {
		return "", fmt.Errorf("encode kubeconfig %s: %w", target, err)
	}
	change(existing)
	after, err := clientcmd.Write(*existing)
	if err != nil {
		return "", fmt.Errorf("encode kubeconfig %s: %w", target, err)
	}
	if exists && bytes.Equal(before, after) {
		return "", nil
	}

	var backup string
	if exists {
		if backup, err = writeBackup(target, original, now); err != nil {
			return "", err
		}
	}
	if err := Write(target, existing); err != nil {
		return backup, err
	}
	// Pruning is housekeeping: the merge itself succeeded.
	if err := pruneBackups(target, keepBackups); err != nil {
		return backup, fmt.Errorf("merged into %s, but pruning old backups failed: %w", target, err)
	}
	return backup, nil
}

func load(path string, data []byte) (*clientcmdapi.Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return clientcmdapi.NewConfig(), nil
	}
	if err := checkStrict(data); err != nil {
		return nil, fmt.Errorf("%s is not a valid kubeconfig (%v): fix or move the file, it was left unchanged", path, err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid kubeconfig (%v): fix or move the file, it was left unchanged", path, err)
	}
	// Decoding leaves maps nil when a section is absent.
	if cfg.Clusters == nil {
		cfg.Clusters = map[string]*clientcmdapi.Cluster{}
	}
	if cfg.AuthInfos == nil {
		cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{}
	}
	if cfg.Contexts == nil {
		cfg.Contexts = map[string]*clientcmdapi.Context{}
	}
	return cfg, nil
}

// checkStrict rejects unknown or duplicate fields. clientcmd.Load ignores
// them, so a file that is not a kubeconfig at all ("foo: bar") would load as
// empty and be overwritten, and unknown fields would be silently dropped.
func checkStrict(data []byte) error {
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, clientcmdlatest.Scheme, clientcmdlatest.Scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	defaults := schema.GroupVersionKind{Version: clientcmdlatest.Version, Kind: "Config"}
	_, _, err := strict.Decode(data, &defaults, &clientcmdv1.Config{})
	return err
}
