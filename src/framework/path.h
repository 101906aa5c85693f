// Path: one declared route of a framework backend, as Vault's framework.Path.
//
// A Path is a pattern (RE2 syntax with named captures `(?P<name>...)`,
// anchored automatically with ^...$), its fields, its operations and help.
// Declarations are plain values, written with designated initializers:
//
//   {.pattern = "roles/" + framework::GenericNameRegex("name"),
//    .fields = {{.name = "name", .type = FieldType::kNameString, .required = true,
//                .description = "Name of the role."}},
//    .existence_check = exists_fn,
//    .operations = {{Operation::kRead, read_fn},
//                   {Operation::kUpdate, {write_fn, "Create or update a role."}}},
//    .help = {kRoleSynopsis, kRoleDescription}}
//
// Every named capture must be a declared field (checked by Backend::Create).
// Handlers are called concurrently and must be thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/status.h"
#include "framework/decl_string.h"
#include "framework/field.h"
#include "logical/backend.h"
#include "logical/operation.h"
#include "logical/request.h"

namespace taskcred::framework {

// std::nullopt is Go's nil response (404 on read, 204 on write).
using HandlerResult = logical::HandlerResult;
using OperationFunc = std::function<HandlerResult(logical::Request&, const FieldData&)>;
// Returns whether the object the request addresses exists.
using ExistenceFunc = std::function<common::Result<bool>(logical::Request&, const FieldData&)>;

// A documented response of an operation (OpenAPI only).
struct ResponseDoc {
  int status = 200;  // 100..599
  DeclString description{};
  FieldSchemaList fields{};  // response body fields; empty = no schema
};

// The handler of one operation plus its documentation.
struct OperationHandler {
  OperationHandler() = default;
  // Converts from any callable matching OperationFunc, so `{Operation::kRead, fn}` works.
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, OperationHandler> &&
                                                    std::is_constructible_v<OperationFunc, F>>>
  OperationHandler(F&& f) : callback(std::forward<F>(f)) {}  // NOLINT(google-explicit-constructor)
  OperationHandler(OperationFunc f, DeclString summary_text, DeclString description_text = {})
      : callback(std::move(f)), summary(std::move(summary_text)), description(std::move(description_text)) {}

  OperationFunc callback{};
  DeclString summary{};
  DeclString description{};
  std::vector<ResponseDoc> responses{};  // empty = a default "200 OK" (or "204" for delete)
  bool unpublished = false;              // left out of OpenAPI
  bool deprecated = false;
  DisplayAttributes display_attrs{};
};

struct HelpText {
  HelpText() = default;
  HelpText(DeclString synopsis_text, DeclString description_text = {})  // NOLINT(google-explicit-constructor)
      : synopsis(std::move(synopsis_text)), description(std::move(description_text)) {}
  DeclString synopsis{};
  DeclString description{};
};

struct Path {
  DeclString pattern{};
  FieldSchemaList fields{};
  ExistenceFunc existence_check{};  // empty = none (the host then treats writes as update)
  std::map<logical::Operation, OperationHandler> operations{};
  HelpText help{};
  bool takes_arbitrary_input = false;  // no "unrecognized parameters" warning
  bool deprecated = false;
  DisplayAttributes display_attrs{};
};

// Vault's usual `name` segment: `(?P<name>\w(([\w-.]+)?\w)?)`.
std::string GenericNameRegex(std::string_view name);
// `(/(?P<name>\w(([\w-.]+)?\w)?))?`
std::string OptionalGenericNameRegex(std::string_view name);
// Like GenericNameRegex, also allowing '@' inside.
std::string GenericNameWithAtRegex(std::string_view name);
// `(/(?P<name>.+))?`
std::string OptionalParamRegex(std::string_view name);
// `(?P<name>.*)`
std::string MatchAllRegex(std::string_view name);
// `/?`, for list paths: "roles" + OptionalTrailingSlash() matches "roles" and "roles/".
inline constexpr std::string_view kOptionalTrailingSlash = "/?";
inline std::string OptionalTrailingSlash() { return std::string(kOptionalTrailingSlash); }

// Concatenates path lists (Go's PathAppend).
std::vector<Path> PathAppend(std::initializer_list<std::vector<Path>> lists);

}  // namespace taskcred::framework
