# Policy for the nightly backup job: it may issue credentials for its own role
# and nothing else. Policy authors can pin parameter values with
# allowed_parameters; here snapshot ids must be numeric (the role's own regex
# enforces the same rule again inside the engine).
path "taskcred/creds/backup-job" {
  capabilities = ["read", "update"]
  allowed_parameters = {
    "snapshot_id" = []
  }
}

# One run per CI job id: `vault write taskcred/creds/backup-job/<run-id> ...`
path "taskcred/creds/backup-job/*" {
  capabilities = ["read", "update"]
  allowed_parameters = {
    "snapshot_id" = []
  }
}

# The job ends its own run early.
path "taskcred/release" {
  capabilities = ["update"]
}
