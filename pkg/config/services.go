package config

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceMappings carry services across the boundary between a virtual
// cluster and its host, one name at a time (sync.serviceMappings).
type ServiceMappings struct {
	// FromHost shows host services in the virtual cluster: From is
	// "hostNamespace/name", To is "virtualNamespace/name". The host
	// namespace may be another than the cluster's own: the cluster is then
	// granted read access to exactly those services (and their endpoints).
	FromHost []ServiceMapping `json:"fromHost,omitempty"`
	// ToHost exposes virtual services on the host: From is
	// "virtualNamespace/name", To a service name in the cluster's host
	// namespace.
	ToHost []ServiceMapping `json:"toHost,omitempty"`
}

// ServiceMapping maps one service to another name.
type ServiceMapping struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// SplitServiceRef splits "namespace/name".
func SplitServiceRef(ref string) (namespace, name string, ok bool) {
	namespace, name, ok = strings.Cut(ref, "/")
	return namespace, name, ok && namespace != "" && name != ""
}

func validateServiceMappings(m ServiceMappings, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	fromPath := path.Child("fromHost")
	targets := sets.New[string]()
	for i, mapping := range m.FromHost {
		errs = append(errs, validateServiceRef(mapping.From, fromPath.Index(i).Child("from"))...)
		toPath := fromPath.Index(i).Child("to")
		errs = append(errs, validateServiceRef(mapping.To, toPath)...)
		if targets.Has(mapping.To) {
			errs = append(errs, field.Duplicate(toPath, mapping.To))
		}
		targets.Insert(mapping.To)
	}
	toPath := path.Child("toHost")
	hostNames := sets.New[string]()
	for i, mapping := range m.ToHost {
		errs = append(errs, validateServiceRef(mapping.From, toPath.Index(i).Child("from"))...)
		namePath := toPath.Index(i).Child("to")
		switch {
		case mapping.To == "":
			errs = append(errs, field.Required(namePath, "a service name in the cluster's host namespace"))
		case strings.Contains(mapping.To, "/"):
			errs = append(errs, field.Invalid(namePath, mapping.To, "must be a service name only: it lives in the cluster's host namespace"))
		default:
			for _, msg := range validation.IsDNS1035Label(mapping.To) {
				errs = append(errs, field.Invalid(namePath, mapping.To, msg))
			}
		}
		if hostNames.Has(mapping.To) {
			errs = append(errs, field.Duplicate(namePath, mapping.To))
		}
		hostNames.Insert(mapping.To)
	}
	return errs
}

// validateServiceRef checks "namespace/name" of a service.
func validateServiceRef(ref string, path *field.Path) field.ErrorList {
	if ref == "" {
		return field.ErrorList{field.Required(path, `"namespace/name" of a service`)}
	}
	ns, name, ok := SplitServiceRef(ref)
	if !ok || strings.Contains(name, "/") {
		return field.ErrorList{field.Invalid(path, ref, `must be "namespace/name" of a service`)}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(ns) {
		errs = append(errs, field.Invalid(path, ref, "namespace: "+msg))
	}
	for _, msg := range validation.IsDNS1035Label(name) {
		errs = append(errs, field.Invalid(path, ref, "name: "+msg))
	}
	return errs
}
