// Oscillator networks against exact results: the mean-field XY
// self-consistency (first and second order), equipartition, Ott-Antonsen's
// r = sqrt(1 - 2 Delta / K) for Lorentzian frequencies, the stationary
// distribution of two coupled oscillators (von Mises) with the
// Euler-Maruyama bias of the discretised Ornstein-Uhlenbeck process and
// BAOAB's exact configurational sampling and second-order velocity bias,
// the noisy Lorentzian threshold 2 (Delta + T), a complete graph against the
// all-to-all path, gather blocks against one pass, the step's load orders
// and identical frequencies against their twins, conserved winding of
// twisted states, bad graphs, and the step kernel's cover of the oscillators
// with their documented noise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/deck.hpp"
#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "kernels/oscillators/langevin.hpp"
#include "oscillators/workload.hpp"
#include "test_env.hpp"

namespace prism::oscillators {
namespace {

// Runs a deck's [oscillators] section (rank 0 holds the results).
std::unique_ptr<OscillatorsWorkload> run(const std::string& body, std::uint64_t seed = 5) {
  auto deck = Deck::from_string("[oscillators]\n" + body, "test.toml");
  auto w = make_workload(deck);
  auto* osc = dynamic_cast<OscillatorsWorkload*>(w.release());
  test::run_workload(*osc, seed);
  return std::unique_ptr<OscillatorsWorkload>(osc);
}

// I_n(x) by its series (x up to ~30 here).
double bessel_i(int n, double x) {
  double term = std::pow(x / 2, n) / std::tgamma(n + 1.0), sum = 0;
  for (int k = 0; k < 200 && term > 1e-18 * sum; ++k) {
    sum += term;
    term *= (x / 2) * (x / 2) / ((k + 1.0) * (k + 1.0 + n));
  }
  return sum;
}
// The mean-field XY order parameter: the largest root of r = I1(K r / T) / I0(K r / T).
double mean_field_r(double K, double T) {
  double lo = 1e-9, hi = 1.0;
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi), x = K * mid / T;
    (mid < bessel_i(1, x) / bessel_i(0, x) ? lo : hi) = mid;
  }
  return lo;
}
// E|cos(delta / 2)| under the von Mises density exp(kappa cos delta) (quadrature).
double von_mises_r(double kappa) {
  double num = 0, den = 0;
  const int n = 200000;
  for (int k = 0; k < n; ++k) {
    const double x = -M_PI + (k + 0.5) * 2 * M_PI / n, w = std::exp(kappa * (std::cos(x) - 1));
    num += w * std::fabs(std::cos(x / 2));
    den += w;
  }
  return num / den;
}

bool root() {
  return test::world->root();
}

TEST(OscillatorsPhysics, FirstOrderMeanFieldSelfConsistency) {
  // T = 1: K_c = 2.  The tolerance allows for N = 4000 and the O(dt) bias of
  // Euler-Maruyama (a wrong noise amplitude moves r by more than 0.1 here).
  auto w =
      run("oscillators = 4000\nK = [1.0, 3.0, 4.0]\nT = 1.0\ndt = 0.005\nsteps = 8000\n"
          "transient = 2000\nrecord_every = 20\nreplicas = 2\n");
  if (!root()) return;
  const auto& a = w->averages();
  EXPECT_LT(a.r[0], 0.05) << "below K_c the network stays incoherent";
  for (int k : {1, 2}) {
    const double K = w->config().K[k], exact = mean_field_r(K, 1.0);
    EXPECT_NEAR(a.r[k], exact, 4 * a.r_err[k] + 0.006) << "K = " << K;
    // coupling energy per oscillator: -K r^2 / 2 up to the 1/N term
    EXPECT_NEAR(a.potential[k], -K * exact * exact / 2, 0.02) << "K = " << K;
  }
}

