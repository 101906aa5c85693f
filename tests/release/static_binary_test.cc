// The released plugin binary (TASKCRED_STATIC): an ELF with no interpreter
// and no shared libraries, that says so in --version, and that serves Vault's
// protocol from a root holding nothing but itself and a writable /tmp -- no
// /etc, no /usr, no /dev, no /proc: what "runs on any Linux Vault host" needs.
#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness/plugin_host.h"
#include "support/run_command.h"

namespace taskcred::test {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct ElfFacts {
  bool elf64 = false;
  int interpreters = 0;   // PT_INTERP segments
  int needed = 0;         // DT_NEEDED entries
  bool dynamic = false;   // a PT_DYNAMIC segment
  bool stack_marked = false;  // a PT_GNU_STACK header without PF_X
  int writable_code = 0;      // PT_LOAD segments both writable and executable
};

// Reads the program headers (and the dynamic section, if any) of an ELF64
// little-endian file.
ElfFacts Inspect(const std::string& bytes) {
  ElfFacts f;
  if (bytes.size() < sizeof(Elf64_Ehdr)) return f;
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return f;
  f.elf64 = true;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    size_t off = eh.e_phoff + size_t{i} * eh.e_phentsize;
    if (off + sizeof(Elf64_Phdr) > bytes.size()) break;
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes.data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP) ++f.interpreters;
    if (ph.p_type == PT_GNU_STACK) f.stack_marked = (ph.p_flags & PF_X) == 0;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) && (ph.p_flags & PF_X)) ++f.writable_code;
    if (ph.p_type != PT_DYNAMIC) continue;
    f.dynamic = true;
    for (size_t d = ph.p_offset; d + sizeof(Elf64_Dyn) <= ph.p_offset + ph.p_filesz && d + sizeof(Elf64_Dyn) <= bytes.size();
         d += sizeof(Elf64_Dyn)) {
      Elf64_Dyn dyn;
      std::memcpy(&dyn, bytes.data() + d, sizeof dyn);
      if (dyn.d_tag == DT_NULL) break;
      if (dyn.d_tag == DT_NEEDED) ++f.needed;
    }
  }
  return f;
}

TEST(StaticBinaryTest, HasNoInterpreterAndNoSharedLibraries) {
  ElfFacts f = Inspect(ReadFile(TaskcredPluginPath()));
  ASSERT_TRUE(f.elf64) << TaskcredPluginPath();
  EXPECT_EQ(f.interpreters, 0) << "a PT_INTERP segment: the binary needs a dynamic loader";
  EXPECT_EQ(f.needed, 0) << "DT_NEEDED entries: the binary needs shared libraries";
}

// What the post-link layout (scripts/bolt_plugin.sh) must not lose: a stack
// the kernel maps non-executable, and no segment that is code and writable.
TEST(StaticBinaryTest, StackIsMarkedNonExecutableAndNoSegmentIsWritableCode) {
  ElfFacts f = Inspect(ReadFile(TaskcredPluginPath()));
  ASSERT_TRUE(f.elf64) << TaskcredPluginPath();
  EXPECT_TRUE(f.stack_marked) << "no PT_GNU_STACK header, or one that asks for an executable stack";
  EXPECT_EQ(f.writable_code, 0);
}

TEST(StaticBinaryTest, InspectSeesADynamicExecutable) {
  // The check above can fail: /bin/sh is a dynamic executable.
  ElfFacts f = Inspect(ReadFile("/bin/sh"));
  ASSERT_TRUE(f.elf64);
  EXPECT_EQ(f.interpreters, 1);
  EXPECT_GT(f.needed, 0);
}

TEST(StaticBinaryTest, VersionNamesTheBuildAndItsLinkage) {
  std::string cmd = TaskcredPluginPath() + " --version";
  CommandRun run = RunCommand(cmd);
  const std::string& out = run.output;
  ASSERT_EQ(run.exit_code, 0) << out;
  EXPECT_TRUE(out.starts_with("taskcred v")) << out;
  EXPECT_NE(out.find("\nlinked: static\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\ngRPC: 1."), std::string::npos) << out;
  EXPECT_NE(out.find("\nOpenSSL: OpenSSL 3."), std::string::npos) << out;
  EXPECT_EQ(out.find("commit: unknown"), std::string::npos) << "built from a git checkout: " << out;
}

