#include "common/log.h"

#include <gtest/gtest.h>

#include <regex>

namespace taskcred::common {
namespace {

class CaptureSink : public LogSink {
 public:
  void Write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

TEST(LoggerTest, WritesHclogJsonWithStringReservedKeys) {
  auto sink = std::make_shared<CaptureSink>();
  Logger log("taskcred", LogLevel::kInfo, sink);
  log.Named("engine").Info("issued", {{"task_id", "t-1"}, {"@level", 5}, {"n", 3}});
  ASSERT_EQ(sink->lines.size(), 1u);
  const std::string& line = sink->lines[0];
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["@level"], "info");
  EXPECT_EQ(j["@message"], "issued");
  EXPECT_EQ(j["@module"], "taskcred.engine");
  EXPECT_EQ(j["task_id"], "t-1");
  EXPECT_EQ(j["n"], 3);
  ASSERT_TRUE(j["@timestamp"].is_string());
  EXPECT_TRUE(std::regex_match(j["@timestamp"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
}

TEST(LoggerTest, FiltersByLevelAndSurvivesBadUtf8AndHugeLines) {
  auto sink = std::make_shared<CaptureSink>();
  Logger log("m", LogLevel::kWarn, sink);
  log.Info("dropped");
  log.Warn(std::string("bad \xff utf8"));
  log.Error(std::string(200000, 'x'));
  ASSERT_EQ(sink->lines.size(), 2u);
  EXPECT_FALSE(nlohmann::json::parse(sink->lines[0], nullptr, false).is_discarded());
  EXPECT_LT(sink->lines[1].size(), 64u * 1024);
  EXPECT_EQ(nlohmann::json::parse(sink->lines[1])["truncated"], true);
}

TEST(LoggerTest, ParsesLevels) {
  EXPECT_EQ(ParseLogLevel("TRACE"), LogLevel::kTrace);
  EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("loud"), std::nullopt);
}

}  // namespace
}  // namespace taskcred::common
