// DTASK_TEST_SANITIZED is defined in ASan/TSan builds. Sanitizer runtimes add
// shadow memory and a quarantine of freed blocks to every process, so RSS
// bounds only hold without them: tests print RSS there but do not assert it.
#pragma once

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define DTASK_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define DTASK_TEST_SANITIZED 1
#endif
#endif
