// taskcred: the plugin binary Vault/OpenBao registers and launches.
// Wires the taskcred engine into the plugin runtime; nothing else lives here.
#include "build_info.h"
#include "engine/engine.h"
#include "runtime/serve.h"

int main(int argc, char** argv) {
  taskcred::runtime::ServeOptions options;
  options.plugin_name = "taskcred";
  options.version = "v" TASKCRED_VERSION;
  options.commit = TASKCRED_GIT_COMMIT;
  return taskcred::runtime::Serve(argc, argv, taskcred::engine::Factory(), options);
}
