// Estimators, the swap rule and round trips on inputs with known answers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "thermo/statistics.hpp"

namespace prism::thermo {
namespace {

// Independent Gaussian samples: the binned error must match sigma/sqrt(n),
// and C = beta^2 N var(e) must match the variance put in.
TEST(Statistics, BinnedErrorOfIndependentSamples) {
  const std::int64_t n = 64000, blocks = 32;
  BlockAccumulator acc(1, blocks, n);
  std::mt19937_64 gen(1);
  std::normal_distribution<double> e(-1.0, 0.1), m(0.5, 0.05);
  for (std::int64_t i = 0; i < n; ++i) acc.add(0, i, e(gen), m(gen));
  const auto est = *acc.estimate(0, 2.0, 100.0);
  EXPECT_NEAR(est.energy_mean, -1.0, 5 * 0.1 / std::sqrt(double(n)));
  EXPECT_NEAR(est.energy_err, 0.1 / std::sqrt(double(n)), 0.3 * 0.1 / std::sqrt(double(n)));
  EXPECT_NEAR(est.specific_heat, 4.0 * 100.0 * 0.01, 5 * est.specific_heat_err);
  EXPECT_NEAR(est.susceptibility, 2.0 * 100.0 * 0.0025, 5 * est.susceptibility_err);
  EXPECT_GT(est.specific_heat_err, 0.0);
}

// Correlated samples (AR(1), tau ~ 50): binning must see the larger error.
TEST(Statistics, BinningSeesAutocorrelation) {
  const std::int64_t n = 200000;
  BlockAccumulator acc(1, 20, n);
  std::mt19937_64 gen(2);
  std::normal_distribution<double> g(0.0, 1.0);
  const double rho = 0.98;
  double x = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    x = rho * x + std::sqrt(1 - rho * rho) * g(gen);
    acc.add(0, i, x, x);
  }
  const auto est = *acc.estimate(0, 1.0, 1.0);
  const double naive = 1.0 / std::sqrt(double(n));
  const double expected = naive * std::sqrt((1 + rho) / (1 - rho));  // ~ 9.95 x naive
  EXPECT_GT(est.energy_err, 0.6 * expected);
  EXPECT_LT(est.energy_err, 1.5 * expected);
}

// Detailed balance of the swap move: for the joint distribution
// pi(x at beta_i) pi(y at beta_j), the flux x<->y is symmetric.
TEST(Statistics, SwapRuleSatisfiesDetailedBalance) {
  std::mt19937_64 gen(3);
  std::uniform_real_distribution<double> b(0.1, 2.0), e(-50.0, 50.0);
  for (int k = 0; k < 1000; ++k) {
    const double bi = b(gen), bj = b(gen), ex = e(gen), ey = e(gen);
    const double forward = -bi * ex - bj * ey + swap_log_acceptance(bi, bj, ex, ey);
    const double backward = -bi * ey - bj * ex + swap_log_acceptance(bi, bj, ey, ex);
    EXPECT_NEAR(forward, backward, 1e-9 * (1 + std::fabs(forward)));
    EXPECT_LE(swap_log_acceptance(bi, bj, ex, ey), 0.0);
  }
  // A lower energy moving to the colder replica is always accepted.
  EXPECT_EQ(swap_log_acceptance(1.0, 0.5, 10.0, -10.0), 0.0);
}

TEST(Statistics, RoundTripsCountLowHighLow) {
  RoundTripCounter c(2);
  c.observe({0, 2}, 3);  // replica 0 at the bottom, 1 at the top
  c.observe({1, 1}, 3);
  c.observe({2, 0}, 3);  // both reached the other end: half trips
  EXPECT_EQ(c.round_trips(), (std::vector<std::int64_t>{0, 0}));
  c.observe({0, 2}, 3);  // replica 0 is back: one full trip; replica 1 went top -> bottom -> top
  EXPECT_EQ(c.round_trips(), (std::vector<std::int64_t>{1, 0}));
  c.observe({2, 0}, 3);
  c.observe({0, 2}, 3);  // replica 1: bottom -> top -> bottom now complete
  EXPECT_EQ(c.round_trips(), (std::vector<std::int64_t>{2, 1}));
}

}  // namespace
}  // namespace prism::thermo
