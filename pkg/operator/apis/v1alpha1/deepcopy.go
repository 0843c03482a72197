package v1alpha1

import "encoding/json"

// DeepCopy returns a copy of vc sharing nothing with it. The types are
// plain JSON, so a JSON round trip is a deep copy.
func (vc *VirtualCluster) DeepCopy() *VirtualCluster {
	if vc == nil {
		return nil
	}
	data, err := json.Marshal(vc)
	if err != nil {
		panic("v1alpha1: marshal VirtualCluster: " + err.Error()) // only JSON values: cannot fail
	}
	out := &VirtualCluster{}
	if err := json.Unmarshal(data, out); err != nil {
		panic("v1alpha1: unmarshal VirtualCluster: " + err.Error())
	}
	return out
}
