// Package fleettest holds the acceptance tests of the provider's fleet
// resources (nest_host_cluster, nest_cluster_group, nest_virtual_cluster):
// the real terraform binary, the provider in-process, a hub in the test
// process and the real local host cluster of internal/testenv, which
// virtual clusters are provisioned on. They are apart from the provider's
// own tests so that only they pay for the host (bin/nest must be built:
// `make nest`).
package fleettest
