package localhost

import "testing"

func TestPortForwardCRDDecodes(t *testing.T) {
	t.Parallel()
	crd, err := portForwardCRD()
	if err != nil {
		t.Fatal(err)
	}
	if crd.Name != "portforwards.kwok.x-k8s.io" || crd.Spec.Group != "kwok.x-k8s.io" || crd.Spec.Names.Kind != "PortForward" || len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v1alpha1" {
		t.Errorf("CRD %s: group %s kind %s versions %d", crd.Name, crd.Spec.Group, crd.Spec.Names.Kind, len(crd.Spec.Versions))
	}
}
