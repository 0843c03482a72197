# An ephemeral CI/CD cluster: a cluster group on a host cluster already
# registered in the hub, a cluster profile with a pipeline operator (its
# CustomResourceDefinitions, RBAC and controller Deployment), and a
# virtual cluster that gets it. `terraform apply` returns once the
# virtual cluster is Ready with the operator in; `terraform destroy`
# removes it all. See README.md.
#
#   export NEST_HUB_URL=https://127.0.0.1:8443
#   export NEST_API_KEY=nest_...              # a hub-admin's key
#   export NEST_HUB_CA_CERT=~/.nest/hub/tls/hub.crt
#   terraform apply -var tenant_id=... -var project_id=... -var host_cluster=local
#   terraform output -raw kubeconfig > ci.kubeconfig
#   kubectl --kubeconfig ci.kubeconfig get pipelines -A

terraform {
  required_providers {
    nest = {
      source = "nestcluster/nest"
    }
  }
}

provider "nest" {}

variable "tenant_id" {
  description = "The id of the tenant of the project."
  type        = string
}

variable "project_id" {
  description = "The id of the project the virtual cluster is made in."
  type        = string
}

variable "host_cluster" {
  description = "The name of a host cluster registered in the hub."
  type        = string
}

variable "name" {
  description = "The virtual cluster's name; the group and the profile are named after it."
  type        = string
  default     = "ci"
}

variable "controller_replicas" {
  description = "Replicas of the pipeline controller (the profile's CONTROLLER_REPLICAS)."
  type        = number
  default     = 1
}

data "nest_host_cluster" "host" {
  name = var.host_cluster
}

resource "nest_cluster_group" "ci" {
  name             = "${var.name}-pool"
  description      = "Ephemeral CI clusters"
  host_cluster_ids = [data.nest_host_cluster.host.id]
  quota = {
    cpu     = "2"
    memory  = "4Gi"
    storage = "10Gi"
    pods    = "50"
  }
}

resource "nest_cluster_profile" "cicd" {
  name        = "${var.name}-cicd"
  description = "Pipeline operator: CRDs, RBAC and controller"
  # No version: the provider publishes 1, 2, 3... as the content changes.
  variables = {
    CONTROLLER_REPLICAS = "1"
  }
  layers = [
    {
      # The API first: CRDs are applied and Established before the next layer.
      name = "pipeline-crds"
      manifests = join("---\n", [
        for f in sort(fileset("${path.module}/profile/crds", "*.yaml")) : file("${path.module}/profile/crds/${f}")
      ])
    },
    {
      # Manifests from files keep their ${VARIABLES} for the hub: HCL only
      # interpolates literal strings (write $${NAME} there).
      name      = "pipeline-operator"
      namespace = "ci-system"
      manifests = file("${path.module}/profile/operator.yaml")
    },
  ]
}

resource "nest_virtual_cluster" "ci" {
  tenant_id        = var.tenant_id
  project_id       = var.project_id
  name             = var.name
  cluster_group_id = nest_cluster_group.ci.id
  quota = {
    cpu  = "1"
    pods = "20"
  }
  profiles = [
    {
      id = nest_cluster_profile.cicd.id
      # No version: follows the profile's latest.
      variables = {
        CONTROLLER_REPLICAS = tostring(var.controller_replicas)
      }
    },
  ]
  timeouts = {
    create = "10m"
    delete = "5m"
  }
}

output "kubeconfig" {
  description = "The admin kubeconfig of the virtual cluster."
  value       = nest_virtual_cluster.ci.kubeconfig
  sensitive   = true
}

output "virtual_cluster_id" {
  value = nest_virtual_cluster.ci.id
}

output "host_namespace" {
  description = "The virtual cluster's namespace on the host."
  value       = nest_virtual_cluster.ci.namespace
}
