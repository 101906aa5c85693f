// Shared vocabulary of the path_*.cc adapters: the framework names they use
// and Bind(), which turns a handler object's member function into a
// framework callback that keeps the object alive.
#pragma once

#include <memory>

#include "common/status.h"
#include "framework/field.h"
#include "framework/path.h"
#include "logical/operation.h"
#include "logical/request.h"

namespace taskcred::engine {

using common::Result;
using common::Status;
using framework::FieldData;
using framework::FieldType;
using framework::HandlerResult;
using logical::Operation;
using logical::Request;

template <typename H>
framework::OperationFunc Bind(std::shared_ptr<H> h, HandlerResult (H::*fn)(Request&, const FieldData&)) {
  return [h = std::move(h), fn](Request& r, const FieldData& d) { return ((*h).*fn)(r, d); };
}

template <typename H>
framework::ExistenceFunc BindExists(std::shared_ptr<H> h, Result<bool> (H::*fn)(Request&, const FieldData&)) {
  return [h = std::move(h), fn](Request& r, const FieldData& d) { return ((*h).*fn)(r, d); };
}

}  // namespace taskcred::engine