TEST(OscillatorsPhysics, SecondOrderSameOrderParameterAndEquipartition) {
  // The Gibbs measure does not depend on m: the same r; and m <v^2> = T.
  auto w =
      run("order = \"second\"\nm = 2.0\ngamma = 1.0\noscillators = 3000\nK = [4.0]\nT = 1.0\ndt = 0.02\n"
          "steps = 6000\ntransient = 1500\nrecord_every = 10\nreplicas = 2\n");
  if (!root()) return;
  const auto& a = w->averages();
  EXPECT_NEAR(a.r[0], mean_field_r(4.0, 1.0), 4 * a.r_err[0] + 0.006);
  EXPECT_NEAR(a.temperature[0], 1.0, 4 * a.temperature_err[0] + 0.01);
}

TEST(OscillatorsPhysics, DrivePowerOfIdenticalFrequencies) {
  // Identical omega0, all-to-all: the couplings sum to zero over the pairs, so
  // sum_i dtheta_i = N omega0 dt + noise and the drive power per oscillator is
  // omega0^2 in expectation at any K (per record interval of length 1 its
  // noise is omega0 sqrt(2 T / N) = 0.007 here); sigma = P / T.  A power
  // measured from the start instead of the last record would grow with t.
  auto w =
      run("oscillators = 20000\nK = [0.5, 3.0]\nomega = 0.7\nT = 1.0\ndt = 0.01\nsteps = 4000\n"
          "transient = 1000\nrecord_every = 100\n");
  if (!root()) return;
  const auto& a = w->averages();
  for (int k : {0, 1}) {
    EXPECT_NEAR(a.power[k], 0.49, 5 * a.power_err[k] + 0.005) << "K = " << w->config().K[k];
    EXPECT_NEAR(a.entropy_production[k], a.power[k] / 1.0, 1e-12);
    EXPECT_LT(a.power_err[k], 0.01);
  }
}

TEST(OscillatorsPhysics, OttAntonsenLorentzian) {
  // Noiseless, Lorentzian frequencies of half-width 0.5: K_c = 1, and
  // r = sqrt(1 - 2 Delta / K) above it (N -> infinity; N = 20000 here).
  auto w =
      run("oscillators = 20000\nK = [0.6, 2.0, 4.0]\nfrequencies = \"lorentzian\"\nspread = 0.5\n"
          "dt = 0.02\nsteps = 3000\ntransient = 1500\nrecord_every = 10\n");
  if (!root()) return;
  const auto& a = w->averages();
  EXPECT_LT(a.r[0], 0.05);
  EXPECT_NEAR(a.r[1], std::sqrt(1 - 2 * 0.5 / 2.0), 0.02);
  EXPECT_NEAR(a.r[2], std::sqrt(1 - 2 * 0.5 / 4.0), 0.02);
  // Locked oscillators share one mean velocity; drifting ones do not.
  EXPECT_GT(a.velocity_spread[0], a.velocity_spread[2]);
}

TEST(OscillatorsPhysics, NoiseMovesTheLorentzianThresholdTo2DeltaPlus2T) {
  // Lorentzian half-width 0.25 and noise T = 0.25: K_c = 2 (Delta + T) = 1.
  // Incoherent at K = 0.8, synchronised at 1.3.  Without the noise K_c
  // would be 0.5 (r = 0.61 at K = 0.8), with twice the noise 1.5 (r ~ 0
  // at 1.3): either fails.
  auto w =
      run("oscillators = 10000\nK = [0.8, 1.3]\nfrequencies = \"lorentzian\"\nspread = 0.25\nT = 0.25\n"
          "dt = 0.02\nsteps = 4000\ntransient = 2000\nrecord_every = 10\n");
  if (!root()) return;
  const auto& a = w->averages();
  EXPECT_LT(a.r[0], 0.06) << "below K_c = 2 (Delta + T)";
  EXPECT_GT(a.r[1], 0.3) << "above K_c = 2 (Delta + T)";
}

