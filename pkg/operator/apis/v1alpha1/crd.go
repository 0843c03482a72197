package v1alpha1

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// KubernetesVersionPattern is the format of spec.kubernetesVersion.
const KubernetesVersionPattern = `^v[0-9]+[.][0-9]+[.][0-9]+$`

// CRD returns the CustomResourceDefinition of VirtualCluster. Its schema
// describes the Go types of this package field by field (a test walks
// both), with the admission rules: enums, formats and immutable fields.
func CRD() *apiextensionsv1.CustomResourceDefinition {
	str := func(desc string) apiextensionsv1.JSONSchemaProps {
		return apiextensionsv1.JSONSchemaProps{Type: "string", Description: desc}
	}
	boolean := func(desc string) apiextensionsv1.JSONSchemaProps {
		return apiextensionsv1.JSONSchemaProps{Type: "boolean", Description: desc}
	}
	immutable := func(field string) apiextensionsv1.ValidationRule {
		return apiextensionsv1.ValidationRule{Rule: "self == oldSelf", Message: field + " is immutable"}
	}
	enum := func(values ...string) []apiextensionsv1.JSON {
		out := make([]apiextensionsv1.JSON, len(values))
		for i, v := range values {
			out[i] = apiextensionsv1.JSON{Raw: fmt.Appendf(nil, "%q", v)}
		}
		return out
	}
	preserve := true

	isolation := apiextensionsv1.JSONSchemaProps{
		Type:        "object",
		Description: "Isolation is the policy host copies of pods must meet (the isolation section of nest.yaml). Immutable.",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"podSecurity": func() apiextensionsv1.JSONSchemaProps {
				p := str("Pod Security Standards level host copies of pods must meet: privileged, baseline (the default) or restricted.")
				p.Enum = enum("privileged", "baseline", "restricted")
				return p
			}(),
			"allowHostPath":    boolean("Lets pods use hostPath volumes despite podSecurity."),
			"allowHostNetwork": boolean("Lets pods use the host's network, PID and IPC namespaces despite podSecurity."),
			"allowPrivileged":  boolean("Lets pods run privileged containers despite podSecurity."),
			"allowHostPorts":   boolean("Lets pods' containers use host ports despite podSecurity."),
		},
		XValidations: apiextensionsv1.ValidationRules{immutable("isolation")},
	}
	datastore := apiextensionsv1.JSONSchemaProps{
		Type:        "object",
		Description: "Datastore where the virtual cluster keeps its objects; embedded SQLite when unset. Immutable.",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"endpoint": func() apiextensionsv1.JSONSchemaProps {
				p := str("sqlite:///abs/path.db, etcd://host:port[,host:port], https://host:port (etcd over TLS) or postgres://user:pass@host[:port]/db; empty is embedded SQLite.")
				p.XValidations = apiextensionsv1.ValidationRules{{
					Rule:    `self == "" || self.matches('^(sqlite|etcd|http|https|postgres|postgresql)://')`,
					Message: "endpoint must start with sqlite://, etcd://, http://, https://, postgres:// or postgresql://",
				}}
				p.MaxLength = ptr(int64(2048))
				return p
			}(),
		},
		XValidations: apiextensionsv1.ValidationRules{immutable("datastore")},
	}
	spec := apiextensionsv1.JSONSchemaProps{
		Type:        "object",
		Description: "What the user wants.",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"kubernetesVersion": func() apiextensionsv1.JSONSchemaProps {
				p := str("Kubernetes version of the virtual control plane, like v1.34.4 (the one Nest embeds, and the default). Immutable.")
				p.MaxLength = ptr(int64(32))
				p.XValidations = apiextensionsv1.ValidationRules{
					{Rule: "self.matches('" + KubernetesVersionPattern + "')", Message: "kubernetesVersion must look like v1.34.4"},
					{Rule: "self == oldSelf", Message: "kubernetesVersion is immutable: the operator does not upgrade virtual clusters"},
				}
				return p
			}(),
			"config": {
				Type:                   "object",
				Description:            "The content of nest.yaml as an object (apiVersion and kind may be left out), validated by the operator; its kubernetesVersion, datastore and isolation are spec fields of their own. Immutable.",
				XPreserveUnknownFields: &preserve,
				// Named only so that the rules below can refuse them.
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"kubernetesVersion": {Type: "string"},
					"datastore":         {Type: "object", XPreserveUnknownFields: &preserve},
					"isolation":         {Type: "object", XPreserveUnknownFields: &preserve},
				},
				XValidations: apiextensionsv1.ValidationRules{
					immutable("config"),
					{Rule: "!has(self.kubernetesVersion)", Message: "set spec.kubernetesVersion, not spec.config.kubernetesVersion"},
					{Rule: "!has(self.datastore)", Message: "set spec.datastore, not spec.config.datastore"},
					{Rule: "!has(self.isolation)", Message: "set spec.isolation, not spec.config.isolation"},
				},
			},
			"runtime": func() apiextensionsv1.JSONSchemaProps {
				p := str("Where the control plane runs: process (a nest controlplane process on the operator's machine) or pod (a StatefulSet in the host namespace). Immutable.")
				p.Enum = enum(string(RuntimeProcess), string(RuntimePod))
				p.Default = &apiextensionsv1.JSON{Raw: []byte(`"process"`)}
				p.XValidations = apiextensionsv1.ValidationRules{immutable("runtime")}
				return p
			}(),
			"isolation": isolation,
			"paused":    boolean("Stops the control plane and removes its pods from the host, keeping all state; false resumes it."),
			"datastore": datastore,
		},
		// A field set at creation can be changed but not removed or added:
		// the transition rules above only run when both sides have it.
		XValidations: apiextensionsv1.ValidationRules{
			{Rule: "has(self.datastore) == has(oldSelf.datastore)", Message: "datastore is immutable"},
			{Rule: "has(self.isolation) == has(oldSelf.isolation)", Message: "isolation is immutable"},
			{Rule: "has(self.config) == has(oldSelf.config)", Message: "config is immutable"},
			{Rule: "has(self.kubernetesVersion) == has(oldSelf.kubernetesVersion)", Message: "kubernetesVersion is immutable: the operator does not upgrade virtual clusters"},
		},
	}
	condition := apiextensionsv1.JSONSchemaProps{
		Type:     "object",
		Required: []string{"type", "status", "lastTransitionTime", "reason", "message"},
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"type": str("Type of the condition: Ready or Failed."),
			"status": func() apiextensionsv1.JSONSchemaProps {
				p := str("True, False or Unknown.")
				p.Enum = enum("True", "False", "Unknown")
				return p
			}(),
			"observedGeneration": {Type: "integer", Format: "int64", Description: "The generation the condition was set for."},
			"lastTransitionTime": {Type: "string", Format: "date-time", Description: "When the status last changed."},
			"reason":             str("CamelCase reason of the last transition."),
			"message":            str("Human-readable details."),
		},
	}
	status := apiextensionsv1.JSONSchemaProps{
		Type:        "object",
		Description: "What the operator observed.",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"phase": func() apiextensionsv1.JSONSchemaProps {
				p := str("Creating, Ready, Paused, Failed or Deleting; empty until the operator first acts.")
				p.Enum = enum(string(PhaseCreating), string(PhaseReady), string(PhasePaused), string(PhaseFailed), string(PhaseDeleting))
				return p
			}(),
			"conditions": {
				Type:         "array",
				Description:  "Ready, and Failed with the reason of the last failure.",
				Items:        &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &condition},
				XListType:    ptr("map"),
				XListMapKeys: []string{"type"},
			},
			"endpoint": str("URL of the virtual apiserver."),
			"kubeconfigSecretRef": {
				Type:        "object",
				Description: "The Secret next to this object that holds the admin kubeconfig, and its key.",
				Required:    []string{"name", "key"},
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"name": str("Name of the Secret."),
					"key":  str("Key of the kubeconfig in the Secret."),
				},
			},
			"observedGeneration": {Type: "integer", Format: "int64", Description: "The generation this status describes."},
			"clusterName":        str("Name of the virtual cluster in the lifecycle API (nest list in the operator's home)."),
			"hostNamespace":      str("The host namespace the virtual cluster owns."),
		},
	}
	root := apiextensionsv1.JSONSchemaProps{
		Type:        "object",
		Description: "A virtual Kubernetes cluster that the Nest operator keeps running.",
		Required:    []string{"spec"},
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"apiVersion": {Type: "string"},
			"kind":       {Type: "string"},
			"metadata":   {Type: "object"},
			"spec":       spec,
			"status":     status,
		},
		XValidations: apiextensionsv1.ValidationRules{{
			Rule:    "self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
			Message: "metadata.name must be a DNS-1123 label (at most 63 lower-case letters, digits and '-')",
		}},
	}
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   CRDName,
			Labels: map[string]string{"app.kubernetes.io/name": "nest", "app.kubernetes.io/component": "operator"},
		},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: Group,
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: Resource, Singular: Singular, Kind: Kind, ListKind: ListKind,
				ShortNames: []string{ShortName}, Categories: []string{"nest"},
			},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: Version, Served: true, Storage: true,
				Schema:       &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &root},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{
					{Name: "Phase", Type: "string", JSONPath: ".status.phase", Description: "Phase of the virtual cluster"},
					{Name: "Endpoint", Type: "string", JSONPath: ".status.endpoint", Priority: 1, Description: "URL of the virtual apiserver"},
					{Name: "Runtime", Type: "string", JSONPath: ".spec.runtime", Priority: 1},
					{Name: "Paused", Type: "boolean", JSONPath: ".spec.paused", Priority: 1},
					{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
				},
			}},
		},
	}
}

// CRDYAML is CRD as the YAML file api/crds/ ships.
func CRDYAML() ([]byte, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(CRD())
	if err != nil {
		return nil, fmt.Errorf("convert the VirtualCluster CRD: %w", err)
	}
	// The server fills these in; a file to apply leaves them out.
	delete(obj, "status")
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	data, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("marshal the VirtualCluster CRD: %w", err)
	}
	header := "# The VirtualCluster CustomResourceDefinition of `nest operator`.\n" +
		"# Generated from pkg/operator/apis/v1alpha1 by\n" +
		"#   NEST_UPDATE_GOLDEN=1 go test ./pkg/operator/apis/v1alpha1 -run CRD\n" +
		"# Do not edit.\n"
	return append([]byte(header), data...), nil
}

func ptr[T any](v T) *T { return &v }
