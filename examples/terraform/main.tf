# taskcred managed as code: the mount, the engine config and the backup role.
# The config and role bodies live in config.json and role-backup-job.json,
# written in the form the engine reads them back (durations as integer
# seconds, grants as structured objects), so `terraform plan` after `apply`
# shows no drift. tests/plugin/terraform_test.cc writes exactly these files
# through the real plugin and checks every key reads back identically.
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
  data_json            = file("${path.module}/config.json")
}

resource "vault_generic_endpoint" "role_backup_job" {
  depends_on           = [vault_generic_endpoint.config]
  path                 = "${vault_mount.taskcred.path}/roles/backup-job"
  ignore_absent_fields = true
  data_json            = file("${path.module}/role-backup-job.json")
}
