// The scheduler's /metrics, in Prometheus text format, from a published
// DashboardSnapshot (rendered on an HTTP thread).
#pragma once

#include <string>

#include "scheduler/dashboard_snapshot.h"

namespace dtask::scheduler {

std::string scheduler_metrics_text(const DashboardSnapshot& snapshot);

}  // namespace dtask::scheduler
