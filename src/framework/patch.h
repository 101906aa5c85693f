// JSON merge patch for PATCH operations, as Vault's HandlePatchOperation.
//
// Builds an RFC 7396 merge patch from the declared fields present in the
// request (parsed to their types; an explicit null removes the key) and
// applies it to `resource` (the stored entry as JSON). Pure function.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "framework/field.h"

namespace taskcred::framework {

// Optional reshaping of the patch before it is applied (Go's PatchPreprocessorFunc).
using PatchPreprocessor = std::function<common::Result<nlohmann::json>(nlohmann::json patch)>;

// Returns the patched resource. InvalidArgument "resource does not exist" if
// `resource` is null; field errors as FieldData reports them.
common::Result<nlohmann::json> HandlePatchOperation(const FieldData& input, const nlohmann::json& resource,
                                                    const PatchPreprocessor& preprocessor = nullptr);

}  // namespace taskcred::framework
