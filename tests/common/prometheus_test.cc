#include "common/prometheus.h"

#include <gtest/gtest.h>

#include "tests/support/prometheus_check.h"

namespace dtask {
namespace {

// A family writes HELP and TYPE once, then its samples, and the checker accepts it.
TEST(PrometheusTextTest, WritesFamiliesTheCheckerAccepts) {
  PrometheusText out;
  out.family("dtask_things", "gauge", "Things\nby kind \\ state");
  out.sample("dtask_things", 3, {{"kind", "a"}});
  out.sample("dtask_things", 0.25, {{"kind", "b"}});
  out.single("dtask_done_total", "counter", "Done", 12345678901.0);
  EXPECT_EQ(out.text(),
            "# HELP dtask_things Things\\nby kind \\\\ state\n# TYPE dtask_things gauge\n"
            "dtask_things{kind=\"a\"} 3\ndtask_things{kind=\"b\"} 0.25\n"
            "# HELP dtask_done_total Done\n# TYPE dtask_done_total counter\ndtask_done_total 12345678901\n");
  testing::PrometheusSamples samples;
  ASSERT_TRUE(testing::check_prometheus_text(out.text(), &samples).ok());
  EXPECT_EQ(samples["dtask_things{kind=\"b\"}"], 0.25);
}

// Label values escape backslash, quote and newline, and parse back to the original.
TEST(PrometheusTextTest, EscapesLabelValues) {
  PrometheusText out;
  out.family("dtask_workers", "gauge", "Workers");
  out.sample("dtask_workers", 1, {{"worker", "a\"b\\c\nd"}});
  EXPECT_NE(out.text().find("worker=\"a\\\"b\\\\c\\nd\""), std::string::npos) << out.text();
  testing::PrometheusSamples samples;
  ASSERT_TRUE(testing::check_prometheus_text(out.text(), &samples).ok());
  EXPECT_EQ(samples.count("dtask_workers{worker=\"a\"b\\c\nd\"}"), 1u);
}

// NaN and infinities use the format's spellings.
TEST(PrometheusTextTest, SpecialValues) {
  PrometheusText out;
  out.family("dtask_x", "gauge", "x");
  out.sample("dtask_x", std::numeric_limits<double>::infinity(), {{"k", "1"}});
  out.sample("dtask_x", std::numeric_limits<double>::quiet_NaN(), {{"k", "2"}});
  EXPECT_NE(out.text().find("+Inf"), std::string::npos);
  EXPECT_NE(out.text().find("NaN"), std::string::npos);
  EXPECT_TRUE(testing::check_prometheus_text(out.text()).ok());
}

// Names follow [a-zA-Z_:][a-zA-Z0-9_:]*; label names allow no colon.
TEST(PrometheusTextTest, NameRules) {
  EXPECT_TRUE(is_valid_metric_name("dtask:tasks_total"));
  EXPECT_FALSE(is_valid_metric_name("9tasks"));
  EXPECT_FALSE(is_valid_metric_name("tasks-total"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_TRUE(is_valid_label_name("state"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
  EXPECT_FALSE(is_valid_label_name("__reserved"));
}

// The checker itself rejects what a scraper would (so the e2e test proves something).
TEST(PrometheusCheckTest, RejectsBadText) {
  auto bad = [](const std::string& text) { return !testing::check_prometheus_text(text).ok(); };
  EXPECT_TRUE(bad("x 1\n")) << "sample without TYPE";
  EXPECT_TRUE(bad("# TYPE x gauge\nx{a=\"1} 1\n")) << "unterminated value";
  EXPECT_TRUE(bad("# TYPE x gauge\nx{a=\"\\q\"} 1\n")) << "bad escape";
  EXPECT_TRUE(bad("# TYPE x gauge\nx one\n")) << "bad value";
  EXPECT_TRUE(bad("# TYPE x gauge\nx 1\nx 2\n")) << "duplicate series";
  EXPECT_TRUE(bad("# TYPE x gauge\n# TYPE x counter\nx 1\n")) << "second TYPE";
  EXPECT_TRUE(bad("# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 1\n")) << "split family";
  EXPECT_TRUE(bad("# TYPE x gauge\nx 1")) << "no final newline";
  EXPECT_TRUE(bad("# TYPE x-y gauge\n")) << "bad name";
  EXPECT_FALSE(bad("# TYPE x counter\nx_total 1\n# a comment\n\n"));
}

}  // namespace
}  // namespace dtask
