package controlplane

import "path/filepath"

// Layout names the files of one virtual cluster's state directory. The
// lifecycle package writes some of them before the control plane starts.
type Layout struct{ Dir string }

func (l Layout) PKIDir() string          { return filepath.Join(l.Dir, "pki") }
func (l Layout) DataDir() string         { return filepath.Join(l.Dir, "data") }
func (l Layout) SQLitePath() string      { return filepath.Join(l.DataDir(), "state.db") }
func (l Layout) RunDir() string          { return filepath.Join(l.Dir, "run") }
func (l Layout) KineSocket() string      { return filepath.Join(l.RunDir(), "kine.sock") }
func (l Layout) PIDPath() string         { return filepath.Join(l.RunDir(), "controlplane.pid") }
func (l Layout) LogPath() string         { return filepath.Join(l.Dir, "controlplane.log") }
func (l Layout) ConfigPath() string      { return filepath.Join(l.Dir, "nest.yaml") }
func (l Layout) AdminKubeconfig() string { return filepath.Join(l.Dir, "kubeconfig") }

// LocalAdminKubeconfig is the admin identity of the control plane's own
// clients (hooks such as the syncer); it refers to the certificate files
// instead of embedding them, so those clients follow renewals.
func (l Layout) LocalAdminKubeconfig() string { return filepath.Join(l.RunDir(), "admin.kubeconfig") }

// ControllerManagerKubeconfig is the kube-controller-manager's own identity.
func (l Layout) ControllerManagerKubeconfig() string {
	return filepath.Join(l.Dir, "kube-controller-manager.kubeconfig")
}

// SchedulerKubeconfig is the virtual scheduler's own identity
// (system:kube-scheduler), written only when controlPlane.scheduler is on.
func (l Layout) SchedulerKubeconfig() string {
	return filepath.Join(l.RunDir(), "kube-scheduler.kubeconfig")
}

// HostKubeconfig holds the virtual cluster's own, namespace-scoped
// credentials for the host (see pkg/hostaccess).
func (l Layout) HostKubeconfig() string { return filepath.Join(l.Dir, "host.kubeconfig") }

// PausedPath marks a paused cluster: `nest pause` writes it before it stops
// the control plane and removes the host pods; the syncer removes it once
// it has put every pod back on the host after the resume.
func (l Layout) PausedPath() string { return filepath.Join(l.Dir, "paused") }
