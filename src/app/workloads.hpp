#pragma once
// The table of workloads prism knows (workloads.cpp).  Adding a workload is
// one line there; main.cpp reads only this table.
#include <span>

#include "core/workload.hpp"

namespace prism {

std::span<const WorkloadEntry> workload_table();

}  // namespace prism