// A root with the binary and an empty tmp/. The plugin runs in its own mount
// namespace (a user namespace too when not root), where the host's /tmp is
// bound onto the root's tmp/ -- the plugin's socket and the harness's broker
// sockets live there, at the same paths on both sides -- and then chroot.
class EmptyRoot {
 public:
  EmptyRoot() {
    char tmpl[] = "/tmp/tc-static-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    base_ = tmpl;
    fs::create_directories(base_ + "/root/tmp");
    fs::copy_file(TaskcredPluginPath(), base_ + "/root/taskcred");
    const bool root = geteuid() == 0;
    std::ofstream(launcher()) << "#!/bin/sh\n"
                              << "exec /usr/bin/unshare " << (root ? "" : "--user --map-root-user ")
                              << "--mount /bin/sh -c '/bin/mount --bind /tmp \"$0/tmp\" && "
                                 "exec /usr/sbin/chroot \"$0\" /taskcred \"$@\"' "
                              << base_ << "/root \"$@\"\n";
    fs::permissions(launcher(), fs::perms::owner_all);
  }
  ~EmptyRoot() {
    if (!base_.empty()) fs::remove_all(base_);
  }
  bool ok() const { return !base_.empty(); }
  std::string launcher() const { return base_ + "/launch.sh"; }
  std::vector<std::string> RootEntries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(base_ + "/root")) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string base_;
};

struct HostMode {
  const char* name;
  TlsMode tls;
  const char* versions;
  bool https;  // legacy: the unwrap call over HTTPS with a private CA (-ca-cert)
};

class StaticBinaryHostTest : public ::testing::TestWithParam<HostMode> {};

// Protocol 5 with AutoMTLS (Vault >= 1.12, OpenBao); protocol 4 with the
// unwrap-token TLS over HTTP and over HTTPS with the CA file as a flag (the
// file lives in the shared /tmp).
INSTANTIATE_TEST_SUITE_P(Modes, StaticBinaryHostTest,
                         ::testing::Values(HostMode{"automtls_v5", TlsMode::kAutoMtls, "5", false},
                                           HostMode{"unwrap_v4", TlsMode::kLegacyUnwrap, "4", false},
                                           HostMode{"unwrap_https_v4", TlsMode::kLegacyUnwrap, "4", true}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_P(StaticBinaryHostTest, ServesFromARootWithNothingButItselfAndTmp) {
  EmptyRoot root;
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root.RootEntries(), (std::vector<std::string>{"taskcred", "tmp"}));
  HostOptions options;
  options.binary = root.launcher();
  options.tls = GetParam().tls;
  options.protocol_versions = GetParam().versions;
  options.legacy.https = GetParam().https;
  auto started = PluginHost::Start(options);
  if (!started.ok() && std::getenv("TASKCRED_REQUIRE_CHROOT") == nullptr &&
      started.status().message().find("unshare") != std::string::npos) {
    GTEST_SKIP() << "no mount namespace here: " << started.status().ToString();
  }
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<PluginHost> host = std::move(*started);
  auto mount = host->Setup();
  ASSERT_TRUE(mount.ok()) << mount.status().ToString();
  ASSERT_TRUE((*mount)->setup().ok()) << (*mount)->setup().status.error_message();
  ASSERT_EQ((*mount)->setup().reply.err(), "");

  RequestResult role = (*mount)->HandleRequest(MakeRequest("create", "roles/backup", {{"task", "backup"}, {"grants", "read s3://b/x"}}));
  ASSERT_EQ(role.http_status, 204) << role.error;
  RequestResult creds = (*mount)->HandleRequest(MakeRequest("read", "creds/backup"));
  ASSERT_EQ(creds.http_status, 200) << creds.error;
  ASSERT_TRUE(creds.data.contains("credential")) << creds.data.dump();
  std::string token = creds.data["credential"].get<std::string>();
  RequestResult seen = (*mount)->HandleRequest(MakeRequest("update", "introspect", {{"token", token}}));
  ASSERT_EQ(seen.http_status, 200) << seen.error;
  EXPECT_EQ(seen.data["active"], true) << seen.data.dump();

  ASSERT_TRUE(host->Shutdown().ok());
  auto exit = host->WaitExit(std::chrono::seconds(10));
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->exited && exit->code == 0) << host->process().StderrText();
}

}  // namespace
}  // namespace taskcred::test
