// A search's checkpoint: a JSON-lines file whose first line names the
// search (a fingerprint of the estimator, the candidates, the scorers, the
// data and the folds) and whose every further line is one finished
// (candidate, split). Each line is flushed as it is written, so a killed
// client loses at most the line it was writing; a torn last line is cut
// when the file is opened again.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <utility>

#include "client/src/ml/search_internal.h"

namespace dtask::ml::internal {

class SearchCheckpoint {
 public:
  /// Opens (or creates) `path` for the search `fingerprint` (described in
  /// `description` for the error). Throws ArrayError when the file belongs
  /// to another search or cannot be read.
  SearchCheckpoint(const std::string& path, const std::string& fingerprint, const std::string& description);

  /// The results the file already holds, by (candidate, split).
  const std::map<std::pair<std::int64_t, std::int64_t>, FitResult>& done() const { return done_; }
  /// Appends and flushes one result.
  void append(std::int64_t candidate, std::int64_t split, const FitResult& result);

 private:
  std::string path_;
  std::map<std::pair<std::int64_t, std::int64_t>, FitResult> done_;
  std::ofstream out_;
};

/// FNV-1a 64 of `text`, as 16 hex digits.
std::string fingerprint_of(const std::string& text);

}  // namespace dtask::ml::internal
