// Physics of the nqs workload against exact results: exact diagonalisation
// (Lanczos, in tests/exact/spin_ed.hpp) and the closed-form TFIM chain,
// sampled histograms against |psi|^2, tables against from-scratch
// evaluation, gradients against finite differences, and optimisation to the
// exact ground-state energy.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <complex>
#include <cstdio>
#include <map>
#include <numeric>
#include <vector>

#include "core/mpi_context.hpp"
#include "core/timers.hpp"
#include "exact/spin_ed.hpp"
#include "kernels/nqs/moves.hpp"
#include "kernels/nqs/observables.hpp"
#include "nqs/driver.hpp"
#include "nqs/inspect.hpp"
#include "nqs/observables.hpp"
#include "nqs/workload.hpp"
#include "test_env.hpp"

namespace prism::nqs {
namespace {

Config chain(Hamiltonian ham, int N) {
  Config c;
  c.hamiltonian = ham;
  c.lattice = LatticeKind::chain;
  c.Lx = N;
  c.Ly = 1;
  c.periodic = true;
  c.marshall_sign = ham == Hamiltonian::heisenberg;
  return c;
}

exact::SpinModel spin_model(const Config& c) {
  exact::SpinModel m;
  const auto lat = make_lattice(c);
  m.N = int(c.sites());
  m.bond_i.assign(lat.bond_i.begin(), lat.bond_i.end());
  m.bond_j.assign(lat.bond_j.begin(), lat.bond_j.end());
  m.tfim = c.hamiltonian == Hamiltonian::tfim;
  m.J = c.J;
  m.h = c.h;
  m.Delta = c.Delta;
  m.bond2_i.assign(lat.bond2_i.begin(), lat.bond2_i.end());
  m.bond2_j.assign(lat.bond2_j.begin(), lat.bond2_j.end());
  m.J2 = c.J2;
  return m;
}

std::vector<std::int8_t> spins_of(std::uint64_t state, int N) {
  std::vector<std::int8_t> s(N);
  for (int i = 0; i < N; ++i) s[i] = ((state >> i) & 1) ? 1 : -1;
  return s;
}

// psi_RBM times the Marshall sign (-1)^(up spins on sublattice 0) when used.
std::vector<double> exact_amplitudes(const Config& c, const std::vector<double>& p) {
  const int N = int(c.sites()), M = int(c.hidden());
  const auto lat = make_lattice(c);
  std::vector<double> psi(std::size_t(1) << N, 0.0);
  for (std::uint64_t s = 0; s < psi.size(); ++s) {
    if (c.hamiltonian == Hamiltonian::heisenberg && std::popcount(s) != N / 2) continue;
    psi[s] = std::exp(log_psi(p, N, M, spins_of(s, N)));
    if (c.hamiltonian == Hamiltonian::heisenberg && c.marshall_sign) {
      int up_a = 0;
      for (int i = 0; i < N; ++i) up_a += ((s >> i) & 1) && lat.sublattice[i] == 0;
      if (up_a & 1) psi[s] = -psi[s];
    }
  }
  return psi;
}

// The complex RBM's amplitudes (times the Marshall sign when used), as real
// and imaginary parts over the full basis.
struct ComplexAmplitudes {
  std::vector<double> re, im;
};
ComplexAmplitudes exact_complex_amplitudes(const Config& c, const std::vector<double>& p) {
  const int N = int(c.sites()), M = int(c.hidden());
  const auto lat = make_lattice(c);
  ComplexAmplitudes a{std::vector<double>(std::size_t(1) << N, 0.0),
                      std::vector<double>(std::size_t(1) << N, 0.0)};
  for (std::uint64_t s = 0; s < a.re.size(); ++s) {
    if (c.hamiltonian == Hamiltonian::heisenberg && std::popcount(s) != N / 2) continue;
    auto psi = std::exp(log_psi_complex(p, N, M, spins_of(s, N)));
    if (c.hamiltonian == Hamiltonian::heisenberg && c.marshall_sign) {
      int up_a = 0;
      for (int i = 0; i < N; ++i) up_a += ((s >> i) & 1) && lat.sublattice[i] == 0;
      if (up_a & 1) psi = -psi;
    }
    a.re[s] = psi.real();
    a.im[s] = psi.imag();
  }
  return a;
}

// |psi(s)|^2 (unnormalised) over the full basis, for either kind of parameters.
std::vector<double> exact_weights(const Config& c, const std::vector<double>& p) {
  std::vector<double> w;
  if (c.complex_parameters) {
    const auto a = exact_complex_amplitudes(c, p);
    for (std::size_t s = 0; s < a.re.size(); ++s) w.push_back(a.re[s] * a.re[s] + a.im[s] * a.im[s]);
  } else {
    for (double x : exact_amplitudes(c, p)) w.push_back(x * x);
  }
  return w;
}

TEST(NqsExact, LanczosMatchesTfimClosedFormAndKnownHeisenberg) {
  for (double h : {0.5, 1.0, 2.0}) {
    auto c = chain(Hamiltonian::tfim, 10);
    c.h = h;
    const double ed = exact::lanczos_ground_energy(spin_model(c), [](std::uint64_t) { return true; });
    EXPECT_NEAR(ed, exact::tfim_chain_ground_energy(10, 1.0, h), 1e-8) << "h=" << h;
  }
  // Periodic S=1/2 Heisenberg ring, N = 8: E0 = -3.651093408937 J (Bethe ansatz / ED tables).
  auto c = chain(Hamiltonian::heisenberg, 8);
  const double ed =
      exact::lanczos_ground_energy(spin_model(c), [](std::uint64_t s) { return std::popcount(s) == 4; });
  EXPECT_NEAR(ed, -3.651093408937, 1e-8);
}

// The J1-J2 chain at the Majumdar-Ghosh point J2 = J1 / 2: the dimer states
// are exact ground states, E0 = -3 J1 N / 8 (even N, periodic).  Checks the
// next-nearest bonds and their coupling in the lattice and the ED.
TEST(NqsExact, J1J2ChainAtMajumdarGhoshPoint) {
  for (int N : {8, 12}) {
    auto c = chain(Hamiltonian::heisenberg, N);
    c.J2 = 0.5;
    const auto lat = make_lattice(c);
    EXPECT_EQ(lat.bond2_i.size(), std::size_t(N));
    const double ed = exact::lanczos_ground_energy(
        spin_model(c), [N](std::uint64_t s) { return std::popcount(s) == N / 2; });
    EXPECT_NEAR(ed, -3.0 * N / 8.0, 1e-9) << "N=" << N;
  }
  // The 4 x 4 periodic J1-J2 model, S^z = 0: the published N = 16 ground
  // energies per site at J2 = 0 and J2 = J1 / 2 (Schulz, Ziman & Poilblanc,
  // J. Phys. I 6, 675 (1996)).
  for (const auto& [J2, e_per_site] : {std::pair{0.0, -0.701780}, std::pair{0.5, -0.528620}}) {
    Config c = chain(Hamiltonian::heisenberg, 4);
    c.lattice = LatticeKind::square;
    c.Lx = c.Ly = 4;
    c.J2 = J2;
    const double ed =
        exact::lanczos_ground_energy(spin_model(c), [](std::uint64_t s) { return std::popcount(s) == 8; });
    EXPECT_NEAR(ed / 16, e_per_site, 1e-6) << "J2=" << J2;
  }
  // The square lattice's diagonals: two per plaquette, each pair once.
  Config sq = chain(Hamiltonian::heisenberg, 4);
  sq.lattice = LatticeKind::square;
  sq.Lx = sq.Ly = 4;
  sq.J2 = 0.5;
  const auto lat = make_lattice(sq);
  ASSERT_EQ(lat.bond2_i.size(), std::size_t(32));
  std::map<std::pair<int, int>, int> seen;
  for (std::size_t b = 0; b < lat.bond2_i.size(); ++b) {
    const int i = lat.bond2_i[b], j = lat.bond2_j[b];
    const int dx = std::abs(i % 4 - j % 4), dy = std::abs(i / 4 - j / 4);
    EXPECT_TRUE((dx == 1 || dx == 3) && (dy == 1 || dy == 3)) << i << " " << j;
    EXPECT_EQ(lat.sublattice[i], lat.sublattice[j]);
    ++seen[{std::min(i, j), std::max(i, j)}];
  }
  EXPECT_EQ(seen.size(), std::size_t(32));
}

// Samples of a fixed random RBM follow |psi|^2: chi-square over all states.
void check_histogram(Config c) {
  c.alpha = 2;
  c.init_scale = 0.15;  // a distribution spread over many states, so chains mix quickly
  c.chains = 512;
  c.samples_per_chain = 32;
  c.thermalization = 100;
  c.sweeps_per_sample = 3;
  Vmc vmc(c, 77, *test::world);
  vmc.sample(0);
  const int N = int(c.sites());
  const auto spins = VmcInspector(vmc).sample_spins();
  std::map<std::uint64_t, double> counts;
  const std::size_t n = spins.size() / N;
  for (std::size_t r = 0; r < n; ++r) {
    std::uint64_t s = 0;
    for (int i = 0; i < N; ++i) s |= std::uint64_t(spins[r * N + i] > 0) << i;
    counts[s] += 1;
  }
  const auto weight = exact_weights(c, vmc.parameters());
  const double z = std::accumulate(weight.begin(), weight.end(), 0.0);
  // Pearson chi-square; states expected fewer than 5 times are pooled into one bin.
  double chi2 = 0, pooled_o = 0, pooled_e = 0;
  int dof = -1;
  for (std::uint64_t s = 0; s < weight.size(); ++s) {
    const double expected = n * weight[s] / z;
    if (expected == 0) {
      EXPECT_EQ(counts.count(s), 0u) << "state " << s << " outside the sampled sector";
      continue;
    }
    const double o = counts.count(s) ? counts[s] : 0.0;
    if (expected < 5) {
      pooled_o += o;
      pooled_e += expected;
      continue;
    }
    chi2 += (o - expected) * (o - expected) / expected;
    ++dof;
  }
  if (pooled_e > 0) {
    chi2 += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    ++dof;
  }
  EXPECT_LT(chi2, dof + 5.0 * std::sqrt(2.0 * dof)) << "chi2 " << chi2 << " for " << dof << " dof";
  EXPECT_GT(chi2, dof - 5.0 * std::sqrt(2.0 * dof)) << "chi2 " << chi2 << " for " << dof << " dof";
}

TEST(NqsSampler, SingleFlipHistogramMatchesPsiSquared) {
  check_histogram(chain(Hamiltonian::tfim, 8));
}
TEST(NqsSampler, ExchangeHistogramMatchesPsiSquared) {
  check_histogram(chain(Hamiltonian::heisenberg, 8));
}
Config in_float(Config c) {
  c.precision = Precision::single_precision;
  return c;
}
TEST(NqsSamplerFloat, SingleFlipHistogramMatchesPsiSquared) {
  check_histogram(in_float(chain(Hamiltonian::tfim, 8)));
}
TEST(NqsSamplerFloat, ExchangeHistogramMatchesPsiSquared) {
  check_histogram(in_float(chain(Hamiltonian::heisenberg, 8)));
}

// Local energy of configuration s from log psi evaluated from scratch.
double scratch_local_energy(const Config& c, const std::vector<double>& p,
                            const std::vector<std::int8_t>& s) {
  const auto lat = make_lattice(c);
  const int N = int(c.sites()), M = int(c.hidden());
  const double base = log_psi(p, N, M, s);
  double diag = 0, off = 0;
  for (std::size_t e = 0; e < lat.bond_i.size(); ++e) diag += s[lat.bond_i[e]] * s[lat.bond_j[e]];
  if (c.hamiltonian == Hamiltonian::tfim) {
    for (int k = 0; k < N; ++k) {
      auto f = s;
      f[k] = -f[k];
      off += std::exp(log_psi(p, N, M, f) - base);
    }
    return -c.J * diag - c.h * off;
  }
  for (std::size_t e = 0; e < lat.bond_i.size(); ++e) {
    if (s[lat.bond_i[e]] == s[lat.bond_j[e]]) continue;
    auto f = s;
    std::swap(f[lat.bond_i[e]], f[lat.bond_j[e]]);
    off += std::exp(log_psi(p, N, M, f) - base);
  }
  double diag2 = 0, off2 = 0;  // J1-J2: next-nearest pairs, sign +1 (one sublattice)
  for (std::size_t e = 0; e < lat.bond2_i.size(); ++e) {
    diag2 += s[lat.bond2_i[e]] * s[lat.bond2_j[e]];
    if (s[lat.bond2_i[e]] == s[lat.bond2_j[e]]) continue;
    auto f = s;
    std::swap(f[lat.bond2_i[e]], f[lat.bond2_j[e]]);
    off2 += std::exp(log_psi(p, N, M, f) - base);
  }
  return 0.25 * c.J * c.Delta * diag + 0.5 * c.J * (c.marshall_sign ? -1.0 : 1.0) * off +
         0.25 * c.J2 * c.Delta * diag2 + 0.5 * c.J2 * off2;
}

// Float tables: ratios and energies to a few float roundings per hidden unit.
// After thousands of moves, the sampler's local energies, recorded tanh theta
// and move ratios equal a from-scratch evaluation of log psi.  N = 8,
// alpha 2: M = 16, where the CPU kernel multiplies a lane's brackets in the
// sampler's precision (larger M multiplies them in double).
void check_tables(Hamiltonian ham, Precision precision, double tol, double tanh_tol, double J2 = 0) {
  const bool flip = ham == Hamiltonian::tfim;
  auto c = chain(ham, 8);
  c.J2 = J2;
  c.precision = precision;
  c.init_scale = 0.3;
  c.chains = flip ? 16 : 8;
  c.samples_per_chain = 4;
  c.thermalization = flip ? 200 : 100;  // thousands of accepted moves per chain
  Vmc vmc(c, flip ? 5 : 6, *test::world);
  const auto energies = vmc.sample(0);
  const VmcInspector look(vmc);
  EXPECT_LT(look.angle_drift(), tol);
  const int N = 8, M = int(c.hidden());
  const auto& p = vmc.parameters();
  const auto lat = make_lattice(c);
  const auto spins = look.sample_spins();
  const auto tanh = look.sample_tanh();
  // a float sampler records float values (proof that it ran in float)
  if (precision == Precision::single_precision)
    for (double t : tanh) EXPECT_EQ(double(float(t)), t);
  for (int row : flip ? std::vector<int>{0, 17, 63} : std::vector<int>{0, 9, 31}) {
    std::vector<std::int8_t> s(spins.begin() + row * N, spins.begin() + (row + 1) * N);
    const double base = log_psi(p, N, M, s);
    const double e_scratch = scratch_local_energy(c, p, s);
    EXPECT_NEAR(energies[row], e_scratch, tol * std::max(1.0, std::fabs(e_scratch))) << "row " << row;
    for (int j = 0; j < M; ++j) {
      double th = p[N + j];
      for (int i = 0; i < N; ++i) th += p[N + M + j + std::size_t(M) * i] * s[i];
      EXPECT_NEAR(tanh[row * M + j], std::tanh(th), tanh_tol);
    }
    if (flip) {
      const auto ratios = look.flip_ratios(row);
      for (int k = 0; k < N; ++k) {
        auto f = s;
        f[k] = -f[k];
        EXPECT_NEAR(ratios[k], std::exp(log_psi(p, N, M, f) - base), tol * std::fabs(ratios[k]));
      }
    } else {
      const auto ratios = look.exchange_ratios(row);
      for (std::size_t e = 0; e < lat.bond_i.size(); ++e) {
        auto f = s;
        if (f[lat.bond_i[e]] == f[lat.bond_j[e]]) continue;
        std::swap(f[lat.bond_i[e]], f[lat.bond_j[e]]);
        const double exact = std::exp(log_psi(p, N, M, f) - base);
        EXPECT_NEAR(ratios[e], exact, tol * std::max(1.0, exact)) << "bond " << e;
      }
    }
  }
}
TEST(NqsSampler, TablesAgreeWithScratchEvaluation) {
  check_tables(Hamiltonian::tfim, Precision::double_precision, 1e-10, 1e-12);
}
TEST(NqsSampler, ExchangeRatiosAgreeWithScratchEvaluation) {
  check_tables(Hamiltonian::heisenberg, Precision::double_precision, 1e-10, 1e-12);
}
// The J1-J2 local energies, sample by sample (next-nearest terms included).
TEST(NqsSampler, J1J2LocalEnergiesAgreeWithScratchEvaluation) {
  check_tables(Hamiltonian::heisenberg, Precision::double_precision, 1e-10, 1e-12, 0.5);
  check_tables(Hamiltonian::heisenberg, Precision::double_precision, 1e-10, 1e-12, -0.7);
}
// theta itself is carried in float through thousands of moves
TEST(NqsSamplerFloat, TablesAgreeWithScratchEvaluation) {
  check_tables(Hamiltonian::tfim, Precision::single_precision, 2e-5, 4e-6);
}
TEST(NqsSamplerFloat, ExchangeRatiosAgreeWithScratchEvaluation) {
  check_tables(Hamiltonian::heisenberg, Precision::single_precision, 2e-5, 4e-6);
}

// The speculative GPU sampler (new angles and tanh formed with the ratio)
// stores the same bits as the plain one, so the driver may switch between
// them on the acceptance rate without changing results.  Weights of width
// 0.5 put many angles past the tanh update's range (the exact-tanh path);
// N = 100 and 128 run the 7 and 8 units-per-lane kernels (the benchmark
// model, and the largest compiled); `log_domain` gives every site the bias
// a = 200, so that the ratios combine prefactors in logs (exchanges keep
// sum a s and still move; flips are then all rejected).  Host backends
// have only the plain kernel, and the check is then trivial.
void check_speculation(Hamiltonian ham, Precision precision, int N, double init_scale,
                       bool log_domain = false) {
  auto c = chain(ham, N);
  c.precision = precision;
  c.init_scale = init_scale;
  c.chains = 8;
  c.samples_per_chain = 3;
  c.thermalization = 20;
  const bool gpu = lanes_per_chain<Kokkos::DefaultExecutionSpace> > 1;
  Vmc plain(c, 21, *test::world), spec(c, 21, *test::world);
  if (log_domain) {
    auto p = plain.parameters();
    for (int i = 0; i < N; ++i) p[i] = 200.0;
    plain.set_parameters(p);
    spec.set_parameters(p);
  }
  VmcInspector look_plain(plain), look_spec(spec);
  look_plain.set_speculation(Speculation::never);
  look_spec.set_speculation(Speculation::always);
  for (int it = 0; it < 2; ++it) {
    const auto e_plain = plain.sample(it), e_spec = spec.sample(it);
    EXPECT_FALSE(look_plain.speculated());
    EXPECT_EQ(look_spec.speculated(), gpu);
    if (!log_domain || ham == Hamiltonian::heisenberg) EXPECT_GT(spec.acceptance(), 0.0);
    EXPECT_EQ(spec.acceptance(), plain.acceptance());
    EXPECT_EQ(e_spec, e_plain);
    EXPECT_EQ(look_spec.sample_spins(), look_plain.sample_spins());
    EXPECT_EQ(look_spec.sample_tanh(), look_plain.sample_tanh());
  }
}
TEST(NqsSampler, SpeculativeKernelStoresTheSameBits) {
  for (auto precision : {Precision::double_precision, Precision::single_precision})
    for (double scale : {0.05, 0.5}) {
      SCOPED_TRACE(testing::Message() << "precision " << int(precision) << ", init scale " << scale);
      check_speculation(Hamiltonian::tfim, precision, 8, scale);
      check_speculation(Hamiltonian::heisenberg, precision, 8, scale);
      check_speculation(Hamiltonian::heisenberg, precision, 100, scale);
      check_speculation(Hamiltonian::heisenberg, precision, 128, scale);
      check_speculation(Hamiltonian::tfim, precision, 100, scale);
      check_speculation(Hamiltonian::tfim, precision, 8, scale, true);
      check_speculation(Hamiltonian::heisenberg, precision, 100, scale, true);
    }
}

// The log-derivatives of sample `row`, as built for SR, against central
// differences of log psi of the network's weights (network_weights expands
// shared parameters); complex parameters compare [Re O, Im O]:
// d log psi / d Re w = O and d log psi / d Im w = i O.
void check_log_derivatives(const Config& c, int row) {
  Vmc vmc(c, 9, *test::world);
  vmc.sample(0);
  const int N = int(c.sites()), M = int(c.hidden());
  const VmcInspector look(vmc);
  const auto spins = look.sample_spins();
  std::vector<std::int8_t> s(spins.begin() + row * N, spins.begin() + (row + 1) * N);
  const auto O = look.log_derivatives(row);
  const auto p = vmc.parameters();
  ASSERT_EQ(O.size(), p.size());
  const int half = int(p.size()) / 2;
  const double eps = 1e-6;
  for (int k = 0; k < int(p.size()); ++k) {
    auto pp = p, pm = p;
    pp[k] += eps;
    pm[k] -= eps;
    if (!c.complex_parameters) {
      const double fd =
          (log_psi(network_weights(c, pp), N, M, s) - log_psi(network_weights(c, pm), N, M, s)) / (2 * eps);
      EXPECT_NEAR(O[k], fd, 1e-7) << "parameter " << k;
      continue;
    }
    const auto fd = (log_psi_complex(network_weights(c, pp), N, M, s) -
                     log_psi_complex(network_weights(c, pm), N, M, s)) /
                    (2 * eps);
    const int w = k % half;
    const std::complex<double> want =
        k < half ? std::complex<double>(O[w], O[half + w]) : std::complex<double>(-O[half + w], O[w]);
    EXPECT_NEAR(want.real(), fd.real(), 1e-7) << "parameter " << k;
    EXPECT_NEAR(want.imag(), fd.imag(), 1e-7) << "parameter " << k;
  }
}

TEST(NqsGradients, LogDerivativesMatchFiniteDifferences) {
  auto c = chain(Hamiltonian::tfim, 6);
  c.init_scale = 0.5;
  c.chains = 4;
  c.samples_per_chain = 4;
  check_log_derivatives(c, 5);
}

// <E_loc> over samples of a fixed RBM equals <psi|H|psi>/<psi|psi> computed
// exactly: checks the local energies, the Hamiltonian conventions and the
// Marshall sign.
void check_energy(Config c, double h_or_delta) {
  if (c.hamiltonian == Hamiltonian::tfim)
    c.h = h_or_delta;
  else
    c.Delta = h_or_delta;
  c.init_scale = 0.3;
  c.chains = 256;
  c.samples_per_chain = 32;
  c.thermalization = 30;
  c.sweeps_per_sample = 2;
  Vmc vmc(c, 31, *test::world);
  const auto e = vmc.sample(0);
  const auto st = energy_statistics(e, c.chains, c.samples_per_chain);
  const double exact_e = exact::expectation(spin_model(c), exact_amplitudes(c, vmc.parameters()));
  EXPECT_NEAR(st.energy_mean, exact_e, 5 * st.energy_err + 1e-9) << "err " << st.energy_err;
}

TEST(NqsEnergy, TfimLocalEnergyMatchesExactExpectation) {
  check_energy(chain(Hamiltonian::tfim, 8), 0.7);
}
TEST(NqsEnergy, HeisenbergLocalEnergyMatchesExactExpectation) {
  check_energy(chain(Hamiltonian::heisenberg, 8), 1.0);
  auto c = chain(Hamiltonian::heisenberg, 8);
  c.marshall_sign = false;
  check_energy(c, 0.5);
}
// TFIM on the square lattice: periodic 3 x 3 (odd lengths, not bipartite,
// which the ferromagnetic TFIM does not mind) and open 4 x 2.
TEST(NqsEnergy, TfimSquareLocalEnergyMatchesExactExpectation) {
  Config c = chain(Hamiltonian::tfim, 3);
  c.lattice = LatticeKind::square;
  c.Lx = c.Ly = 3;
  check_energy(c, 2.0);
  c.Lx = 4;
  c.Ly = 2;
  c.periodic = false;
  check_energy(c, 1.2);
}

// J1-J2: the next-nearest bonds' diagonal and exchange terms, with and
// without the Marshall sign, on a chain and on an open square (diagonals).
TEST(NqsEnergy, J1J2LocalEnergyMatchesExactExpectation) {
  auto c = chain(Hamiltonian::heisenberg, 8);
  c.J2 = 0.5;
  check_energy(c, 1.0);
  c.marshall_sign = false;
  c.J2 = -0.8;
  check_energy(c, 0.5);
  Config sq = chain(Hamiltonian::heisenberg, 4);
  sq.lattice = LatticeKind::square;
  sq.Lx = 4;
  sq.Ly = 2;
  sq.periodic = false;
  sq.J2 = 0.7;
  check_energy(sq, 1.0);
  sq.Ly = 3;  // periodic 4 x 3: the diagonals across the boundaries (not bipartite: no sign rule)
  sq.periodic = true;
  sq.marshall_sign = false;
  sq.J2 = 0.5;
  check_energy(sq, 1.0);
}

// Exact means of the observable columns for amplitudes psi (full basis,
// with their signs), straight from the operators' definitions.
std::vector<double> exact_column_means(const ObservableList& cols, const std::vector<double>& psi) {
  double z = 0;
  for (double a : psi) z += a * a;
  std::vector<double> out(cols.size());
  for (std::size_t c = 0; c < cols.size(); ++c) {
    const std::uint64_t bi = std::uint64_t(1) << cols.i[c], bj = std::uint64_t(1) << cols.j[c];
    double sum = 0;
    for (std::uint64_t s = 0; s < psi.size(); ++s) {
      if (psi[s] == 0) continue;
      switch (ObservableKind(cols.kind[c])) {
        case ObservableKind::zz:  // sigma^z_i sigma^z_j
          sum += psi[s] * psi[s] * exact::spin_of(s, cols.i[c]) * exact::spin_of(s, cols.j[c]);
          break;
        case ObservableKind::exchange:  // S^+_i S^-_j + S^-_i S^+_j
          if (((s & bi) != 0) != ((s & bj) != 0)) sum += psi[s] * psi[s ^ bi ^ bj];
          break;
        case ObservableKind::flip:  // sigma^x_i
          sum += psi[s] * psi[s ^ bi];
          break;
      }
    }
    out[c] = sum / z;
  }
  return out;
}

// Exact column means and energy of the RBM with parameters p, real or
// complex: a real symmetric operator's expectation in u + iv is the mean of
// its expectations in u and in v, weighted by |u|^2 and |v|^2.
std::vector<double> exact_observables(const Config& c, const Observables& obs, const std::vector<double>& p) {
  std::vector<std::vector<double>> parts;
  if (c.complex_parameters) {
    auto a = exact_complex_amplitudes(c, p);
    parts = {a.re, a.im};
  } else {
    parts = {exact_amplitudes(c, p)};
  }
  std::vector<double> means(obs.columns().size(), 0.0);
  double energy = 0, z_all = 0;
  for (const auto& psi : parts) {
    const double z = std::inner_product(psi.begin(), psi.end(), psi.begin(), 0.0);
    if (z == 0) continue;
    const auto m = exact_column_means(obs.columns(), psi);
    for (std::size_t k = 0; k < m.size(); ++k) means[k] += z * m[k];
    energy += z * exact::expectation(spin_model(c), psi);
    z_all += z;
  }
  for (auto& x : means) x /= z_all;
  return obs.derive(means, energy / z_all);
}

const Quantity& quantity(const Observables& obs, const std::string& name) {
  if (const Quantity* q = obs.find(name)) return *q;
  throw std::runtime_error("no quantity " + name);
}

// The observables measured on samples of a fixed random RBM equal its exact
// expectation values (every element of every derived quantity, within six
// standard errors over iterations), and in every iteration the energy is
// the sum of the bond (and field) observables, as the Hamiltonian says.
void check_observables(Config c, double init_scale = 0.3) {
  c.alpha = 1;
  c.init_scale = init_scale;
  c.chains = 128;
  c.samples_per_chain = 16;
  // The errors treat iterations as independent bins: enough sweeps between
  // them that the chains forget (with 20 the exchange chains of the ring
  // keep memory across iterations, and the errors come out too small).
  c.thermalization = 100;
  c.sweeps_per_sample = 2;
  const int iterations = 30;
  Vmc vmc(c, 41, *test::world);
  const Observables obs(c);
  const auto lat = make_lattice(c);
  const int N = int(c.sites());
  ObservableSums sums;
  for (int t = 0; t < iterations; ++t) {
    const auto m = vmc.measure(t, obs.columns());
    const auto d = obs.derive(m.column_means, m.energy);
    sums.add(d);
    const bool tfim = c.hamiltonian == Hamiltonian::tfim;
    const double* zz = d.data() + quantity(obs, "szsz").offset;
    // <S_i . S_j> for the Heisenberg models, <sigma^x_i> for the TFIM
    const double* ss_or_sx = d.data() + quantity(obs, tfim ? "sigma_x" : "spin_spin").offset;
    double e = 0;
    for (std::size_t b = 0; b < lat.bond_i.size(); ++b) {
      const int k = lat.bond_i[b] * N + lat.bond_j[b];
      if (tfim)
        e += -c.J * 4 * zz[k];
      else  // J (Delta S^z S^z + S^x S^x + S^y S^y)
        e += c.J * (c.Delta * zz[k] + ss_or_sx[k] - zz[k]);
    }
    if (tfim)
      for (int i = 0; i < N; ++i) e += -c.h * ss_or_sx[i];
    EXPECT_NEAR(e, m.energy, 1e-10 * std::fabs(m.energy)) << "iteration " << t;
  }
  const auto exact = exact_observables(c, obs, vmc.parameters());
  int nonzero_errors = 0;
  for (const auto& q : obs.quantities())
    for (std::size_t k = 0; k < q.size; ++k) {
      const double mean = sums.mean(q.offset + k), err = sums.error(q.offset + k), x = exact[q.offset + k];
      EXPECT_NEAR(mean, x, 6 * err + 1e-12) << q.name << "[" << k << "] err " << err;
      nonzero_errors += err > 0;
    }
  EXPECT_GT(nonzero_errors, 0);
}

TEST(NqsObservables, HeisenbergChainMatchesExactExpectations) {
  check_observables(chain(Hamiltonian::heisenberg, 8));
}
TEST(NqsObservables, XxzChainWithoutSignRuleMatchesExactExpectations) {
  auto c = chain(Hamiltonian::heisenberg, 8);
  c.marshall_sign = false;
  c.Delta = 0.5;
  check_observables(c);
}
TEST(NqsObservables, OpenSquareHeisenbergMatchesExactExpectations) {
  Config c;
  c.hamiltonian = Hamiltonian::heisenberg;
  c.lattice = LatticeKind::square;
  c.Lx = 4;
  c.Ly = 2;
  c.periodic = false;
  c.marshall_sign = true;
  check_observables(c);
}
TEST(NqsObservables, TfimChainMatchesExactExpectations) {
  auto c = chain(Hamiltonian::tfim, 8);
  c.h = 0.7;
  check_observables(c);
}

TEST(NqsStatistics, SplitRhatAndErrors) {
  // Two chains with different means: R-hat well above 1; identical iid chains: close to 1.
  std::vector<double> e;
  for (int c = 0; c < 2; ++c)
    for (int k = 0; k < 100; ++k) e.push_back(c * 5.0 + std::sin(k * 1.7));
  EXPECT_GT(energy_statistics(e, 2, 100).r_hat, 2.0);
  std::vector<double> f;
  for (int c = 0; c < 8; ++c)
    for (int k = 0; k < 100; ++k) f.push_back(std::sin(k * 1.7 + c * 0.3) + std::cos(k * 0.37 * (c + 1)));
  const auto st = energy_statistics(f, 8, 100);
  EXPECT_LT(st.r_hat, 1.1);
  EXPECT_GT(st.energy_err, 0.0);
}

// The sampling and learning settings the optimisation tests share.
Config for_training(Config c) {
  c.alpha = 2;
  c.chains = 64;
  c.samples_per_chain = 16;
  c.thermalization = 5;
  c.learning_rate = 0.05;
  return c;
}

double optimise(Config c, std::int64_t iterations, std::uint64_t seed, Results* results = nullptr) {
  c.iterations = iterations;
  NqsWorkload w(c);
  test::run_workload(w, seed);
  const auto& res = w.results();
  if (results) *results = res;
  EXPECT_TRUE(res.error.empty()) << res.error;
  // Average the last 20 iterations: the variational energy at convergence.
  double e = 0;
  const std::size_t n = res.history.size();
  for (std::size_t i = n - 20; i < n; ++i) e += res.history[i].energy_mean;
  return e / 20.0;
}

// <sigma^x> of the periodic TFIM chain's ground state, -(1/N) dE0/dh
// (Hellmann-Feynman on the closed form).
double tfim_chain_sigma_x(int N, double J, double h) {
  double s = 0;
  for (int m = 0; m < N; ++m) {
    const double k = M_PI * (2.0 * m + 1.0) / N;
    s += (h - J * std::cos(k)) / std::sqrt(J * J + h * h - 2.0 * J * h * std::cos(k));
  }
  return s / N;
}

// The trained chain's energy against the closed form, and its observables
// (measured after training) against the closed-form <sigma^x> and
// nearest-neighbour <sigma^z sigma^z> = -(E0 + h N <sigma^x>) / (J N).
// In float: the sampler's tables and SR's stored log-derivatives.
void check_tfim_chain16(Precision precision) {
  auto c = chain(Hamiltonian::tfim, 16);
  c.precision = precision;
  c.sr_float = precision == Precision::single_precision;
  c.h = 1.0;
  c = for_training(c);
  c.observables_iterations = 20;
  const double exact_e = exact::tfim_chain_ground_energy(16, 1.0, 1.0);
  Results res;
  const double e = optimise(c, 150, 1, &res);
  EXPECT_LT(std::fabs((e - exact_e) / exact_e), 1e-3) << "E " << e << " exact " << exact_e;
  ASSERT_TRUE(res.observables.has_value());
  const Observables obs(c);
  const auto& o = *res.observables;
  EXPECT_EQ(o.iterations, 20);
  const double sx = tfim_chain_sigma_x(16, 1.0, 1.0), zz = -(exact_e + 16 * sx) / 16;
  const auto& qx = quantity(obs, "sigma_x_mean");
  const auto& qz = quantity(obs, "sigma_z_sigma_z_nearest");
  std::printf("sigma_x %.6f +- %.1e exact %.6f; zz %.6f +- %.1e exact %.6f\n", o.mean(qx.offset),
              o.error(qx.offset), sx, o.mean(qz.offset), o.error(qz.offset), zz);
  EXPECT_NEAR(o.mean(qx.offset), sx, 5e-3 + 4 * o.error(qx.offset));
  EXPECT_NEAR(o.mean(qz.offset), zz, 5e-3 + 4 * o.error(qz.offset));
}
TEST(NqsOptimisation, TfimChain16ReachesClosedForm) {
  check_tfim_chain16(Precision::double_precision);
}
// The float sampler (SR stays in double) reaches the same accuracy.
TEST(NqsOptimisationFloat, TfimChain16ReachesClosedForm) {
  check_tfim_chain16(Precision::single_precision);
}

// TFIM on the periodic 3 x 3 square near its critical field (h_c = 3.04 J
// in two dimensions): the trained RBM against Lanczos.
TEST(NqsOptimisation, TfimSquare3x3ReachesExactDiagonalisation) {
  Config c = chain(Hamiltonian::tfim, 3);
  c.lattice = LatticeKind::square;
  c.Lx = c.Ly = 3;
  c.h = 3.0;
  c = for_training(c);
  const double exact_e = exact::lanczos_ground_energy(spin_model(c), [](std::uint64_t) { return true; });
  const double e = optimise(c, 150, 5);
  EXPECT_LT(std::fabs((e - exact_e) / exact_e), 2e-3) << "E " << e << " exact " << exact_e;
  EXPECT_GT(e, exact_e - 1e-3 * std::fabs(exact_e));  // variational, up to the sampling noise
}

// The J1-J2 chain at the Majumdar-Ghosh point: the Marshall sign is right
// for the symmetric dimer state, so the real RBM reaches E0 = -3 N / 8.
TEST(NqsOptimisation, J1J2ChainReachesMajumdarGhoshEnergy) {
  auto c = chain(Hamiltonian::heisenberg, 12);
  c.J2 = 0.5;
  c = for_training(c);
  const double exact_e = -4.5;
  const double e = optimise(c, 200, 4);
  EXPECT_LT(std::fabs((e - exact_e) / exact_e), 1e-2) << "E " << e << " exact " << exact_e;
  EXPECT_GT(e, exact_e - 1e-3 * std::fabs(exact_e));  // variational, up to the sampling noise
}

TEST(NqsOptimisation, HeisenbergChain12ReachesExactDiagonalisation) {
  auto c = chain(Hamiltonian::heisenberg, 12);
  c = for_training(c);
  c.observables_iterations = 20;
  const auto gs =
      exact::lanczos_ground_state(spin_model(c), [](std::uint64_t s) { return std::popcount(s) == 6; });
  const double exact_e = gs.energy;
  Results res;
  const double e = optimise(c, 200, 2, &res);
  EXPECT_LT(std::fabs((e - exact_e) / exact_e), 2e-3) << "E " << e << " exact " << exact_e;
  // The correlations of the trained state against those of the ED ground
  // state, at every distance; the staggered magnetisation too.
  ASSERT_TRUE(res.observables.has_value());
  const Observables obs(c);
  const auto& o = *res.observables;
  const auto exact = obs.derive(exact_column_means(obs.columns(), gs.psi), gs.energy);
  EXPECT_NEAR(exact[quantity(obs, "energy").offset], exact_e, 1e-9);  // the ED vector is the ground state
  for (const char* name : {"spin_spin_displacement", "staggered_magnetisation_squared"}) {
    const auto& q = quantity(obs, name);
    for (std::size_t k = 0; k < q.size; ++k) {
      const double m = o.mean(q.offset + k), err = o.error(q.offset + k), x = exact[q.offset + k];
      std::printf("%s[%zu] %.5f +- %.1e exact %.5f\n", name, k, m, err, x);
      EXPECT_NEAR(m, x, 1e-2 + 4 * err) << name << "[" << k << "]";
    }
  }
}

// The 4 x 4 periodic Heisenberg model with the Marshall sign, set for training.
Config heisenberg_4x4() {
  Config c;
  c.hamiltonian = Hamiltonian::heisenberg;
  c.lattice = LatticeKind::square;
  c.Lx = c.Ly = 4;
  c.marshall_sign = true;
  c = for_training(c);
  return c;
}

// The Jacobi-preconditioned CG solves the same SR system as plain CG (both
// run to a tight tolerance from the same samples).  It is not asserted to
// take fewer steps: on this model it takes more (docs/nqs.md).
TEST(NqsOptimisation, JacobiPreconditionedCgSolvesTheSameSystem) {
  Config c = heisenberg_4x4();
  c.init_scale = 0.1;
  c.iterations = 1;
  c.cg_tolerance = 1e-12;
  c.cg_max_iterations = 5000;
  std::vector<double> p[2];
  std::int64_t steps[2];
  for (int jacobi = 0; jacobi < 2; ++jacobi) {
    c.cg_jacobi = jacobi == 1;
    NqsWorkload w(c);
    test::run_workload(w, 7);
    ASSERT_TRUE(w.results().error.empty()) << w.results().error;
    p[jacobi] = w.results().parameters;
    steps[jacobi] = w.results().history.at(0).cg_iterations;
  }
  // The parameters before the update are the same; the updates agree to the solve's accuracy.
  double worst = 0, scale = 0;
  for (std::size_t k = 0; k < p[0].size(); ++k) {
    worst = std::max(worst, std::fabs(p[0][k] - p[1][k]));
    scale = std::max(scale, std::fabs(p[0][k]));
  }
  EXPECT_LT(worst, 1e-8 * scale) << "largest parameter difference";
  EXPECT_LT(steps[0], c.cg_max_iterations);
  EXPECT_LT(steps[1], c.cg_max_iterations);
  std::printf("CG steps to 1e-12: plain %lld, jacobi %lld\n", static_cast<long long>(steps[0]),
              static_cast<long long>(steps[1]));
}

// Energies that overflow (a coupling near the largest double) must stop the
// run with an error naming the iteration, keeping the history computed so far.
// (A runaway learning rate no longer does: the ratios are combined in logs
// when the prefactors are wide, so huge parameters freeze the chains instead.)
TEST(NqsFailure, NonFiniteEnergyStopsTheRun) {
  auto c = chain(Hamiltonian::tfim, 8);
  c.chains = 8;
  c.samples_per_chain = 4;
  c.iterations = 50;
  c.J = 1e308;
  NqsWorkload w(c);
  test::run_workload(w, 4);
  const auto& res = w.results();
  ASSERT_FALSE(res.error.empty());
  EXPECT_NE(res.error.find("at iteration 0"), std::string::npos) << res.error;
  ASSERT_EQ(res.history.size(), 1u);
  EXPECT_FALSE(std::isfinite(res.history.front().energy_mean));
}

// With psi flat every move is accepted.  The sampler must still decorrelate:
// a fixed site order would turn each sweep into a global spin reversal and
// visit only s and -s; random sites spread the samples over all 2^N states.
TEST(NqsSampler, FlatWaveFunctionSpreadsOverAllStates) {
  auto c = chain(Hamiltonian::tfim, 6);
  c.chains = 8;
  c.samples_per_chain = 64;
  Vmc vmc(c, 12, *test::world);
  vmc.set_parameters(std::vector<double>(vmc.parameters().size(), 0.0));
  vmc.sample(0);
  const auto spins = VmcInspector(vmc).sample_spins();
  const std::size_t rows = spins.size() / 6;
  std::vector<int> seen(64, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    int state = 0;
    for (int i = 0; i < 6; ++i) state |= (spins[r * 6 + i] > 0 ? 1 : 0) << i;
    seen[state] = 1;
  }
  // 512 uniform draws from 64 states miss about 64 e^-8 < 1 of them.
  EXPECT_GE(std::accumulate(seen.begin(), seen.end(), 0), 60);
}

// Wide prefactors (large visible biases) switch the ratios to log-domain
// combination; both forms must give the same ratios.
// Huge weights: ratios combined in logs.  A float run samples such weights
// in double (fits_float), so it must agree to the same tolerance.
void check_log_domain(Precision precision) {
  auto c = chain(Hamiltonian::tfim, 8);
  c.precision = precision;
  c.chains = 4;
  c.samples_per_chain = 2;
  Vmc vmc(c, 8, *test::world);
  auto p = vmc.parameters();
  const int N = 8, M = int(c.hidden());
  for (int i = 0; i < N; ++i) p[i] = (i % 2 ? 1 : -1) * 200.0;  // |2 a| = 400 > the linear limit
  for (int k = N; k < int(p.size()); ++k) p[k] *= 30.0;
  vmc.set_parameters(p);
  vmc.sample(0);
  const VmcInspector look(vmc);
  const auto spins = look.sample_spins();
  for (int row : {0, 5}) {
    std::vector<std::int8_t> s(spins.begin() + row * N, spins.begin() + (row + 1) * N);
    const double base = log_psi(p, N, M, s);
    const auto ratios = look.flip_ratios(row);
    for (int k = 0; k < N; ++k) {
      auto f = s;
      f[k] = -f[k];
      const double log_ratio = log_psi(p, N, M, f) - base;
      if (std::fabs(log_ratio) > 700) continue;  // outside the double range either way
      EXPECT_NEAR(std::log(ratios[k]), log_ratio, 1e-9 * std::max(1.0, std::fabs(log_ratio))) << "site " << k;
    }
  }
}
TEST(NqsSampler, LogDomainRatiosAgreeWithScratchEvaluation) {
  check_log_domain(Precision::double_precision);
}
TEST(NqsSamplerFloat, LogDomainRatiosAgreeWithScratchEvaluation) {
  check_log_domain(Precision::single_precision);
}

// One weight with |2W| above float_table_limit: a float run samples that
// iteration in double (recorded tanh theta not all float values), and goes
// back to float once the weights fit again.
TEST(NqsSamplerFloat, WideWeightsSampleInDouble) {
  auto c = in_float(chain(Hamiltonian::tfim, 8));
  c.chains = 4;
  c.samples_per_chain = 4;
  c.init_scale = 0.1;
  Vmc vmc(c, 9, *test::world);
  auto p = vmc.parameters();
  const int N = 8, M = int(c.hidden());
  auto all_float = [&]() {
    const auto t = VmcInspector(vmc).sample_tanh();
    return std::all_of(t.begin(), t.end(), [](double x) { return double(float(x)) == x; });
  };
  vmc.sample(0);
  EXPECT_TRUE(all_float());
  p[N + M] = 3.5;  // W(0, 0): |2W| = 7
  vmc.set_parameters(p);
  vmc.sample(1);
  EXPECT_FALSE(all_float());
  p[N + M] = 0.1;
  vmc.set_parameters(p);
  vmc.sample(2);
  EXPECT_TRUE(all_float());
}

TEST(NqsOptimisation, Heisenberg4x4ReachesExactDiagonalisation) {
  const Config c = heisenberg_4x4();
  const double exact_e = -11.228483208428846;  // Lanczos/ED, 4x4 periodic, S^z = 0
  const double e = optimise(c, 250, 3);
  EXPECT_LT(std::fabs((e - exact_e) / exact_e), 5e-3) << "E " << e << " exact " << exact_e;
}

// ---- Translation symmetry (symmetry = "translation") ----

Config symmetric(Config c, double alpha) {
  c.translation_symmetry = true;
  c.alpha = alpha;
  c.diag_shift = 0.05;  // the deck's default with symmetry (nqs_config.cpp)
  return c;
}

// Every lattice translation of every configuration leaves log psi of the
// expanded weights unchanged, and hidden unit f N + t sees filter f moved by t.
TEST(NqsSymmetric, ExpandedNetworkIsTranslationInvariant) {
  Config c = symmetric(heisenberg_4x4(), 2);
  c.Lx = 4;
  c.Ly = 3;
  c.init_scale = 0.4;
  Vmc vmc(c, 5, *test::world);
  const int N = 12, M = int(c.hidden());
  ASSERT_EQ(vmc.parameters().size(), std::size_t(1 + 2 + 2 * N));
  const auto w = vmc.weights();
  ASSERT_EQ(w.size(), std::size_t(c.parameters()));
  const auto shift = translation_table(c);
  std::vector<std::int8_t> s(N);
  for (int config = 0; config < 64; ++config) {
    for (int i = 0; i < N; ++i) s[i] = ((config * 2654435761u) >> (i + 3)) & 1 ? 1 : -1;
    const double lp = log_psi(w, N, M, s);
    for (int t = 1; t < N; ++t) {
      std::vector<std::int8_t> moved(N);
      for (int k = 0; k < N; ++k) moved[shift[std::size_t(k) * N + t]] = s[k];
      EXPECT_NEAR(log_psi(w, N, M, moved), lp, 1e-12) << "configuration " << config << " translation " << t;
    }
  }
  // Translation t moves site (x, y) to (x + tx mod 4, y + ty mod 3).
  EXPECT_EQ(shift[std::size_t(5) * N + 7], 8);    // (1, 1) + (3, 1) = (0, 2): wraps in x
  EXPECT_EQ(shift[std::size_t(9) * N + 6], 3);    // (1, 2) + (2, 1) = (3, 0): wraps in y
  EXPECT_EQ(shift[std::size_t(0) * N + 11], 11);  // (0, 0) + (3, 2)
}

// The shared parameters' log-derivatives, as built for SR, against central
// differences of log psi of the expanded network.
TEST(NqsSymmetric, LogDerivativesMatchFiniteDifferences) {
  Config c = symmetric(heisenberg_4x4(), 2);
  c.init_scale = 0.3;
  c.chains = 4;
  c.samples_per_chain = 4;
  check_log_derivatives(c, 7);
}

// With the lattice's translations built in, alpha = 4 (69 parameters)
// learns the 4 x 4 Heisenberg ground state about ten times closer than the
// plain RBM's bound above.
TEST(NqsSymmetric, Heisenberg4x4ReachesExactDiagonalisation) {
  const Config c = symmetric(heisenberg_4x4(), 4);
  const double exact_e = -11.228483208428846;
  const double e = optimise(c, 250, 3);
  EXPECT_LT(std::fabs((e - exact_e) / exact_e), 1e-3) << "E " << e << " exact " << exact_e;
}

// ---- Complex parameters (parameters = "complex") ----

Config complex_rbm(Config c) {
  c.complex_parameters = true;
  c.marshall_sign = false;
  return c;
}

TEST(NqsComplex, SingleFlipHistogramMatchesPsiSquared) {
  check_histogram(complex_rbm(chain(Hamiltonian::tfim, 8)));
}
TEST(NqsComplex, ExchangeHistogramMatchesPsiSquared) {
  check_histogram(complex_rbm(chain(Hamiltonian::heisenberg, 8)));
}

// Every sample's complex local energy equals (H psi)(s) / psi(s) with H
// applied exactly to the full amplitude vector (real H: to the real and
// imaginary parts separately), so the sampler's incremental angles, their
// log cosh and the Hamiltonian's conventions are all checked per sample.
void check_complex_local_energies(Config c, bool marshall_sign = false) {
  c = complex_rbm(c);
  c.marshall_sign = marshall_sign;
  c.alpha = 1;
  c.init_scale = 0.4;
  c.chains = 8;
  c.samples_per_chain = 4;
  c.thermalization = 3;
  Vmc vmc(c, 23, *test::world);
  const auto e_re = vmc.sample(0);
  const VmcInspector look(vmc);
  const auto e_im = look.local_energies_im();
  const auto spins = look.sample_spins();
  const int N = int(c.sites());
  const auto psi = exact_complex_amplitudes(c, vmc.parameters());
  const auto model = spin_model(c);
  std::vector<double> h_re(psi.re.size()), h_im(psi.im.size());
  exact::apply_h(model, psi.re, h_re);
  exact::apply_h(model, psi.im, h_im);
  ASSERT_EQ(e_im.size(), e_re.size());
  for (std::size_t r = 0; r < e_re.size(); ++r) {
    std::uint64_t s = 0;
    for (int i = 0; i < N; ++i) s |= std::uint64_t(spins[r * N + i] > 0) << i;
    const std::complex<double> exact =
        std::complex<double>(h_re[s], h_im[s]) / std::complex<double>(psi.re[s], psi.im[s]);
    const double tol = 1e-9 * (1 + std::abs(exact));
    EXPECT_NEAR(e_re[r], exact.real(), tol) << "sample " << r;
    EXPECT_NEAR(e_im[r], exact.imag(), tol) << "sample " << r;
  }
}
TEST(NqsComplex, LocalEnergiesAgreeWithExactHamiltonian) {
  auto t = chain(Hamiltonian::tfim, 8);
  t.h = -0.7;  // a negative field: allowed with complex parameters
  check_complex_local_energies(t);
  auto x = chain(Hamiltonian::heisenberg, 8);
  x.Delta = 0.5;
  x.J2 = 0.6;
  check_complex_local_energies(x);
  Config sq = chain(Hamiltonian::heisenberg, 4);
  sq.lattice = LatticeKind::square;
  sq.Lx = 4;
  sq.Ly = 2;
  sq.periodic = false;
  sq.J2 = 0.5;
  check_complex_local_energies(sq);
}
// The Marshall sign on top of complex parameters (a user may combine them).
TEST(NqsComplex, LocalEnergiesWithMarshallSign) {
  check_complex_local_energies(chain(Hamiltonian::heisenberg, 8), true);
}
// The observables of fixed complex RBMs against their exact expectations
// (check_observables): the complex ratios' real parts.  Narrower random
// weights than for real parameters: the imaginary parts put near-zeros of
// |cosh theta| in |psi|^2, and the exchange chains of the 8-site ring then
// mix too slowly for the error bars (the histogram tests need the same).
TEST(NqsComplex, ObservablesMatchExactExpectations) {
  check_observables(complex_rbm(chain(Hamiltonian::heisenberg, 8)), 0.15);
  auto t = complex_rbm(chain(Hamiltonian::tfim, 8));
  t.h = 0.7;
  check_observables(t, 0.15);
}

// Without any sign rule the complex RBM learns the Marshall signs of the
// Heisenberg ring: the energy within 3e-3 of Lanczos, and the correlations
// at every distance and m_s^2 of the trained state against the ground
// state's.
TEST(NqsComplex, HeisenbergChainWithoutSignRuleReachesExactDiagonalisation) {
  auto c = complex_rbm(for_training(chain(Hamiltonian::heisenberg, 10)));
  c.observables_iterations = 20;
  const auto gs =
      exact::lanczos_ground_state(spin_model(c), [](std::uint64_t s) { return std::popcount(s) == 5; });
  Results res;
  const double e = optimise(c, 300, 3, &res);
  EXPECT_LT(std::fabs((e - gs.energy) / gs.energy), 3e-3) << "E " << e << " exact " << gs.energy;
  ASSERT_TRUE(res.observables.has_value());
  const Observables obs(c);
  const auto exact = obs.derive(exact_column_means(obs.columns(), gs.psi), gs.energy);
  for (const char* name : {"spin_spin_displacement", "staggered_magnetisation_squared"}) {
    const auto& q = quantity(obs, name);
    for (std::size_t k = 0; k < q.size; ++k) {
      const double m = res.observables->mean(q.offset + k), err = res.observables->error(q.offset + k);
      EXPECT_NEAR(m, exact[q.offset + k], 1e-2 + 4 * err) << name << "[" << k << "]";
    }
  }
}

// The parameters after one SR update of c from the seed's samples (with a
// learning rate of 0, the initial ones); `cg_steps` gets CG's step count.
std::vector<double> after_one_update(Config c, std::uint64_t seed, std::int64_t* cg_steps = nullptr) {
  c.iterations = 1;
  NqsWorkload w(c);
  test::run_workload(w, seed);
  EXPECT_TRUE(w.results().error.empty()) << w.results().error;
  if (cg_steps) *cg_steps = w.results().history.at(0).cg_iterations;
  return w.results().parameters;
}

// An SR system of one iteration solved by CG to a residual of 1e-12: real
// parameters on the 4 x 4 lattice, or complex ones on a chain of 10 (the
// real form, A rows then B rows).
Config tightly_solved(bool complex) {
  Config c = complex ? complex_rbm(for_training(chain(Hamiltonian::heisenberg, 10))) : heisenberg_4x4();
  c.init_scale = 0.1;
  c.cg_tolerance = 1e-12;
  c.cg_max_iterations = 20000;
  return c;
}

// From the same samples, one update with learning rate 1 as c stands and one
// after `change(c)`: the largest step of the first and the largest
// difference between the two.
struct UpdateDifference {
  double step = 0, worst = 0;
};
template <class Change>
UpdateDifference update_difference(Config c, std::uint64_t seed, Change&& change,
                                   std::int64_t* cg_steps = nullptr) {
  c.learning_rate = 0.0;
  const auto initial = after_one_update(c, seed);
  c.learning_rate = 1.0;
  const auto before = after_one_update(c, seed, cg_steps);
  change(c);
  const auto after = after_one_update(c, seed);
  EXPECT_EQ(before.size(), after.size());
  UpdateDifference d;
  for (std::size_t k = 0; k < before.size() && k < after.size(); ++k) {
    d.worst = std::max(d.worst, std::fabs(before[k] - after[k]));
    d.step = std::max(d.step, std::fabs(before[k] - initial[k]));
  }
  return d;
}

// sr_solver = "cholesky" (S formed and factorised) and CG run to a residual
// of 1e-12 solve the same SR system from the same samples: the updates of
// one iteration agree far below their own size, for real parameters and for
// complex ones.
TEST(NqsOptimisation, CholeskySolvesTheSameSystemAsCg) {
  for (const bool complex : {false, true}) {
    const Config c = tightly_solved(complex);
    std::int64_t steps = 0;
    const auto d = update_difference(
        c, 7, [](Config& x) { x.sr_cholesky = true; }, &steps);
    const char* kind = complex ? "complex" : "real";
    EXPECT_LT(steps, c.cg_max_iterations) << kind;
    EXPECT_GT(d.step, 1e-3) << kind;
    EXPECT_LT(d.worst, 1e-8 * d.step) << kind << ": largest difference of the updates";
  }
}

// sr_precision = "float": CG's products on the float copy of the centred
// log-derivatives solve the double system up to float rounding.  From the
// same samples and run to a residual of 1e-12, the update differs from the
// double one (so the float path ran) by far less than its own size, for
// real parameters with the Jacobi preconditioner (its diagonal from the
// float copy too) and for complex ones.
TEST(NqsOptimisation, FloatStoredLogDerivativesSolveNearlyTheSameSystem) {
  for (const bool complex : {false, true}) {
    Config c = tightly_solved(complex);
    c.cg_jacobi = !complex;
    const auto d = update_difference(c, 7, [](Config& x) { x.sr_float = true; });
    const char* kind = complex ? "complex" : "real";
    std::printf("%s: largest update %.3e, float against double %.3e\n", kind, d.step, d.worst);
    EXPECT_GT(d.step, 1e-3) << kind;
    EXPECT_GT(d.worst, 0.0) << kind << ": the float copy was not used";
    EXPECT_LT(d.worst, 1e-5 * d.step) << kind << ": largest difference of the updates";
  }
}

// phase_step_ratio scales the step of the imaginary parts only: from the
// same samples, one update with ratio 3 moves the real parts as ratio 1
// does and the imaginary parts three times as far.
TEST(NqsComplex, PhaseStepRatioScalesTheImaginaryStep) {
  Config c = complex_rbm(for_training(chain(Hamiltonian::heisenberg, 8)));
  c.init_scale = 0.1;
  c.learning_rate = 0.0;
  const auto p0 = after_one_update(c, 5);
  c.learning_rate = 0.05;
  const auto p1 = after_one_update(c, 5);
  c.phase_step_ratio = 3.0;
  const auto p3 = after_one_update(c, 5);
  const std::size_t half = p0.size() / 2;
  double moved = 0;
  for (std::size_t k = 0; k < p0.size(); ++k) {
    const double d1 = p1[k] - p0[k], d3 = p3[k] - p0[k];
    moved = std::max(moved, std::fabs(d1));
    if (k < half)
      EXPECT_EQ(p3[k], p1[k]) << "real part " << k;
    else
      EXPECT_NEAR(d3, 3.0 * d1, 1e-12) << "imaginary part " << k - half;
  }
  EXPECT_GT(moved, 1e-4);
}

// d log psi / d Re w_k = O_k and d log psi / d Im w_k = i O_k against central
// differences of the host log psi.
// The complex translation-symmetric RBM: [Re O, Im O] of the shared
// parameters against central differences of the expanded network's log psi.
TEST(NqsComplex, SymmetricLogDerivativesMatchFiniteDifferences) {
  Config c = complex_rbm(heisenberg_4x4());
  c.Ly = 3;  // 4 x 3: translations that wrap differently in x and y
  c.translation_symmetry = true;
  c.alpha = 2;
  c.init_scale = 0.3;
  c.chains = 4;
  c.samples_per_chain = 4;
  check_log_derivatives(c, 6);
}

TEST(NqsComplex, LogDerivativesMatchFiniteDifferences) {
  auto c = complex_rbm(chain(Hamiltonian::tfim, 6));
  c.init_scale = 0.5;
  c.chains = 4;
  c.samples_per_chain = 4;
  check_log_derivatives(c, 7);
}

}  // namespace
}  // namespace prism::nqs