// Two oscillators joined by one edge of strength K: delta = theta_2 -
// theta_1 has the stationary density exp((K / T) cos delta), and r =
// |cos(delta / 2)|.  Linearised, first order is an Ornstein-Uhlenbeck
// process whose Euler-Maruyama chain has variance T / (K (1 - K dt)), a
// relative bias K dt / (1 - K dt) of 1 - r at small variance.
TEST(OscillatorsPhysics, EulerMaruyamaBiasIsTheOrnsteinUhlenbeckOne) {
  const double K = 1.0, T = 0.05, exact = von_mises_r(K / T);
  for (double dt : {0.01, 0.1, 0.2}) {
    auto w =
        run("oscillators = 2\ncoupling = \"complete\"\nK = [1.0]\nT = 0.05\ndt = " + std::to_string(dt) +
            "\nsteps = " + std::to_string(int(4000 / dt)) + "\ntransient = " + std::to_string(int(100 / dt)) +
            "\nrecord_every = " + std::to_string(int(std::ceil(1 / dt))) + "\nreplicas = 200\n");
    if (!root()) continue;
    const auto& a = w->averages();
    const double bias = (1 - a.r[0]) / (1 - exact) - 1, predicted = K * dt / (1 - K * dt);
    const double err = a.r_err[0] / (1 - exact);
    EXPECT_NEAR(bias, predicted, 4 * err + 0.1 * predicted + 0.01) << "dt = " << dt;
  }
}

TEST(OscillatorsPhysics, BaoabSamplesTheConfigurationsAtLargeSteps) {
  // Second order at dt = 0.2, where first order is 25 % off: r stays the
  // von Mises value (relative coordinate at temperature 2T, potential -2K cos).
  const double exact = von_mises_r(1.0 / 0.05);
  auto w =
      run("order = \"second\"\nm = 1.0\ngamma = 2.0\noscillators = 2\ncoupling = \"complete\"\nK = [1.0]\n"
          "T = 0.05\ndt = 0.2\nsteps = 20000\ntransient = 500\nrecord_every = 5\nreplicas = 200\n");
  if (!root()) return;
  const auto& a = w->averages();
  EXPECT_NEAR((1 - a.r[0]) / (1 - exact), 1.0, 4 * a.r_err[0] / (1 - exact) + 0.03);
}

TEST(OscillatorsPhysics, BaoabVelocityBiasIsSecondOrderInTheStep) {
  // Weak order 2, on a step-size sweep.  Two oscillators at K / T = 20 are
  // nearly harmonic in delta (omega^2 = 2 K / m); BAOAB's velocity after a
  // whole step then has variance (T / m)(1 - dt^2 omega^2 / 4) for delta
  // and the exact T / (2 m) for the centre of mass, so the measured
  // temperature is T (1 - dt^2 K / (4 m)): 0.25 %, 1 % and 4 % low at
  // dt = 0.1, 0.2, 0.4, while the positions stay exact.  (A velocity
  // recorded without the step's last half kick happens to have the exact
  // variance, and fails here.)
  for (double dt : {0.1, 0.2, 0.4}) {
    auto w =
        run("order = \"second\"\nm = 1.0\ngamma = 2.0\noscillators = 2\ncoupling = \"complete\"\n"
            "K = [1.0]\nT = 0.05\ndt = " +
            std::to_string(dt) + "\nsteps = " + std::to_string(int(std::lround(2000 / dt))) +
            "\ntransient = " + std::to_string(int(std::lround(50 / dt))) +
            "\nrecord_every = " + std::to_string(int(std::ceil(1 / dt - 1e-9))) + "\nreplicas = 200\n");
    if (!root()) continue;
    const auto& a = w->averages();
    const double bias = 1 - a.temperature[0] / 0.05, predicted = dt * dt / 4,
                 err = a.temperature_err[0] / 0.05;
    EXPECT_NEAR(bias, predicted, 4 * err + 0.1 * predicted) << "dt = " << dt;
  }
}

