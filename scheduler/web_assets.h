// The dashboard's pages, embedded in the binary at build time from
// scheduler/web/*.html (CMake writes them into a raw string literal), so the
// scheduler serves them without files, CDNs or a build step at run time.
#pragma once

namespace dtask::scheduler {

/// "/": cluster totals, task stream, progress, workers, errors.
const char* status_page_html();
/// "/graph": the task graph, aggregated by group when large.
const char* graph_page_html();

}  // namespace dtask::scheduler
