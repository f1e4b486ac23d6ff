// Physics of the thermo workload against exact results.  Runs under 1, 2 and
// 3 MPI ranks (replicas are split unevenly); assertions are made on rank 0,
// which holds the results.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <cmath>

#include "core/mpi_context.hpp"
#include "core/timers.hpp"
#include "exact/ising_exact.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/thermo/metropolis.hpp"
#include "test_env.hpp"
#include "thermo/driver.hpp"
#include "thermo/workload.hpp"

namespace prism::thermo {
namespace {

// What the tests look at, from a workload run in-process (estimates and
// configurations on rank 0 only).
struct Results {
  std::vector<BlockAccumulator::Estimate> estimates;
  std::vector<std::int64_t> swap_attempts, swap_accepted, round_trips;
  std::vector<std::int8_t> configurations;
  std::string error;
};

Results run_config(const Config& cfg, std::uint64_t seed) {
  ThermoWorkload w(cfg);
  test::run_workload(w, seed);
  Results r;
  if (test::world->root())
    for (const auto& e : w.estimates()) {
      EXPECT_TRUE(e.has_value());
      r.estimates.push_back(e.value_or(BlockAccumulator::Estimate{}));
    }
  r.swap_attempts = w.state().swap_attempts;
  r.swap_accepted = w.state().swap_accepted;
  r.round_trips = w.state().trips.round_trips();
  r.configurations = w.configurations();
  r.error = w.status().error;
  return r;
}

Config base(Model model, int L, std::vector<double> temps, std::int64_t sweeps) {
  Config c;
  c.model = model;
  c.L = L;
  c.temperatures = std::move(temps);
  c.thermalization = sweeps / 10;
  c.sweeps = sweeps;
  c.exchange_every = 5;
  c.error_blocks = 32;
  return c;
}

// |mc - exact| within `sigmas` standard errors plus a small absolute slack.
void expect_close(double mc, double err, double exact, double sigmas, double slack, const std::string& what) {
  EXPECT_LE(std::fabs(mc - exact), sigmas * err + slack)
      << what << ": mc " << mc << " +- " << err << ", exact " << exact;
}

void compare_enumeration(const Config& cfg, const Results& res) {
  std::vector<std::int64_t> bi, bj;
  std::vector<int> bJ;
  exact::lattice_bonds(int(cfg.L), cfg.dim(), make_couplings(cfg), bi, bj, bJ);
  for (std::size_t t = 0; t < cfg.temperatures.size(); ++t) {
    const auto ex = exact::enumerate(int(cfg.sites()), bi, bj, bJ, cfg.J, cfg.h, cfg.temperatures[t]);
    const auto& e = res.estimates[t];
    const std::string at = std::string(model_name(cfg.model)) + " T=" + std::to_string(cfg.temperatures[t]);
    expect_close(e.energy_mean, e.energy_err, ex.energy, 5, 1e-3, at + " E/N");
    expect_close(e.specific_heat, e.specific_heat_err, ex.specific_heat, 5, 5e-3, at + " C/N");
    expect_close(e.magnetization_abs_mean, e.magnetization_err, ex.magnetization, 5, 1e-3, at + " |M|/N");
    expect_close(e.susceptibility, e.susceptibility_err, ex.susceptibility, 5, 5e-3, at + " chi/N");
  }
}

TEST(ThermoPhysics, Ising2dL4MatchesEnumeration) {
  auto cfg = base(Model::ising2d, 4, {1.5, 2.0, 2.5, 3.0, 4.0}, 200000);
  const auto res = run_config(cfg, 11);
  if (test::world->root()) compare_enumeration(cfg, res);
}

TEST(ThermoPhysics, Ising2dL4InFieldMatchesEnumeration) {
  auto cfg = base(Model::ising2d, 4, {1.8, 2.6, 3.5}, 100000);
  cfg.h = 0.3;
  cfg.J = 0.8;
  const auto res = run_config(cfg, 12);
  if (test::world->root()) compare_enumeration(cfg, res);
}

// L = 2 in three dimensions: every site has its +d and -d neighbour on the
// same site through two distinct bonds, which the kernel and the enumeration
// both count; 2^8 states.
TEST(ThermoPhysics, Ising3dL2MatchesEnumeration) {
  auto cfg = base(Model::ising3d, 2, {2.0, 3.5, 5.0}, 100000);
  const auto res = run_config(cfg, 13);
  if (test::world->root()) compare_enumeration(cfg, res);
}

TEST(ThermoPhysics, SpinGlassL2MatchesEnumeration) {
  auto cfg = base(Model::ea3d, 2, {0.8, 1.5, 3.0}, 100000);
  cfg.disorder_seed = 99;
  cfg.h = 0.2;
  const auto res = run_config(cfg, 14);
  if (test::world->root()) compare_enumeration(cfg, res);
}

// Sampling every 7th sweep keeps the estimates and their error bars right,
// and the statistics hold exactly sweeps / measure_every samples.
TEST(ThermoPhysics, MeasureEveryKeepsEnumeration) {
  auto cfg = base(Model::ising2d, 4, {1.5, 2.3, 3.5}, 70000);
  cfg.measure_every = 7;
  ThermoWorkload w(cfg);
  test::run_workload(w, 19);
  if (!test::world->root()) return;
  const auto& sums = w.state().stats.sums();
  for (std::int64_t t = 0; t < cfg.replicas(); ++t) {
    std::int64_t samples = 0;
    for (std::int64_t b = 0; b < sums.blocks(); ++b) samples += sums.count(t, b);
    EXPECT_EQ(samples, cfg.samples());
  }
  Results res;
  for (const auto& e : w.estimates()) res.estimates.push_back(e.value());
  compare_enumeration(cfg, res);
}

TEST(ThermoPhysics, KaufmanAgreesWithEnumerationAtL4) {
  // Self-check of the closed form used below.
  std::vector<std::int64_t> bi, bj;
  std::vector<int> bJ;
  exact::lattice_bonds(4, 2, {}, bi, bj, bJ);
  for (double T : {1.5, 2.269, 3.0}) {
    const auto en = exact::enumerate(16, bi, bj, bJ, 1.0, 0.0, T);
    const auto ka = exact::kaufman(4, T);
    EXPECT_NEAR(ka.energy, en.energy, 1e-7) << T;
    EXPECT_NEAR(ka.specific_heat, en.specific_heat, 1e-5) << T;
  }
}

TEST(ThermoPhysics, Ising2dMatchesKaufmanAtL8AndL16) {
  for (int L : {8, 16}) {
    auto cfg = base(Model::ising2d, L, {2.0, 2.2, 2.3, 2.5, 3.0}, 60000);
    const auto res = run_config(cfg, 20 + L);
    if (!test::world->root()) continue;
    for (std::size_t t = 0; t < cfg.temperatures.size(); ++t) {
      const auto ex = exact::kaufman(L, cfg.temperatures[t]);
      const auto& e = res.estimates[t];
      const std::string at = "L=" + std::to_string(L) + " T=" + std::to_string(cfg.temperatures[t]);
      expect_close(e.energy_mean, e.energy_err, ex.energy, 5, 5e-4, at + " E/N");
      expect_close(e.specific_heat, e.specific_heat_err, ex.specific_heat, 5, 1e-2, at + " C/N");
    }
  }
}

// Below T_c a 64 x 64 lattice (multi-spin kernel) gives Onsager's spontaneous
// magnetisation; finite-size corrections at these temperatures are < 1e-3.
TEST(ThermoPhysics, OnsagerMagnetizationBelowTc) {
  auto cfg = base(Model::ising2d, 64, {1.8, 2.0, 2.1, 2.2, 2.3}, 12000);
  ASSERT_TRUE(cfg.use_multispin());
  const auto res = run_config(cfg, 31);
  if (!test::world->root()) return;
  for (std::size_t t = 0; t < 2; ++t) {
    const auto& e = res.estimates[t];
    expect_close(e.magnetization_abs_mean, e.magnetization_err,
                 exact::onsager_magnetization(cfg.temperatures[t]), 5, 2e-3,
                 "Onsager T=" + std::to_string(cfg.temperatures[t]));
  }
  // and the ordered phase really is ordered, the disordered one is not
  EXPECT_GT(res.estimates[0].magnetization_abs_mean, 0.9);
}

// The two kernels number sites and key random numbers the same way, so they
// must produce bitwise the same trajectory: 2D and 3D, ferromagnet and +-J glass.
void expect_kernels_equal(Config cfg, std::uint64_t seed) {
  cfg.save_configurations = true;
  cfg.kernel = KernelChoice::generic;
  const auto a = run_config(cfg, seed);
  cfg.kernel = KernelChoice::multispin;
  const auto b = run_config(cfg, seed);
  if (!test::world->root()) return;
  const std::string what = model_name(cfg.model);
  ASSERT_EQ(a.configurations.size(), b.configurations.size()) << what;
  EXPECT_TRUE(a.configurations == b.configurations) << what;
  for (std::size_t t = 0; t < a.estimates.size(); ++t) {
    EXPECT_EQ(a.estimates[t].energy_mean, b.estimates[t].energy_mean) << what;
    EXPECT_EQ(a.estimates[t].magnetization_abs_mean, b.estimates[t].magnetization_abs_mean) << what;
  }
  EXPECT_EQ(a.swap_accepted, b.swap_accepted) << what;
  // and the moves were many: neither the cold start nor a frozen lattice
  std::int64_t down = 0;
  for (auto s : b.configurations) down += s < 0;
  EXPECT_GT(down, std::int64_t(b.configurations.size() / 10)) << what;
}

// One draw's byte per site plus a tail draw on a tie decides exactly as a
// full 32-bit uniform: acceptance rates at thresholds whose top byte ties
// often (and the sure and the impossible move) match p within 5 sigma.
TEST(ThermoKernels, ByteAcceptanceIsExact) {
  const std::int64_t draws = 1 << 18;
  for (std::uint64_t threshold :
       {std::uint64_t(0), std::uint64_t(1) << 32, (std::uint64_t(1) << 24) + 1,
        (std::uint64_t(77) << 24) + 0x9abcde, (std::uint64_t(200) << 24) + 0x400000}) {
    const double p = double(threshold) * 0x1p-32;
    std::int64_t accepted = 0;
    for (std::int64_t k = 0; k < draws / 16; ++k) {
      const auto u = rng::philox(9, std::uint32_t(k), 3, 1, 0);
      for (int i = 0; i < 16; ++i) accepted += accept_move(u, i, threshold, 9, std::uint32_t(k), 3, 1, 0);
    }
    const double rate = double(accepted) / draws;
    if (p == 0.0 || p == 1.0) {
      EXPECT_EQ(rate, p);
    } else {
      EXPECT_NEAR(rate, p, 5 * std::sqrt(p * (1 - p) / draws) + 1e-12) << threshold;
    }
  }
  // A threshold of top byte b accepts a top byte b exactly at the tail's rate.
  const std::uint64_t tie = (std::uint64_t(5) << 24) + (std::uint64_t(3) << 22);  // tail rate 3/4
  std::int64_t ties = 0, accepted = 0;
  for (std::int64_t k = 0; k < draws; ++k) {
    const auto u = rng::philox(4, std::uint32_t(k), 0, 0, 1);
    for (int i = 0; i < 16; ++i)
      if (((u.v[i >> 2] >> (8 * (i & 3))) & 0xFFu) == 5) {
        ++ties;
        accepted += accept_move(u, i, tie, 4, std::uint32_t(k), 0, 0, 1);
      }
  }
  ASSERT_GT(ties, 10000);
  EXPECT_NEAR(double(accepted) / ties, 0.75, 5 * std::sqrt(0.75 * 0.25 / ties));
}

// The multispin kernels' four-bytes-at-once tests against byte loops: every
// pair of byte values in every lane, the other lanes random.
TEST(ThermoKernels, ByteLaneTestsAreExact) {
  std::uint32_t mismatches = 0;
  for (std::uint32_t k = 0; k < (1u << 18); ++k) {
    const auto r = rng::philox(5, k, 0, 0, 0);
    const std::uint32_t lane = k >> 16, a_byte = (k >> 8) & 0xFFu, b_byte = k & 0xFFu;
    const std::uint32_t clear = ~(0xFFu << (8 * lane));
    const std::uint32_t a = (r.v[0] & clear) | (a_byte << (8 * lane));
    const std::uint32_t b = (r.v[1] & clear) | (b_byte << (8 * lane));
    const std::uint32_t less = bytes_less(a, b), equal = bytes_equal(a, b);
    const std::uint32_t perm = byte_perm(a, b, r.v[2] & 0x7777u);
    for (int j = 0; j < 4; ++j) {
      const std::uint32_t x = (a >> (8 * j)) & 0xFFu, y = (b >> (8 * j)) & 0xFFu;
      mismatches += ((less >> (8 * j + 7)) & 1u) != std::uint32_t(x < y);
      mismatches += ((equal >> (8 * j + 7)) & 1u) != std::uint32_t(x == y);
      const std::uint32_t pick = (r.v[2] >> (4 * j)) & 7u;
      const std::uint32_t want = ((pick < 4 ? a : b) >> (8 * (pick & 3))) & 0xFFu;
      mismatches += ((perm >> (8 * j)) & 0xFFu) != want;
    }
    mismatches += ((less | equal) & 0x7F7F7F7Fu) != 0;
  }
  EXPECT_EQ(mismatches, 0u);
}

// The multispin kernels' row and column arithmetic: FastDivisor against '/'
// for divisors of every size, at random and extreme numerators.
TEST(ThermoKernels, FastDivisionIsExact) {
  std::int64_t mismatches = 0;
  for (std::uint32_t d :
       {1u, 2u, 3u, 7u, 32u, 33u, 512u, 1000u, 2048u, 65535u, 65536u, 1u << 31, 0xFFFFFFFFu}) {
    const FastDivisor by_d(d);
    for (std::uint32_t k = 0; k < (1u << 14); ++k) {
      const auto r = rng::philox(6, k, d, 0, 0);
      for (std::uint32_t n :
           {r.v[0], r.v[1] >> (r.v[2] & 31u), k, 0xFFFFFFFFu - k, d * (k & 15u), d * (k & 15u) - 1})
        mismatches += by_d.quotient(n) != n / d;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(ThermoKernels, MultispinEqualsGenericBitwise) {
  auto cfg = base(Model::ising2d, 32, {1.9, 2.3, 2.8}, 400);
  cfg.h = 0.1;
  expect_kernels_equal(cfg, 5);
}

TEST(ThermoKernels, Multispin3dEqualsGenericBitwise) {
  auto ferro = base(Model::ising3d, 32, {4.0, 4.5, 6.0}, 60);
  ferro.h = -0.05;
  expect_kernels_equal(ferro, 6);
  auto glass = base(Model::ea3d, 32, {0.9, 1.5, 2.5}, 60);
  glass.disorder_seed = 11;
  expect_kernels_equal(glass, 7);
  // heat bath: no sure moves, every table entry can tie
  auto bath = base(Model::ising3d, 32, {4.5, 6.0}, 40);
  bath.update = UpdateChoice::heat_bath;
  bath.h = 0.1;
  expect_kernels_equal(bath, 8);
}

// Replica exchange mixes: adjacent temperatures swap at a sensible rate and
// replicas travel the whole ladder.
TEST(ThermoExchange, SwapsAndRoundTripsHappen) {
  auto cfg = base(Model::ising2d, 8, {2.0, 2.2, 2.4, 2.6, 2.8, 3.0}, 20000);
  cfg.exchange_every = 1;
  const auto res = run_config(cfg, 3);
  for (std::size_t p = 0; p < res.swap_attempts.size(); ++p) {
    EXPECT_GT(res.swap_attempts[p], 0);
    const double acc = double(res.swap_accepted[p]) / double(res.swap_attempts[p]);
    EXPECT_GT(acc, 0.2) << "pair " << p;
    EXPECT_LT(acc, 1.0) << "pair " << p;
  }
  std::int64_t trips = 0;
  for (auto t : res.round_trips) trips += t;
  EXPECT_GT(trips, 10);
}

// Heat bath samples the same distribution: enumeration again, in a field,
// with every temperature forced to it.
TEST(ThermoPhysics, HeatBathMatchesEnumeration) {
  auto cfg = base(Model::ising2d, 4, {1.5, 2.5, 4.0}, 100000);
  cfg.h = 0.2;
  cfg.update = UpdateChoice::heat_bath;
  const auto res = run_config(cfg, 15);
  if (test::world->root()) compare_enumeration(cfg, res);
}

// E|sum of n independent +-1 spins| / n, exactly (binomial sum in logs).
double free_spin_abs_magnetization(int n) {
  double sum = 0;
  for (int k = 0; k <= n; ++k) {
    const double log_p =
        std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) - n * std::log(2.0);
    sum += std::exp(log_p) * std::abs(2 * k - n);
  }
  return sum / n;
}

// J = 0: free spins.  Checkerboard Metropolis would accept every move and
// flip whole colours, never mixing (|M|/N = 1 +- 0); the default update takes
// heat bath there, and every spin is an independent coin.
TEST(ThermoPhysics, FreeSpinsAtZeroCoupling) {
  auto cfg = base(Model::ising2d, 32, {0.5, 2.0}, 8000);
  cfg.J = 0.0;
  ASSERT_EQ(cfg.update_rule(1.0 / 2.0), UpdateRule::heat_bath);
  const auto res = run_config(cfg, 16);
  if (!test::world->root()) return;
  const double exact_m = free_spin_abs_magnetization(32 * 32);
  for (std::size_t t = 0; t < 2; ++t) {
    const auto& e = res.estimates[t];
    EXPECT_EQ(e.energy_mean, 0.0);
    EXPECT_GT(e.magnetization_err, 0.0) << "a chain that mixes has an error bar";
    expect_close(e.magnetization_abs_mean, e.magnetization_err, exact_m, 5, 1e-4, "free |M|/N");
    // chi/N = beta (<m^2> N - <|m|>^2 N) = beta (1 - 2/pi) for large N
    expect_close(e.susceptibility, e.susceptibility_err, (1.0 / cfg.temperatures[t]) * (1 - 2 / M_PI), 5,
                 2e-3, "free chi/N");
  }
}

// T = 1e4 and 1e6: high-temperature expansion, E/N = -2 tanh(beta J) + O(beta^3)
// on the square lattice, |M|/N as for free spins.
TEST(ThermoPhysics, HighTemperatureExpansion) {
  auto cfg = base(Model::ising2d, 32, {1e4, 1e6}, 8000);
  const auto res = run_config(cfg, 17);
  if (!test::world->root()) return;
  for (std::size_t t = 0; t < 2; ++t) {
    const auto& e = res.estimates[t];
    const double beta = 1.0 / cfg.temperatures[t];
    expect_close(e.energy_mean, e.energy_err, -2 * std::tanh(beta), 5, 0,
                 "E/N at T=" + std::to_string(1 / beta));
    expect_close(e.magnetization_abs_mean, e.magnetization_err, free_spin_abs_magnetization(32 * 32), 5, 1e-4,
                 "|M|/N at T=" + std::to_string(1 / beta));
  }
}

// A field of 1e6 polarises every spin: C/N is 0, not a cancellation residue
// of <e^2> - <e>^2 at |e| = 1e6.
TEST(ThermoPhysics, StrongFieldHasNoCancellation) {
  auto cfg = base(Model::ising2d, 8, {1.0, 5.0}, 2000);
  cfg.h = 1e6;
  const auto res = run_config(cfg, 18);
  if (!test::world->root()) return;
  EXPECT_TRUE(res.error.empty()) << res.error;
  for (const auto& e : res.estimates) {
    EXPECT_EQ(e.specific_heat, 0.0);
    EXPECT_EQ(e.magnetization_abs_mean, 1.0);
    EXPECT_NEAR(e.energy_mean, -2.0 - 1e6, 1e-6);
  }
}

}  // namespace
}  // namespace prism::thermo
