package syncer

import (
	"maps"
	"slices"
	"strings"
)

// tenantAnnotations are the annotations of a tenant's object that its host
// copy carries: all but Nest's own (nest.dev/*) and those drop names.
func tenantAnnotations(a map[string]string, drop func(key string) bool) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		if !isNestKey(k) && !drop(k) {
			out[k] = v
		}
	}
	return out
}

// withTenantAnnotations returns a host copy's annotations h with the
// tenant's part replaced by want's: Nest's own and those drop names (which
// the host's controllers may write on the copy) are kept.
func withTenantAnnotations(h, want map[string]string, drop func(key string) bool) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if isNestKey(k) || drop(k) {
			out[k] = v
		}
	}
	maps.Copy(out, tenantAnnotations(want, drop))
	return out
}

// droppedStorageClassAnnotation names the annotations of a tenant's
// storage class its host copy never carries: the default-class ones (a
// tenant's default is never the host's).
func droppedStorageClassAnnotation(key string) bool {
	return slices.Contains(defaultClassAnnotations, key)
}

// droppedVolumeAnnotation names the annotations of a tenant's volume its
// host copy never carries: those of the host's volume controllers and
// provisioners (binding, the provisioner that may delete it, the secrets a
// provisioner reads to delete it, the legacy class annotation that would
// bypass the class's translation). The host's controllers write their own.
func droppedVolumeAnnotation(key string) bool {
	for _, prefix := range []string{"pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/"} {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}
