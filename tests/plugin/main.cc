// gtest main of the plugin-level tests: also fails when a filter selects no
// test, so a ctest entry whose suite was renamed cannot pass silently.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int rc = RUN_ALL_TESTS();
  if (rc == 0 && ::testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    fprintf(stderr, "no test selected\n");
    return 1;
  }
  return rc;
}
