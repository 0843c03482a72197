# A project in a tenant, a team of developers who edit its virtual
# clusters, a custom read-only role for auditors and an API key for CI.
#
#   export NEST_HUB_URL=https://127.0.0.1:8443
#   export NEST_API_KEY=nest_...            # a hub-admin's or tenant-admin's key
#   export NEST_HUB_CA_CERT=~/.nest/hub/tls/hub.crt
#   terraform apply -var tenant_id=... -var user_id=...

terraform {
  required_providers {
    nest = {
      source = "nestcluster/nest"
    }
  }
}

# hub_url, api_key and ca_cert come from NEST_HUB_URL, NEST_API_KEY and
# NEST_HUB_CA_CERT.
provider "nest" {}

variable "tenant_id" {
  description = "The id of the tenant to work in."
  type        = string
}

variable "user_id" {
  description = "The id of a user to put in the developers team."
  type        = string
}

variable "prefix" {
  description = "A prefix for the hub-wide names (roles are not per tenant)."
  type        = string
  default     = "example"
}

resource "nest_project" "web" {
  tenant_id    = var.tenant_id
  name         = "web"
  display_name = "Web shop"
}

resource "nest_team" "developers" {
  tenant_id   = var.tenant_id
  name        = "developers"
  description = "Build and run the web shop."
  members     = [var.user_id]
}

resource "nest_role_binding" "developers" {
  tenant_id    = var.tenant_id
  project_id   = nest_project.web.id
  name         = "developers"
  role         = "project-editor"
  subject_kind = "team"
  subject_id   = nest_team.developers.id
}

resource "nest_role" "auditor" {
  name        = "${var.prefix}-auditor"
  description = "Reads projects and the audit log."
  permissions = ["project.get", "project.list", "audit.list"]
}

resource "nest_role_binding" "auditors" {
  tenant_id    = var.tenant_id
  name         = "auditors"
  role         = nest_role.auditor.name
  subject_kind = "user"
  subject_id   = var.user_id
}

resource "nest_api_key" "ci" {
  user_id    = var.user_id
  name       = "${var.prefix}-ci"
  expires_at = "2030-01-01T00:00:00Z"
}

data "nest_project" "web" {
  tenant_id = var.tenant_id
  name      = nest_project.web.name
}

output "project_id" {
  value = data.nest_project.web.id
}

output "ci_key" {
  value     = nest_api_key.ci.key
  sensitive = true
}