TEST(OscillatorsPhysics, CompleteGraphEqualsAllToAll) {
  // K_ij = K / (N - 1) on the complete graph is K' / N all-to-all with K' = K N / (N - 1).
  const std::string common =
      "oscillators = 64\nT = 0.5\ndt = 0.01\nsteps = 400\ntransient = 0\nrecord_every = 4\n"
      "frequencies = \"gaussian\"\nspread = 0.3\n";
  auto graph = run(common + "coupling = \"complete\"\nK = [3.0]\n");
  auto all = run(common + "coupling = \"all\"\nK = [" + std::to_string(3.0 * 64 / 63) + "]\n");
  if (!root()) return;
  const auto &rg = graph->records().r, &ra = all->records().r;
  ASSERT_EQ(rg.size(), ra.size());
  double worst = 0;
  for (std::size_t k = 0; k < rg.size(); ++k) worst = std::max(worst, std::fabs(rg[k] - ra[k]));
  EXPECT_LT(worst, 1e-6);
  EXPECT_GT(ra.back(), 0.5);
}

// Two runs' records and final phases, bit for bit.
void expect_same_records(const OscillatorsWorkload& a, const OscillatorsWorkload& b,
                         const std::string& what) {
  const auto &x = a.records(), &y = b.records();
  EXPECT_EQ(x.final_phases, y.final_phases) << what;
  EXPECT_EQ(x.r, y.r) << what;
  EXPECT_EQ(x.potential, y.potential) << what;
  EXPECT_EQ(x.kinetic, y.kinetic) << what;
}

TEST(OscillatorsPhysics, GatherBlocksGiveTheSameBits) {
  // A row summed in segments, its running sums carried between the passes,
  // adds the same terms in the same order as one pass: every record and
  // final phase is bitwise that of one block, for an even and an uneven
  // split, first and second order, with a phase lag (both sums used).
  for (const char* order : {"first", "second"}) {
    const std::string common =
        std::string("order = \"") + order +
        "\"\noscillators = 3001\ncoupling = \"random\"\nmean_degree = 12\n"
        "K = [0.5, 2.0]\nalpha = 0.3\nT = 0.4\nfrequencies = \"gaussian\"\nspread = 0.2\n"
        "dt = 0.01\nsteps = 60\nrecord_every = 3\ntransient = 0\nfinal_phases = true\n";
    auto one = run(common + "gather_blocks = 1\n");
    for (int blocks : {2, 7}) {
      auto split = run(common + "gather_blocks = " + std::to_string(blocks) + "\n");
      if (!root()) continue;
      ASSERT_EQ(one->records().final_phases.size(), split->records().final_phases.size());
      expect_same_records(*one, *split, std::string(order) + ", " + std::to_string(blocks) + " blocks");
    }
  }
}

