// Request and Response: one call into a backend and its answer, as Vault's
// logical.Request / logical.Response. JSON appears only in `data` and
// `internal_data`, which are nlohmann::json objects (or null).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "logical/operation.h"
#include "logical/storage.h"
#include "logical/system_view.h"

namespace taskcred::logical {

struct LeaseOptions {
  std::chrono::nanoseconds ttl{0};
  std::chrono::nanoseconds max_ttl{0};
  bool renewable = false;
  std::chrono::nanoseconds increment{0};  // renew: the increment the user asked for
  std::chrono::system_clock::time_point issue_time{};
};

struct Secret {
  LeaseOptions lease_options;
  nlohmann::json internal_data = nlohmann::json::object();
  std::string lease_id;  // set on revoke
};

struct Connection {
  std::string remote_addr;
  int remote_port = 0;
};

struct Request {
  std::string id;
  Operation operation = Operation::kRead;
  std::string path;  // relative to the mount, no leading '/'
  nlohmann::json data = nlohmann::json::object();  // request body/query as an object
  std::optional<Secret> secret;                     // renew / revoke
  std::map<std::string, std::vector<std::string>> headers;
  std::string client_token;  // salted per mount by Vault; not the real token
  std::string client_token_accessor;
  std::string display_name;
  std::string mount_point;
  std::string mount_type;
  std::string mount_accessor;
  std::string entity_id;
  bool unauthenticated = false;
  std::optional<Connection> connection;

  // Valid for the duration of the request; bounded by its deadline. Never null
  // when a backend handles a request.
  Storage* storage = nullptr;
  SystemView* system_view = nullptr;
};

struct Response {
  nlohmann::json data = nlohmann::json::object();
  std::optional<Secret> secret;
  std::string redirect;
  std::vector<std::string> warnings;
  std::map<std::string, std::vector<std::string>> headers;

  void AddWarning(std::string w) { warnings.push_back(std::move(w)); }
};

}  // namespace taskcred::logical
