# The fleet: the machine's local host cluster registered in the hub, a
# cluster group on it, and a virtual cluster in a project, with its
# kubeconfig written to a file.
#
#   nest host up                              # the local host cluster
#   export NEST_HUB_URL=https://127.0.0.1:8443
#   export NEST_API_KEY=nest_...              # a hub-admin's key
#   export NEST_HUB_CA_CERT=~/.nest/hub/tls/hub.crt
#   terraform apply -var tenant_id=... -var host_kubeconfig=PATH
#   kubectl --kubeconfig dev.kubeconfig get namespaces

terraform {
  required_version = ">= 1.11" # write-only arguments (the host's kubeconfig)
  required_providers {
    nest = {
      source = "nestcluster/nest"
    }
    local = {
      source = "hashicorp/local"
    }
  }
}

provider "nest" {}

variable "tenant_id" {
  description = "The id of the tenant to work in."
  type        = string
}

variable "host_kubeconfig" {
  description = "The path of the host cluster's kubeconfig."
  type        = string
}

resource "nest_host_cluster" "local" {
  name               = "local"
  kubeconfig         = file(var.host_kubeconfig) # sent to the hub, never stored in the state
  kubeconfig_version = filesha256(var.host_kubeconfig)
}

resource "nest_cluster_group" "dev" {
  name             = "dev"
  host_cluster_ids = [nest_host_cluster.local.id]
  quota = {
    cpu     = "2"
    memory  = "4Gi"
    storage = "10Gi"
    pods    = "20"
  }
}

resource "nest_project" "web" {
  tenant_id = var.tenant_id
  name      = "web"
}

resource "nest_virtual_cluster" "dev" {
  tenant_id        = var.tenant_id
  project_id       = nest_project.web.id
  name             = "dev"
  cluster_group_id = nest_cluster_group.dev.id
  quota = {
    cpu  = "1000m" # the same as "1": no diff after apply
    pods = "10"
  }
  config = <<-YAML
    apiVersion: nest.dev/v1alpha1
    kind: VirtualClusterConfig
  YAML
  timeouts = {
    create = "15m"
  }
}

resource "local_sensitive_file" "kubeconfig" {
  filename        = "${path.module}/dev.kubeconfig"
  content         = nest_virtual_cluster.dev.kubeconfig
  file_permission = "0600"
}

output "endpoint" {
  value = nest_virtual_cluster.dev.endpoint
}
