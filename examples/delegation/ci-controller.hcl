# The CI controller: issue the run's credential and delegate step
# credentials from it; nothing else on the mount.
path "taskcred/creds/pipeline/*" {
  capabilities = ["read", "update"]
}

path "taskcred/delegate" {
  capabilities = ["update"]
}

path "taskcred/delegate/preview" {
  capabilities = ["update"]
}

path "taskcred/heartbeat" {
  capabilities = ["update"]
}