TEST(OscillatorsPhysics, LoadOrdersAndIdenticalFrequenciesGiveTheSameBits) {
  // The step's loads after the noise draw (the default), before it, or one
  // draw ahead (PRISM_OSCILLATORS_LOADS = 0, 1, 2) change when a thread
  // reads its oscillators, never what it computes: every record and final
  // phase is the same bits.  N = 3001 ends in a partial block of 128 and a
  // partial group of 32.  Identical frequencies, kept as one number, give
  // the bits of the same frequency read from a file, one per oscillator.
  const auto dir = std::filesystem::temp_directory_path() / ("prism_osc_loads_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto file = (dir / "freq.h5").string();
  if (root()) {
    H5Writer out(file);
    out.write("/frequencies", std::vector<double>(3001, 0.7));
    out.commit(true);
  }
  test::world->barrier();
  for (const char* coupling : {"all", "random"})
    for (const char* order : {"first", "second"}) {
      const std::string common =
          std::string("order = \"") + order + "\"\ncoupling = \"" + coupling +
          "\"\noscillators = 3001\nK = [1.5]\nT = 0.4\n" +
          (std::string(coupling) == "random" ? "mean_degree = 6\n" : "") +
          "dt = 0.01\nsteps = 30\nrecord_every = 3\ntransient = 0\nfinal_phases = true\n";
      const std::string what = std::string(coupling) + ", " + order + " order";
      const auto identical = run(common + "omega = 0.7\n");
      const auto from_file = run(common + "frequencies = \"file\"\nfrequency_file = \"" + file + "\"\n");
      if (root()) expect_same_records(*identical, *from_file, what + ": identical against the file's");
      for (const char* loads : {"1", "2"}) {
        ::setenv("PRISM_OSCILLATORS_LOADS", loads, 1);
        const auto other = run(common + "omega = 0.7\n");
        ::unsetenv("PRISM_OSCILLATORS_LOADS");
        if (root()) expect_same_records(*identical, *other, what + ": loads " + loads);
      }
    }
  test::world->barrier();
  if (root()) std::filesystem::remove_all(dir);
}

TEST(OscillatorsPhysics, TwistedStatesKeepTheirWinding) {
  // Noiseless ring (k = 1) of slightly different oscillators started in the
  // q-twisted state: the phases move, the winding number does not.
  for (int q : {0, 3, -5}) {
    auto w =
        run("oscillators = 100\ncoupling = \"ring\"\nK = [2.0]\nfrequencies = \"gaussian\"\nspread = 0.05\n"
            "omega = 1.0\ninitial = \"twisted\"\nwinding = " +
            std::to_string(q) + "\ndt = 0.05\nsteps = 4000\nrecord_every = 100\nfinal_phases = true\n");
    if (!root()) continue;
    const auto& th = w->records().final_phases;
    double turns = 0;
    for (int i = 0; i < 100; ++i) turns += std::remainder(th[(i + 1) % 100] - th[i], 2 * M_PI);
    EXPECT_NEAR(turns / (2 * M_PI), q, 1e-9) << "q = " << q;
    EXPECT_NEAR(th[0], 200.0 + 0.0, 20.0) << "the phases advance at omega ~ 1";
  }
}

// A step that records, per oscillator, how often it ran and its normal.
struct RecordOscillator {
  Kokkos::View<int*> count;
  Kokkos::View<double*> normal;
  struct Loaded {};
  KOKKOS_INLINE_FUNCTION void load(std::int64_t, int, Loaded&) const {}
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t first, int n, const float* xi, const Loaded&,
                                         double*) const {
    for (int k = 0; k < n; ++k) {
      Kokkos::atomic_add(&count(first + 32 * k), 1);
      normal(first + 32 * k) = xi[k];
    }
  }
};
struct RecordUnit {
  RecordOscillator step;
  KOKKOS_INLINE_FUNCTION RecordOscillator operator()(std::int64_t) const { return step; }
};

