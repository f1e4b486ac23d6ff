#pragma once
// thermo as a prism workload: parallel tempering of lattice spin models.
#include <memory>

#include "core/workload.hpp"

namespace prism::thermo {

std::unique_ptr<Workload> make_workload(Deck& deck);

}  // namespace prism::thermo
