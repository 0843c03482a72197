package kubeconfig

import (
	"fmt"
	"os"
)

// CertFiles locate a client identity on disk.
type CertFiles struct {
	CA, Cert, Key string
}

// WriteForCert writes to path a self-contained kubeconfig (the PEM data
// embedded) for the client certificate in files, talking to server.
func WriteForCert(path, contextName, userName, server string, files CertFiles) error {
	var data [3][]byte
	for i, p := range []string{files.CA, files.Cert, files.Key} {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("kubeconfig %s: %w", path, err)
		}
		data[i] = b
	}
	cfg := Build(Params{
		ContextName: contextName, UserName: userName, Server: server,
		CAData: data[0], ClientCertData: data[1], ClientKeyData: data[2],
	})
	if err := Write(path, cfg); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// WriteForCertFiles writes to path a kubeconfig that refers to the files
// instead of embedding them, so that long-running clients (client-go
// reloads referenced client certificates) pick up renewed certificates.
func WriteForCertFiles(path, contextName, userName, server string, files CertFiles) error {
	cfg := Build(Params{ContextName: contextName, UserName: userName, Server: server})
	for _, c := range cfg.Clusters {
		c.CertificateAuthority = files.CA
	}
	for _, u := range cfg.AuthInfos {
		u.ClientCertificate, u.ClientKey = files.Cert, files.Key
	}
	if err := Write(path, cfg); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}