// Every oscillator is stepped once, with the normal that docs/oscillators.md
// gives it: normal (i / 32) mod 4 of the Box-Muller pairs of the Philox draw
// g = (i / 128) * 32 + i mod 32 (words 0, 1: r cos, r sin; words 2, 3: the
// second pair).  N = 7000 ends in a partial block of 128 and a partial
// group of 32, over four chunks.
TEST(OscillatorsKernels, StepCoversEveryOscillatorOnceWithItsNoise) {
  const std::int64_t N = 7000, chunks = (N + kChunk - 1) / kChunk, step = 5, replica = 2;
  const std::uint64_t seed = 11;
  RecordUnit unit{{Kokkos::View<int*>("count", N), Kokkos::View<double*>("normal", N)}};
  Kokkos::View<std::int64_t*> rep("replica", 1);
  Kokkos::deep_copy(rep, replica);
  Kokkos::View<double*> partial("partial", chunks);
  noisy_chunk_sums<0>(Kokkos::DefaultExecutionSpace(), 1, N, 0, chunks, seed, step, rep, unit, partial,
                      "test");
  const auto count = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), unit.step.count);
  const auto normal = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), unit.step.normal);
  double sum = 0, sum2 = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    ASSERT_EQ(count(i), 1) << "oscillator " << i;
    const auto g = std::uint32_t((i / 128) * 32 + i % 32);
    const auto w = rng::philox(seed, g, std::uint32_t(step), std::uint32_t(replica), rng::oscillator_noise);
    const int k = int((i / 32) % 4), pair = k / 2;
    const double u1 = double((w.v[2 * pair] >> 8) + 1u) * 0x1p-24,
                 u2 = double(w.v[2 * pair + 1] >> 8) * 0x1p-24;
    const double r = std::sqrt(-2.0 * std::log(u1)), angle = 2 * M_PI * u2;
    const double expected = r * (k % 2 == 0 ? std::cos(angle) : std::sin(angle));
    EXPECT_NEAR(normal(i), expected, 2e-5 * (1 + std::fabs(expected))) << "oscillator " << i;
    sum += normal(i);
    sum2 += normal(i) * normal(i);
  }
  // Standard normals: mean 0 and variance 1 within 5 standard errors.
  EXPECT_NEAR(sum / N, 0.0, 5 / std::sqrt(double(N)));
  EXPECT_NEAR(sum2 / N, 1.0, 5 * std::sqrt(2.0 / N));
}

TEST(OscillatorsInput, BadGraphFilesAreRefused) {
  const auto dir = std::filesystem::temp_directory_path() / ("prism_osc_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, std::vector<double> edges, std::vector<double> weights) {
    if (!root()) return;
    H5Writer out((dir / name).string());
    out.write("/edges", edges, {edges.size() / 2, 2});
    if (!weights.empty()) out.write("/weights", weights);
    out.commit(true);
  };
  write("range.h5", {0, 1, 1, 7}, {});
  write("nan.h5", {0, 1, 1, 2}, {1.0, NAN});
  write("loop.h5", {0, 1, 2, 2}, {});
  write("twice.h5", {0, 1, 1, 2, 1, 0}, {});
  if (root()) {
    H5Writer out((dir / "freq.h5").string());
    out.write("/frequencies", std::vector<double>{0.1, 0.2, 0.3});
    out.commit(true);
  }
  test::world->barrier();
  for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{
           {"range.h5", "names oscillator 7"},
           {"nan.h5", "/weights[1] is not finite"},
           {"loop.h5", "/edges row 1 joins oscillator 2 to itself"},
           {"twice.h5", "/edges rows 0 and 2 join the same pair (0, 1)"}}) {
    auto deck = Deck::from_string(
        "[oscillators]\noscillators = 4\ncoupling = \"file\"\nfile = \"" + (dir / file).string() + "\"\n",
        "test.toml");
    try {
      make_workload(deck);
      ADD_FAILURE() << file << " was accepted";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("oscillators.file"), std::string::npos) << e.what();
    }
  }
  // Frequencies from a file: one per oscillator.
  auto deck =
      Deck::from_string("[oscillators]\noscillators = 4\nfrequencies = \"file\"\nfrequency_file = \"" +
                            (dir / "freq.h5").string() + "\"\n",
                        "test.toml");
  try {
    make_workload(deck);
    ADD_FAILURE() << "3 frequencies for 4 oscillators were accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/frequencies has 3 entries for 4 oscillators"), std::string::npos)
        << e.what();
  }
  auto good =
      Deck::from_string("[oscillators]\noscillators = 3\nfrequencies = \"file\"\nfrequency_file = \"" +
                            (dir / "freq.h5").string() + "\"\nsteps = 10\nrecord_every = 5\n",
                        "test.toml");
  EXPECT_NO_THROW(make_workload(good));
  test::world->barrier();
  if (root()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace prism::oscillators
