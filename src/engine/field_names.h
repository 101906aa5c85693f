// API field names, defined once (Vault's JSON names; see docs/engine.md).
#pragma once

#include <string_view>

namespace taskcred::engine {

// config
inline constexpr std::string_view kFieldIssuer = "issuer";
inline constexpr std::string_view kFieldSigningAlgorithm = "signing_algorithm";
inline constexpr std::string_view kFieldRotationPeriod = "rotation_period";
inline constexpr std::string_view kFieldVerificationTtl = "verification_ttl";
inline constexpr std::string_view kFieldDefaultAudience = "default_audience";
inline constexpr std::string_view kFieldMaxRequestBytes = "max_request_bytes";
inline constexpr std::string_view kFieldStatusList = "status_list";
inline constexpr std::string_view kFieldStatusListTtl = "status_list_ttl";

// roles
inline constexpr std::string_view kFieldName = "name";
inline constexpr std::string_view kFieldTask = "task";
inline constexpr std::string_view kFieldDescription = "description";
inline constexpr std::string_view kFieldGrants = "grants";
inline constexpr std::string_view kFieldParameters = "parameters";
inline constexpr std::string_view kFieldTtl = "ttl";
inline constexpr std::string_view kFieldMaxTtl = "max_ttl";
inline constexpr std::string_view kFieldRenewable = "renewable";
inline constexpr std::string_view kFieldMaxUses = "max_uses";
inline constexpr std::string_view kFieldAudience = "audience";
inline constexpr std::string_view kFieldCredentialType = "credential_type";
inline constexpr std::string_view kFieldBindEntity = "bind_entity";
inline constexpr std::string_view kFieldBinding = "binding";
// binding values
inline constexpr std::string_view kBindingNone = "none";
inline constexpr std::string_view kBindingDpop = "dpop";
inline constexpr std::string_view kFieldMaxDelegationDepth = "max_delegation_depth";
inline constexpr std::string_view kFieldMaxLiveTasks = "max_live_tasks";
inline constexpr std::string_view kFieldUniqueInstance = "unique_instance";
inline constexpr std::string_view kFieldHeartbeatTtl = "heartbeat_ttl";

// creds
inline constexpr std::string_view kFieldRole = "role";
inline constexpr std::string_view kFieldInstance = "instance";
inline constexpr std::string_view kFieldCredential = "credential";
inline constexpr std::string_view kFieldTaskId = "task_id";
inline constexpr std::string_view kFieldExpiresAt = "expires_at";
inline constexpr std::string_view kFieldDpopJkt = "dpop_jkt";
inline constexpr std::string_view kFieldCnf = "cnf";

// tasks
inline constexpr std::string_view kFieldIncludeEnded = "include_ended";

// introspect / release
inline constexpr std::string_view kFieldToken = "token";
inline constexpr std::string_view kFieldResource = "resource";
inline constexpr std::string_view kFieldAction = "action";
inline constexpr std::string_view kFieldConsume = "consume";
inline constexpr std::string_view kFieldDpopProof = "dpop_proof";
inline constexpr std::string_view kFieldMethod = "method";
inline constexpr std::string_view kFieldUrl = "url";

// secret internal data
inline constexpr std::string_view kSecretTypeCredential = "taskcred_credential";

}  // namespace taskcred::engine
