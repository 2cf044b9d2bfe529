// Shared by the libFuzzer targets in fuzz/: a scratch directory for the
// decoders that read files (CSV, .npy rows, Zarr chunks), and a way to fail
// an invariant that libFuzzer records as a crash.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace dtask::fuzz {

/// Aborts (a crash libFuzzer saves) when a cheap invariant of a decoder does
/// not hold. Bad input is never a reason: only a broken promise of the code.
#define DTASK_FUZZ_CHECK(cond)                                                               \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

/// A private directory for this fuzzer process, in /dev/shm when there is
/// one (files are rewritten on every input), removed at exit. Not thread-safe:
/// libFuzzer runs inputs one at a time.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
    std::string pattern = base + "/dtask-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::filesystem::path made(pattern);
    static const std::filesystem::path for_atexit = made;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(for_atexit, ec);
    });
    return made;
  }();
  return dir;
}

/// Replaces `path` with `bytes`.
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
}

}  // namespace dtask::fuzz
