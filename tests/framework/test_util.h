// Small helpers for framework tests: status kind checks and a request builder.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "fake_system_view.h"
#include "logical/inmem_storage.h"
#include "logical/request.h"

namespace taskcred::test {

// Owns the storage and system view a request points to.
struct RequestEnv {
  logical::InmemStorage storage;
  FakeSystemView system_view;

  logical::Request Make(logical::Operation op, std::string path,
                        nlohmann::json data = nlohmann::json::object()) {
    logical::Request req;
    req.operation = op;
    req.path = std::move(path);
    req.data = std::move(data);
    req.storage = &storage;
    req.system_view = &system_view;
    return req;
  }
};

inline std::string KindName(common::ErrorKind k) { return std::string(common::ErrorKindName(k)); }

}  // namespace taskcred::test

#define EXPECT_KIND(status_expr, kind_value)                                                          \
  EXPECT_EQ(::taskcred::test::KindName((status_expr).kind()), ::taskcred::test::KindName(kind_value)) \
      << (status_expr).message()
