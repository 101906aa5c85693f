// Shared helpers of the engine tests.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "engine_harness.h"

namespace taskcred::test {

// Asserts `r` is a 400 (InvalidArgument) whose message mentions `field`.
inline void ExpectInvalid(const logical::HandlerResult& r, const std::string& field) {
  ASSERT_FALSE(r.ok()) << "expected a 400 naming " << field;
  EXPECT_EQ(r.status().kind(), common::ErrorKind::kInvalidArgument) << r.status().ToString();
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr(field));
}

// Asserts `r` succeeded and returns its data (or {} for a 204).
inline nlohmann::json DataOf(const logical::HandlerResult& r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok() || !r->has_value()) return nlohmann::json::object();
  return (*r)->data;
}

// The keys of a list response ([] when the list is empty or absent).
inline nlohmann::json ListKeys(EngineHarness& h, const std::string& path,
                               nlohmann::json query = nlohmann::json::object()) {
  nlohmann::json data = DataOf(h.List(path, std::move(query)));
  return data.contains("keys") && data["keys"].is_array() ? data["keys"] : nlohmann::json::array();
}

// A valid role body; tests override members.
inline nlohmann::json BaseRole() {
  return {{"task", "nightly-backup"},
          {"grants",
           nlohmann::json::array({"write s3://backups/db1/{{snapshot_id}}", "read kv://db1/backup-user"})},
          {"parameters", {{"snapshot_id", "^[0-9]{1,12}$"}}},
          {"ttl", 900},
          {"max_ttl", 3600}};
}

// Issues creds and returns the full response; fails the test on error.
inline logical::Response Issue(EngineHarness& h, const std::string& path,
                               nlohmann::json params = nlohmann::json::object()) {
  auto r = params.empty() ? h.Read(path) : h.Write(path, params);
  if (!r.ok() || !r->has_value()) {
    ADD_FAILURE() << "issuing " << path << ": " << r.status().ToString();
    return {};
  }
  return **r;
}

}  // namespace taskcred::test