// The lane/unit contract the GPU sampler relies on, checked on the host: M
// padded to a multiple of the lanes, one compiled unit count per lane for
// Mp <= 8 V with exactly Mp / V units, and every padded unit visited once by
// exactly one lane, for the bounded and the general loops.
struct CountVisits {  // callable from the host-device loop in every build
  int* seen;
  int lane;
  KOKKOS_INLINE_FUNCTION void operator()(int o) const { ++seen[lane + o]; }
};
// Visits per unit j < Mp, then one slot counting visits beyond Mp.
template <int V, int U>
std::vector<int> visits(int Mp) {
  std::vector<int> seen(Mp + 16 * V, 0);
  for (int lane = 0; lane < V; ++lane) prism::nqs::for_units<V, U>(lane, Mp, CountVisits{seen.data(), lane});
  std::vector<int> out(seen.begin(), seen.begin() + Mp);
  out.push_back(std::accumulate(seen.begin() + Mp, seen.end(), 0) + 1);  // 1 when none
  return out;
}
TEST(NqsLanes, UnitLoopsCoverThePaddedUnitsOnce) {
  using prism::nqs::padded_units;
  using prism::nqs::unit_bound;
  EXPECT_EQ(padded_units<32>(200), 224);
  EXPECT_EQ(padded_units<32>(16), 32);
  EXPECT_EQ(padded_units<32>(256), 256);
  EXPECT_EQ(padded_units<1>(200), 200);
  EXPECT_EQ(unit_bound<32>(224), 7);
  EXPECT_EQ(unit_bound<32>(32), 1);
  EXPECT_EQ(unit_bound<32>(256), 8);
  EXPECT_EQ(unit_bound<32>(288), 0);
  EXPECT_EQ(unit_bound<1>(16), 16);
  EXPECT_EQ(unit_bound<1>(17), 0);
  const auto once = [](std::vector<int> const& v) {
    return std::all_of(v.begin(), v.end(), [](int n) { return n == 1; });
  };
  EXPECT_TRUE(once(visits<32, 7>(224)));
  EXPECT_TRUE(once(visits<32, 1>(32)));
  EXPECT_TRUE(once(visits<32, 0>(288)));
  EXPECT_TRUE(once(visits<1, 16>(10)));
  EXPECT_TRUE(once(visits<1, 0>(200)));
}
