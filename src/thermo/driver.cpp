#include "thermo/driver.hpp"

#include <Kokkos_Core.hpp>
#include <cmath>
#include <memory>
#include <type_traits>

#include "kernels/common/philox.hpp"
#include "kernels/thermo/metropolis.hpp"
#include "kernels/thermo/observables.hpp"

namespace prism::thermo {

std::vector<std::int8_t> make_couplings(const Config& cfg) {
  const std::int64_t n = cfg.sites();
  const int dim = cfg.dim();
  std::vector<std::int8_t> c(static_cast<std::size_t>(dim * n), 1);
  if (cfg.model != Model::ea3d) return c;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto u = rng::philox(cfg.disorder_seed, static_cast<std::uint32_t>(i),
                               static_cast<std::uint32_t>(i >> 32), 0, rng::disorder);
    for (int d = 0; d < dim; ++d) c[d * n + i] = (u.v[d] & 1u) ? 1 : -1;
  }
  return c;
}

namespace {
using Exec = Kokkos::DefaultExecutionSpace;
using HostCounts = Kokkos::View<std::int64_t*, Kokkos::HostSpace>;
}  // namespace

struct Lattices::Impl {
  const Config cfg;
  Geometry geo;
  bool multispin;
  bool disorder;
  Spins spins;
  Couplings couplings;
  PackedSpins words;
  PackedBonds bonds;
  Thresholds thresholds;
  Thresholds::HostMirror thresholds_host;
  HostCounts observables;

  Impl(const Config& c, std::int64_t count)
      : cfg(c),
        geo{static_cast<std::int32_t>(c.L), c.dim(), c.sites()},
        multispin(c.use_multispin()),
        disorder(c.model == Model::ea3d),
        thresholds("thermo::thresholds", count, geo.table_size()),
        thresholds_host(Kokkos::create_mirror_view(thresholds)),
        observables("thermo::observables", 2 * count) {
    couplings = Couplings("thermo::couplings", c.dim(), c.sites());
    const auto host = make_couplings(c);
    auto mirror = Kokkos::create_mirror_view(couplings);
    for (int d = 0; d < c.dim(); ++d)
      for (std::int64_t i = 0; i < c.sites(); ++i) mirror(d, i) = host[d * c.sites() + i];
    Kokkos::deep_copy(couplings, mirror);
    if (multispin) {
      const std::int64_t color_words = c.sites() / c.L * (c.L / 32);
      words = PackedSpins("thermo::packed_spins", count, 2 * color_words);
      Kokkos::deep_copy(words, nibble_mask);  // cold start: every spin up
      if (disorder) {
        bonds = PackedBonds("thermo::packed_bonds", c.dim(), 2 * color_words);
        pack_multispin(Exec(), couplings, geo.L, bonds);
      }
      couplings = Couplings();  // the bit planes replace the bytes
    } else {
      spins = Spins("thermo::spins", count, c.sites());
      Kokkos::deep_copy(spins, std::int8_t(1));
    }
  }

  // The multispin kernels for this lattice's dimension and bonds.
  template <class F>
  void dispatch(F&& f) {
    if (geo.dim == 2)
      disorder ? f(std::integral_constant<int, 2>{}, std::true_type{})
               : f(std::integral_constant<int, 2>{}, std::false_type{});
    else
      disorder ? f(std::integral_constant<int, 3>{}, std::true_type{})
               : f(std::integral_constant<int, 3>{}, std::false_type{});
  }
};

Lattices::Lattices(const Config& cfg, std::int64_t count) : impl_(std::make_unique<Impl>(cfg, count)) {}
Lattices::~Lattices() = default;

void Lattices::set_temperatures(const std::vector<double>& beta_of_local_replica) {
  auto& I = *impl_;
  for (std::size_t r = 0; r < beta_of_local_replica.size(); ++r) {
    const double beta = beta_of_local_replica[r];
    fill_threshold_row(I.thresholds_host, r, I.geo.dim, beta, I.cfg.J, I.cfg.h,
                       I.cfg.update_rule(beta) == UpdateRule::heat_bath);
  }
  Kokkos::deep_copy(I.thresholds, I.thresholds_host);
}

void Lattices::sweep(std::uint32_t index, std::uint64_t seed, std::int64_t replica_offset) {
  auto& I = *impl_;
  Exec space;
  for (int color = 0; color < 2; ++color) {
    if (I.multispin)
      I.dispatch([&](auto dim, auto disorder) {
        sweep_multispin<decltype(dim)::value, decltype(disorder)::value>(
            space, I.words, I.bonds, I.thresholds, I.geo.L, color, index, seed, replica_offset);
      });
    else
      sweep_generic(space, I.spins, I.couplings, I.thresholds, I.geo, color, index, seed, replica_offset);
  }
}

std::vector<std::int64_t> Lattices::measure() {
  auto& I = *impl_;
  Exec space;
  if (I.multispin)
    I.dispatch([&](auto dim, auto disorder) {
      measure_multispin<decltype(dim)::value, decltype(disorder)::value>(space, I.words, I.bonds, I.geo.L,
                                                                         I.observables);
    });
  else
    measure_generic(space, I.spins, I.couplings, I.geo, I.observables);
  Kokkos::fence();
  return std::vector<std::int64_t>(I.observables.data(), I.observables.data() + I.observables.extent(0));
}

std::vector<std::int8_t> Lattices::configurations() {
  auto& I = *impl_;
  Spins bytes = I.spins;
  if (I.multispin) {
    bytes = Spins("thermo::unpacked_spins", I.words.extent(0), I.geo.sites);
    unpack_multispin(Exec(), I.words, I.geo.L, bytes);
  }
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), bytes);
  return std::vector<std::int8_t>(host.data(), host.data() + host.size());
}

void Lattices::load_configurations(const std::vector<std::int8_t>& values) {
  auto& I = *impl_;
  const std::int64_t count = I.thresholds.extent(0);
  Spins bytes = I.multispin ? Spins("thermo::unpacked_spins", count, I.geo.sites) : I.spins;
  auto host = Kokkos::create_mirror_view(bytes);
  for (std::int64_t r = 0; r < count; ++r)
    for (std::int64_t i = 0; i < I.geo.sites; ++i) host(r, i) = values[r * I.geo.sites + i];
  Kokkos::deep_copy(bytes, host);
  if (I.multispin) pack_multispin(Exec(), bytes, I.geo.L, I.words);
  Kokkos::fence();
}

}  // namespace prism::thermo
