// Fuzz target (f): proto HandleRequest bytes into the engine backend.
// The input is parsed as ::pb::HandleRequestArgs (as the gRPC server would
// receive it), translated with runtime::FromProto into a
// taskcred::logical::Request, given the engine backend's storage and system
// view (engine::NewBackend over InmemStorage and a fake SystemView, one
// instance for the whole run, configured with a role), handled, and encoded
// back with runtime::EncodeHandlerResult; the reply's response is translated
// back with runtime::FromProto.
// Invariants: no crash; every string in the reply is valid UTF-8; err_type is
// 0..10; a non-empty Response.data is a JSON object; the reply serialises.
//
// Seeds: run the binary with TASKCRED_FUZZ_WRITE_SEEDS=<dir> to (re)write the
// committed seed corpus (serialised requests) into <dir> and exit.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>

#include "../engine/engine_harness.h"
#include "fuzz_util.h"
#include "runtime/translate.h"

namespace lg = taskcred::logical;
namespace rt = taskcred::runtime;
namespace gp = google::protobuf;
using nlohmann::json;

namespace {

taskcred::test::EngineHarness& Harness() {
  static auto* h = [] {
    auto* harness = new taskcred::test::EngineHarness();
    TC_FUZZ_CHECK(harness->Write("config", {{"signing_algorithm", "EdDSA"}}).ok(), "config");
    TC_FUZZ_CHECK(harness
                      ->Write("roles/r", {{"task", "t"},
                                          {"grants", {"read kv://db/{{snap}}"}},
                                          {"parameters", {{"snap", "^[0-9]{1,6}$"}}},
                                          {"bind_entity", false}})
                      .ok(),
                  "role r");
    return harness;
  }();
  return *h;
}

void CheckStrings(const gp::Message& m, const std::string& where) {
  const gp::Reflection* refl = m.GetReflection();
  std::vector<const gp::FieldDescriptor*> fields;
  refl->ListFields(m, &fields);
  for (const gp::FieldDescriptor* f : fields) {
    const std::string name = where + "." + f->name();
    if (f->cpp_type() == gp::FieldDescriptor::CPPTYPE_STRING && f->type() == gp::FieldDescriptor::TYPE_STRING) {
      if (f->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(m, f); ++i) {
          TC_FUZZ_CHECK(taskcred::fuzz::IsValidUtf8(refl->GetRepeatedString(m, f, i)), "invalid UTF-8 in " + name);
        }
      } else {
        TC_FUZZ_CHECK(taskcred::fuzz::IsValidUtf8(refl->GetString(m, f)), "invalid UTF-8 in " + name);
      }
    } else if (f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(m, f); ++i) CheckStrings(refl->GetRepeatedMessage(m, f, i), name);
      } else {
        CheckStrings(refl->GetMessage(m, f), name);
      }
    }
  }
}

void WriteSeeds(const std::string& dir) {
  struct Seed {
    const char* name;
    const char* op;
    const char* path;
    const char* data;
  };
  const Seed seeds[] = {
      {"read_config", "read", "config", ""},
      {"write_role", "update", "roles/x", R"({"task":"t","grants":["read kv://a/{{p}}"],"parameters":{"p":"^[a-z]+$"}})"},
      {"issue", "update", "creds/r", R"({"snap":"4711"})"},
      {"issue_bad_param", "update", "creds/r", R"({"snap":"../x"})"},
      {"introspect", "update", "introspect", R"({"token":"tc_opaque_nonsense","resource":"kv://db/1","action":"read"})"},
      {"list_roles", "list", "roles/", ""},
      {"jwks", "read", "jwks", ""},
      {"tasks", "list", "tasks/", R"({"include_ended":true})"},
      {"tidy", "update", "tidy", ""},
      {"help", "help", "", ""},
      {"bad_json", "update", "roles/y", "{not json"},
      {"revoke", "revoke", "", ""},
  };
  for (const Seed& s : seeds) {
    ::pb::HandleRequestArgs args;
    args.set_storage_id(1);
    auto* r = args.mutable_request();
    r->set_id("seed");
    r->set_operation(s.op);
    r->set_path(s.path);
    r->set_data(s.data);
    r->set_mount_point("taskcred/");
    r->set_client_token_accessor("acc-1");
    if (std::string(s.op) == "revoke") {
      r->mutable_secret()->set_internal_data(R"({"secret_type":"taskcred_credential","task_id":"nope"})");
    }
    std::ofstream(dir + "/" + s.name, std::ios::binary) << args.SerializeAsString();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("TASKCRED_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& h = Harness();
  ::pb::HandleRequestArgs args;
  if (!args.ParseFromArray(data, static_cast<int>(size))) return 0;

  ::pb::HandleRequestReply reply;
  auto req = rt::FromProto(args.request());
  if (!req.ok()) {
    rt::EncodeHandlerResult(req.status(), &reply);
  } else {
    req->storage = &h.storage();
    req->system_view = &h.system_view();
    rt::EncodeHandlerResult(h.backend().HandleRequest(*req), &reply);
  }

  CheckStrings(reply, "reply");
  if (reply.has_err()) {
    TC_FUZZ_CHECK(reply.err().err_type() <= 10, "err_type " + std::to_string(reply.err().err_type()));
  }
  if (reply.has_response()) {
    const std::string& text = reply.response().data();
    if (!text.empty()) {
      json parsed = taskcred::fuzz::ParseJson(text);
      TC_FUZZ_CHECK(!parsed.is_discarded() && (parsed.is_object() || parsed.is_null()),
                    "Response.data is not a JSON object");
    }
    auto back = rt::FromProto(reply.response());
    (void)back;
  }
  std::string wire;
  TC_FUZZ_CHECK(reply.SerializeToString(&wire), "reply does not serialise");
  return 0;
}
