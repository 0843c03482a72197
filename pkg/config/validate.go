package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// flagName matches kube-apiserver flag names as written without dashes.
var flagName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate reports every invalid value as one aggregate of field errors,
// e.g. `sync.toHost.foo: Unsupported value: "foo": supported values: ...`.
// Unset fields are valid: they mean the default.
func (c *Config) Validate() error {
	var errs field.ErrorList
	if c.APIVersion != "" && c.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), c.APIVersion, []string{APIVersion}))
	}
	if c.Kind != "" && c.Kind != Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), c.Kind, []string{Kind}))
	}
	if c.KubernetesVersion != "" && c.KubernetesVersion != SupportedKubernetesVersion {
		errs = append(errs, field.NotSupported(field.NewPath("kubernetesVersion"), c.KubernetesVersion, []string{SupportedKubernetesVersion}))
	}
	errs = append(errs, validateDatastore(c.Datastore, field.NewPath("datastore"))...)
	errs = append(errs, validateControlPlane(c.ControlPlane, field.NewPath("controlPlane"))...)
	errs = append(errs, validateSync(c.Sync, field.NewPath("sync"))...)
	if c.ControlPlane.Scheduler.Enabled && !c.Sync.ShowsAllHostNodes() {
		errs = append(errs, field.Invalid(field.NewPath("controlPlane", "scheduler", "enabled"), true,
			"needs sync.fromHost.nodes.enabled and sync.fromHost.nodes.all: true (the virtual scheduler binds pods only to the virtual nodes it sees)"))
	}
	errs = append(errs, validateIsolation(c.Isolation, field.NewPath("isolation"))...)
	return errs.ToAggregate()
}

func validateIsolation(i Isolation, path *field.Path) field.ErrorList {
	switch i.PodSecurity {
	case "", PodSecurityPrivileged, PodSecurityBaseline, PodSecurityRestricted:
		return nil
	}
	return field.ErrorList{field.NotSupported(path.Child("podSecurity"), i.PodSecurity,
		[]PodSecurityLevel{PodSecurityPrivileged, PodSecurityBaseline, PodSecurityRestricted})}
}

func validateDatastore(d Datastore, path *field.Path) field.ErrorList {
	if !isPrintable(d.Endpoint) {
		return field.ErrorList{field.Invalid(path.Child("endpoint"), "", notPrintable)}
	}
	if _, err := ParseEndpoint(d.Endpoint); err != nil {
		return field.ErrorList{field.Invalid(path.Child("endpoint"), redactEndpoint(d.Endpoint), err.Error())}
	}
	return nil
}

func validateControlPlane(cp ControlPlane, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	argsPath := path.Child("apiServer", "extraArgs")
	for _, key := range sets.List(sets.KeySet(cp.APIServer.ExtraArgs)) {
		if !flagName.MatchString(key) {
			errs = append(errs, field.Invalid(argsPath.Child(key), key,
				`must be a flag name without leading dashes, e.g. "audit-log-path"`))
		}
		if !isPrintable(cp.APIServer.ExtraArgs[key]) {
			errs = append(errs, field.Invalid(argsPath.Child(key), "", notPrintable))
		}
	}

	if v := cp.Certificates.Validity; v != "" {
		validityPath := path.Child("certificates", "validity")
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(validityPath, v, `must be a duration such as "8760h"`))
		case d < MinCertificateValidity || d > MaxCertificateValidity:
			errs = append(errs, field.Invalid(validityPath, v, fmt.Sprintf("must be between %s and %s", MinCertificateValidity, MaxCertificateValidity)))
		}
	}

	enabledPath := path.Child("controllers", "enabled")
	known := KnownControllers()
	seen := sets.New[string]()
	for i, entry := range cp.Controllers.Enabled {
		name := strings.TrimPrefix(entry, "-")
		switch {
		case entry == allControllers:
		case !slices.Contains(known, name):
			errs = append(errs, field.NotSupported(enabledPath.Index(i), entry, append([]string{allControllers}, known...)))
			continue
		}
		if seen.Has(name) {
			errs = append(errs, field.Duplicate(enabledPath.Index(i), entry))
		}
		seen.Insert(name)
	}
	return errs
}

