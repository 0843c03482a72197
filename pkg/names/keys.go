package names

// Domain prefixes every label and annotation key Nest puts on host objects.
const Domain = "nest.dev"

// Labels are for values the syncer selects on, so their values must be valid
// label values: pass them through LabelValue.
const (
	// LabelManagedBy marks a host object as created by Nest; its value is ManagedByValue.
	LabelManagedBy = Domain + "/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "nest"
	// LabelVirtualCluster holds the name of the virtual cluster owning the object.
	LabelVirtualCluster = Domain + "/virtual-cluster"
	// LabelVirtualNamespace holds the namespace of the object inside the virtual cluster.
	LabelVirtualNamespace = Domain + "/virtual-namespace"
)

// Annotations are for values that may exceed the 63 characters a label value allows.
const (
	// AnnotationVirtualName holds the object's name inside the virtual cluster.
	AnnotationVirtualName = Domain + "/virtual-name"
	// AnnotationVirtualKind holds the object's kind inside the virtual cluster.
	AnnotationVirtualKind = Domain + "/virtual-kind"
	// AnnotationVirtualUID holds the object's UID inside the virtual cluster.
	AnnotationVirtualUID = Domain + "/virtual-uid"
	// AnnotationVirtualOwnerKind holds the kind of the object's controller
	// inside the virtual cluster (a pod's Job, ReplicaSet, ...), which the
	// host copy cannot reference.
	AnnotationVirtualOwnerKind = Domain + "/virtual-owner-kind"
)

// OwnershipLabels returns the labels that mark a host object as belonging to
// virtualCluster and, when namespace is not empty, to that virtual namespace.
// Values are passed through LabelValue so they are always valid.
func OwnershipLabels(virtualCluster, namespace string) map[string]string {
	labels := map[string]string{
		LabelManagedBy:      ManagedByValue,
		LabelVirtualCluster: LabelValue(virtualCluster),
	}
	if namespace != "" {
		labels[LabelVirtualNamespace] = LabelValue(namespace)
	}
	return labels
}
