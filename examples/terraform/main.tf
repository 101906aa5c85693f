# taskcred managed as code: the mount, the engine config and the backup role.
# Values are written in the form the engine reads them back (durations as
# integer seconds, grants as structured objects), so `terraform plan` after
# `apply` shows no drift.
terraform {
  required_providers {
    vault = {
      source = "hashicorp/vault"
    }
  }
}

variable "plugin_name" {
  type    = string
  default = "taskcred"
}

resource "vault_mount" "taskcred" {
  path        = "taskcred"
  type        = var.plugin_name
  description = "Task-scoped credentials"
  default_lease_ttl_seconds = 900
  max_lease_ttl_seconds     = 3600
}

resource "vault_generic_endpoint" "config" {
  path                 = "${vault_mount.taskcred.path}/config"
  ignore_absent_fields = true
  data_json = jsonencode({
    issuer            = "https://vault.example.com/v1/taskcred"
    signing_algorithm = "EdDSA"
    rotation_period   = 2592000
    verification_ttl  = 86400
    default_audience  = ["backup-service"]
  })
}

resource "vault_generic_endpoint" "role_backup_job" {
  depends_on           = [vault_generic_endpoint.config]
  path                 = "${vault_mount.taskcred.path}/roles/backup-job"
  ignore_absent_fields = true
  data_json = jsonencode({
    task        = "nightly-backup"
    description = "Nightly database backup to object storage"
    grants = [
      { resource = "s3://backups/db1/{{snapshot_id}}", actions = ["write"] },
      { resource = "kv://db1/backup-user", actions = ["read"] },
    ]
    parameters      = { snapshot_id = "^[0-9]{1,12}$" }
    ttl             = 900
    max_ttl         = 3600
    renewable       = false
    max_uses        = 1
    audience        = ["backup-service"]
    credential_type = "jwt"
    bind_entity     = true
  })
}