func validateSync(s Sync, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	toHostPath := path.Child("toHost")
	for _, kind := range sets.List(sets.KeySet(s.ToHost)) {
		kindPath := toHostPath.Child(kind)
		if _, ok := findKind(toHostKinds, kind); !ok {
			errs = append(errs, field.NotSupported(kindPath, kind, ToHostKinds()))
			continue
		}
		errs = append(errs, validateSelector(s.ToHost[kind].Selector, kindPath.Child("selector"))...)
		if s.ToHostEnabled(kind) && s.FromHostEnabled(kind) {
			errs = append(errs, field.Invalid(kindPath.Child("enabled"), true,
				"cannot sync to the host while sync.fromHost."+kind+" is enabled"))
		}
	}

	// Endpoints and endpoint slices are copied for services that are.
	for _, kind := range []string{"endpoints", "endpointslices"} {
		if s.ToHostEnabled(kind) && !s.ToHostEnabled("services") {
			errs = append(errs, field.Invalid(toHostPath.Child(kind, "enabled"), true, "needs sync.toHost.services.enabled"))
		}
	}

	fromHostPath := path.Child("fromHost")
	for _, kind := range sets.List(sets.KeySet(s.FromHost)) {
		kindPath := fromHostPath.Child(kind)
		if _, ok := findKind(fromHostKinds, kind); !ok {
			errs = append(errs, field.NotSupported(kindPath, kind, FromHostKinds()))
			continue
		}
		entry := s.FromHost[kind]
		errs = append(errs, validateSelector(entry.Selector, kindPath.Child("selector"))...)
		switch {
		case entry.Mode == "":
		case kind != nodesKind:
			errs = append(errs, field.Forbidden(kindPath.Child("mode"), "only sync.fromHost.nodes has a mode"))
		case entry.Mode != NodeModeReal && entry.Mode != NodeModeFake:
			errs = append(errs, field.NotSupported(kindPath.Child("mode"), entry.Mode, []NodeMode{NodeModeReal, NodeModeFake}))
		}
		switch {
		case entry.All && kind != nodesKind:
			errs = append(errs, field.Forbidden(kindPath.Child("all"), "only sync.fromHost.nodes has all"))
		case entry.All && !s.FromHostEnabled(kind):
			errs = append(errs, field.Invalid(kindPath.Child("all"), true, "needs sync.fromHost.nodes.enabled"))
		case kind == nodesKind && entry.Selector != nil && !entry.All:
			// Nodes that run the cluster's pods are always shown: a
			// selector only says which of the others to show as well.
			errs = append(errs, field.Invalid(kindPath.Child("selector"), metav1.FormatLabelSelector(entry.Selector), "needs sync.fromHost.nodes.all: true (it picks which host nodes to show besides those running the cluster's pods)"))
		}
	}

	errs = append(errs, validateCustomResources(s.CustomResources, path.Child("customResources"))...)
	errs = append(errs, validateServiceMappings(s.ServiceMappings, path.Child("serviceMappings"))...)
	return errs
}

func validateSelector(sel *metav1.LabelSelector, path *field.Path) field.ErrorList {
	if sel == nil {
		return nil
	}
	return metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, path)
}

// validateCustomResources applies the CustomResourceDefinition naming rules,
// so only kinds that can exist as CRDs are accepted.
func validateCustomResources(crs []CustomResource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, cr := range crs {
		crPath := path.Index(i)
		groupPath := crPath.Child("group")
		switch {
		case cr.Group == "":
			errs = append(errs, field.Required(groupPath, ""))
		case isBuiltInGroup(cr.Group):
			errs = append(errs, field.Invalid(groupPath, cr.Group, "is a built-in API group, not a custom resource group"))
		case len(validation.IsDNS1123Subdomain(cr.Group)) > 0:
			errs = append(errs, field.Invalid(groupPath, cr.Group, strings.Join(validation.IsDNS1123Subdomain(cr.Group), "; ")))
		case !strings.Contains(cr.Group, "."):
			errs = append(errs, field.Invalid(groupPath, cr.Group, "must be a domain with at least one dot"))
		}
		if cr.Version == "" {
			errs = append(errs, field.Required(crPath.Child("version"), ""))
		} else if msgs := validation.IsDNS1035Label(cr.Version); len(msgs) > 0 {
			errs = append(errs, field.Invalid(crPath.Child("version"), cr.Version, strings.Join(msgs, "; ")))
		}
		if cr.Kind == "" {
			errs = append(errs, field.Required(crPath.Child("kind"), ""))
		} else if msgs := validation.IsDNS1035Label(strings.ToLower(cr.Kind)); len(msgs) > 0 {
			errs = append(errs, field.Invalid(crPath.Child("kind"), cr.Kind, "lower-cased, "+strings.Join(msgs, "; ")))
		}
		// One version per kind: two would sync the same objects twice.
		groupKind := cr.Kind + "." + cr.Group
		if seen.Has(groupKind) {
			errs = append(errs, field.Duplicate(crPath, groupKind))
		}
		seen.Insert(groupKind)
	}
	return errs
}

const notPrintable = "must contain only printable characters"

// isPrintable rejects control and unassigned characters: they break command
// lines and URLs, and the YAML encoder cannot write all of them back.
func isPrintable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) })
}
