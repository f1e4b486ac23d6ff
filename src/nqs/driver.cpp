#include "nqs/driver.hpp"

#include <Kokkos_Core.hpp>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/statistics.hpp"
#include "core/timers.hpp"
#include "kernels/common/dense.hpp"
#include "kernels/common/dense_blocked.hpp"
#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/common/reductions.hpp"
#include "kernels/nqs/complex_rbm.hpp"
#include "kernels/nqs/model.hpp"
#include "kernels/nqs/observables.hpp"
#include "kernels/nqs/sampler.hpp"
#include "kernels/nqs/sr.hpp"
#include "kernels/nqs/tuning.hpp"
#include "nqs/inspect.hpp"

namespace prism::nqs {

using Exec = Kokkos::DefaultExecutionSpace;

IterationStats energy_statistics(const std::vector<double>& e, std::int64_t chains, std::int64_t spc) {
  const auto c = chain_statistics(e, chains, spc);
  IterationStats st;
  st.energy_mean = c.mean;
  st.energy_err = c.error;
  st.energy_variance = c.variance;
  st.r_hat = c.r_hat;
  return st;
}

double log_psi(const std::vector<double>& p, int N, int M, const std::vector<std::int8_t>& s) {
  double lp = 0;
  for (int i = 0; i < N; ++i) lp += p[i] * s[i];
  for (int j = 0; j < M; ++j) {
    double th = p[N + j];
    for (int i = 0; i < N; ++i) th += p[N + M + j + std::size_t(M) * i] * s[i];
    lp += std::log(std::cosh(th));
  }
  return lp;
}

std::complex<double> log_psi_complex(const std::vector<double>& p, int N, int M,
                                     const std::vector<std::int8_t>& s) {
  const std::size_t P = std::size_t(N) + M + std::size_t(N) * M;
  auto w = [&](std::size_t k) { return std::complex<double>(p[k], p[P + k]); };
  std::complex<double> lp = 0;
  for (int i = 0; i < N; ++i) lp += w(i) * double(s[i]);
  for (int j = 0; j < M; ++j) {
    std::complex<double> th = w(N + j);
    for (int i = 0; i < N; ++i) th += w(N + M + j + std::size_t(M) * i) * double(s[i]);
    lp += std::log(std::cosh(th));
  }
  return lp;
}

std::vector<std::int32_t> translation_table(const Config& cfg) {
  const int Lx = int(cfg.Lx), Ly = int(cfg.Ly), N = Lx * Ly;
  std::vector<std::int32_t> shift(std::size_t(N) * N);
  for (int k = 0; k < N; ++k)
    for (int t = 0; t < N; ++t)
      shift[std::size_t(k) * N + t] = ((k / Lx + t / Lx) % Ly) * Lx + (k % Lx + t % Lx) % Lx;
  return shift;
}

std::vector<double> expand_symmetric_parameters(const Config& cfg, const std::vector<double>& sym,
                                                const std::vector<std::int32_t>* table) {
  const int N = int(cfg.sites()), F = int(cfg.features()), M = F * N;
  std::vector<std::int32_t> own;
  if (!table) table = &(own = translation_table(cfg));
  const auto& shift = *table;
  std::vector<double> w(std::size_t(cfg.parameters()));
  for (int i = 0; i < N; ++i) w[i] = sym[0];
  for (int f = 0; f < F; ++f)
    for (int t = 0; t < N; ++t) {
      const int j = f * N + t;
      w[N + j] = sym[1 + f];
      // W(j, k + t) = w_f(k), column-major (M, N) after a and b
      for (int k = 0; k < N; ++k)
        w[N + M + j + std::size_t(M) * shift[std::size_t(k) * N + t]] = sym[1 + F + std::size_t(f) * N + k];
    }
  return w;
}

std::vector<double> network_weights(const Config& cfg, const std::vector<double>& params,
                                    const std::vector<std::int32_t>* table) {
  if (!cfg.translation_symmetry) return params;
  if (!cfg.complex_parameters) return expand_symmetric_parameters(cfg, params, table);
  const auto half = static_cast<std::ptrdiff_t>(params.size() / 2);
  auto w = expand_symmetric_parameters(cfg, {params.begin(), params.begin() + half}, table);
  const auto im = expand_symmetric_parameters(cfg, {params.begin() + half, params.end()}, table);
  w.insert(w.end(), im.begin(), im.end());
  return w;
}

struct Vmc::Impl {
  const Config cfg;  // a copy: the caller's deck may change or go away
  std::uint64_t seed;
  const MpiContext& mpi;
  // P: the real parameters SR updates; Pw: the network's weights a, b, W
  // (P = 2 Pw with complex parameters: real parts, then imaginary parts;
  // P = 1 + F + F N shared ones with translation symmetry, expanded into
  // the Pw weights that the sampler reads).
  int N, M, P, Pw;
  const bool cplx, sym;
  IndexVector shift;  // translation symmetry: site k + t at k * N + t
  std::vector<std::int32_t> shift_host;
  Block mine;
  std::vector<double> params_host;
  Vector params;
  // The sampler's tables and chain angles.  precision = "float" samples with
  // the float pair while the weights fit float tables (fits_float) and with
  // the double pair otherwise, decided afresh at every parameter update from
  // the parameters alone (so on every rank alike, and a restart repeats it);
  // the double pair is allocated only when needed.  Spins and counters are
  // shared.
  const bool want_single;
  bool single = false;         // this iteration samples in float
  bool warned_double = false;  // the fallback to double was announced
  RbmModel<double> model;
  RbmModel<float> model_f;
  ChainState<double> chains;
  ChainState<float> chains_f;
  SampleBuffers samples;
  // The complex RBM (cplx): its model (the real parts in model's views, the
  // imaginary parts beside them), chains and per-sample angles.
  ComplexRbm cmodel;
  ComplexChainState cchains;
  ComplexSamples csamples;
  ComplexTable sample_tanh;         // complex with translation symmetry: tanh theta per sample
  std::vector<double> energies_im;  // imaginary parts of sample()'s local energies
  Matrix O;  // (local samples, P), centred in place for SR; (2 x local samples, P) in real form when cplx
  // sr_precision = "float": the centred O rounded to float, which CG's
  // products read instead of O.
  Kokkos::View<float**, Kokkos::LayoutLeft> o_float;
  // A bound on |O| entries for the exact projections: 2 for the real RBM
  // (|O| <= 1 before centring); from the samples for the complex one.
  double o_bound = 2.0;
  // Work vectors of the SR solve, allocated once.
  Vector work_p, work_s;
  Matrix work_blocks;  // (samples, column blocks) of row_products
  Kokkos::View<std::int64_t*> fixed;
  std::vector<double> last_update;  // warm start of the next CG solve
  // sr_solver = "cholesky": all ranks' O (more than one rank), S, and S +
  // shift with its Cholesky factor on the host, their host copies and the
  // blocked factor's workspace, allocated once for the run (the allgather's
  // own buffers are still made per iteration).
  Matrix o_all, s_matrix;
  Matrix::HostMirror o_mine_h, o_all_h, s_matrix_h;
  dense::BlockedWorkspace<Matrix::memory_space> factor_ws;
  std::vector<double> s_host, s_factor;
  bool profile = false;                    // fence and time the sampling kernels
  std::array<double, 2> kernel_seconds{};  // angle refresh, chain sampling
  // Acceptance rate of the last sample() over all ranks (< 0: none yet),
  // which chooses the speculative GPU sampler for the next one.
  double acceptance = -1;
  Speculation speculation = Speculation::automatic;
  bool speculated = false;  // the last sample() ran the speculative kernel
  // What sample() brings to the host, allocated once: page-locked on CUDA,
  // so that the three copies are asynchronous and share one fence (a fresh
  // pageable mirror per call costs an allocation and a synchronous copy
  // each); on host backends, the device views.
  template <class V>
  using HostCopy = decltype(Kokkos::create_mirror_view(compat::PinnedSpace(), std::declval<V>()));
  HostCopy<Vector> energy_host, energy_im_host;
  HostCopy<CountVector> accepted_host, proposed_host;
  std::vector<double> energies;  // sample()'s result
  // The same for each S-product of the SR solve (the vector in, the
  // fixed-point sums out), about 70 per SR iteration in the benchmark.
  HostCopy<Vector> work_p_host;
  HostCopy<CountVector> fixed_host;
  // Observables: the columns (uploaded on first use), their per-sample
  // values for a block of columns at a time, and a vector of ones.
  ObservableColumns observable_columns;
  Matrix observable_block;
  Vector sample_ones;

  Impl(const Config& c, std::uint64_t s, const MpiContext& m)
      : cfg(c),
        seed(s),
        mpi(m),
        N(int(c.sites())),
        M(int(c.hidden())),
        P(int(c.real_parameters())),
        Pw(int(c.parameters())),
        cplx(c.complex_parameters),
        sym(c.translation_symmetry),
        mine(block_partition(c.chains, m.size(), m.rank())),
        want_single(c.precision == Precision::single_precision) {
    const auto lat = make_lattice(cfg);
    // Parameters: seeded normal of width init_scale, the same on every rank.
    params_host.resize(P);
    for (int k = 0; k < P; k += 2) {
      const auto u = rng::philox(seed, static_cast<std::uint32_t>(k), 0, 0, rng::nqs_initial_parameters);
      const double u1 = (u.v[0] + 1.0) * 0x1p-32, u2 = u.v[1] * 0x1p-32;
      const double r = std::sqrt(-2.0 * std::log(u1));
      params_host[k] = cfg.init_scale * r * std::cos(2 * M_PI * u2);
      if (k + 1 < P) params_host[k + 1] = cfg.init_scale * r * std::sin(2 * M_PI * u2);
    }
    params = Vector("nqs::parameters", (cplx ? 2 : 1) * Pw);
    if (sym) {
      shift_host = translation_table(cfg);
      shift = IndexVector("nqs::translations", shift_host.size());
      auto h = Kokkos::create_mirror_view(shift);
      for (std::size_t k = 0; k < shift_host.size(); ++k) h(k) = shift_host[k];
      Kokkos::deep_copy(shift, h);
      o_bound = 2.0 * N;  // each shared derivative sums N terms of modulus <= 1 (complex: from the samples)
    }
    model.N = N;
    model.M = M;
    model.Mp = padded_units<lanes_per_chain<Exec>>(M);
    model.n_bonds = int(lat.bond_i.size());
    model.n_bonds2 = int(lat.bond2_i.size());
    model.tfim = cfg.hamiltonian == Hamiltonian::tfim;
    model.move = model.tfim ? Move::single_flip : Move::neighbour_exchange;
    model.J = cfg.J;
    model.h = cfg.h;
    model.Delta = cfg.Delta;
    model.J2 = cfg.J2;
    model.offdiag_sign = (!model.tfim && cfg.marshall_sign) ? -1.0 : 1.0;
    model.a = Kokkos::subview(params, std::make_pair(0, N));
    model.b = Kokkos::subview(params, std::make_pair(N, N + M));
    model.W = Matrix(params.data() + N + M, M, N);
    model.log_pref = Matrix("nqs::log_prefactor", N, 2);
    model.pref = Matrix("nqs::prefactor", N, 2);
    // The proposals' bonds (nearest neighbours) first, then the J2 bonds.
    model.bond_i = IndexVector("nqs::bond_i", model.n_bonds + model.n_bonds2);
    model.bond_j = IndexVector("nqs::bond_j", model.n_bonds + model.n_bonds2);
    auto bi = Kokkos::create_mirror_view(model.bond_i);
    auto bj = Kokkos::create_mirror_view(model.bond_j);
    for (int e = 0; e < model.n_bonds + model.n_bonds2; ++e) {
      const bool second = e >= model.n_bonds;
      bi(e) = second ? lat.bond2_i[e - model.n_bonds] : lat.bond_i[e];
      bj(e) = second ? lat.bond2_j[e - model.n_bonds] : lat.bond_j[e];
    }
    Kokkos::deep_copy(model.bond_i, bi);
    Kokkos::deep_copy(model.bond_j, bj);

    const int C = int(mine.count), S = int(mine.count * cfg.samples_per_chain);
    chains.spins = ChainSpins("nqs::chain_spins", C, N);
    chains.accepted = CountVector("nqs::accepted", C);
    chains.proposed = CountVector("nqs::proposed", C);
    if (want_single) {
      model_f = make_model<float>();
      chains_f.spins = chains.spins;
      chains_f.accepted = chains.accepted;
      chains_f.proposed = chains.proposed;
      chains_f.theta = ChainTable<float>("nqs::theta", C, model.Mp);
      chains_f.tanh_theta = ChainTable<float>("nqs::tanh_theta", C, model.Mp);
    }
    samples.spins = SpinMatrix("nqs::sample_spins", S, N);
    samples.tanh_theta = Matrix("nqs::sample_tanh", S, cplx ? 0 : M);
    samples.local_energy = Vector("nqs::local_energy", S);
    energy_host = Kokkos::create_mirror_view(compat::PinnedSpace(), samples.local_energy);
    accepted_host = Kokkos::create_mirror_view(compat::PinnedSpace(), chains.accepted);
    proposed_host = Kokkos::create_mirror_view(compat::PinnedSpace(), chains.proposed);
    const int rows = cplx ? 2 * S : S;
    O = Matrix("nqs::log_derivatives", rows, P);
    work_p = Vector("nqs::work_p", P);
    work_s = Vector("nqs::work_s", rows);
    work_blocks = Matrix("nqs::work_blocks", rows, common::row_block_count(P));
    if (cplx) {
      static_cast<RbmCommon&>(cmodel) = model;
      cmodel.a_im = Kokkos::subview(params, std::make_pair(Pw, Pw + N));
      cmodel.b_im = Kokkos::subview(params, std::make_pair(Pw + N, Pw + N + M));
      cmodel.W_im = Matrix(params.data() + Pw + N + M, M, N);
      cchains.spins = chains.spins;
      cchains.accepted = chains.accepted;
      cchains.proposed = chains.proposed;
      cchains.theta = ComplexChainTable("nqs::complex_theta", C, M);
      cchains.lcosh = ComplexChainTable("nqs::complex_log_cosh", C, M);
      csamples.theta = ComplexTable("nqs::sample_complex_theta", S, M);
      if (sym) sample_tanh = ComplexTable("nqs::sample_complex_tanh", S, M);
      csamples.local_energy_im = Vector("nqs::local_energy_im", S);
      energy_im_host = Kokkos::create_mirror_view(compat::PinnedSpace(), csamples.local_energy_im);
    }
    work_p_host = Kokkos::create_mirror_view(compat::PinnedSpace(), work_p);
    fixed = Kokkos::View<std::int64_t*>("nqs::fixed_point", P);
    fixed_host = Kokkos::create_mirror_view(compat::PinnedSpace(), fixed);

    // Initial chains: random spins (TFIM) or a random S^z = 0 state (Heisenberg),
    // from each chain's own counter-based stream.
    auto hs = Kokkos::create_mirror_view(chains.spins);
    for (int c = 0; c < C; ++c) {
      const auto gid = static_cast<std::uint32_t>(mine.begin + c);
      std::vector<std::int8_t> s(N);
      for (int i = 0; i < N; ++i) {
        const bool up =
            model.tfim ? (rng::philox(seed, gid, i, 0, rng::nqs_initial_spins).v[0] & 1) != 0 : i < N / 2;
        s[i] = up ? 1 : -1;
      }
      if (!model.tfim) {
        for (int i = N - 1; i > 0; --i)
          std::swap(s[i], s[rng::philox(seed, gid, i, 1, rng::nqs_initial_spins).v[0] % (i + 1)]);
      }
      for (int i = 0; i < N; ++i) hs(c, i) = s[i];
    }
    Kokkos::deep_copy(chains.spins, hs);
    upload_parameters();
  }

  // A model in another precision: the double model's parameter, prefactor
  // and bond views, with tables of its own.
  template <class Real>
  RbmModel<Real> make_model() const {
    RbmModel<Real> f;
    static_cast<RbmCommon&>(f) = model;
    f.Wr = Table<Real>("nqs::W_sampler", model.Mp, N);
    f.T = Table<Real>("nqs::tanh_2W", model.Mp, N);
    return f;
  }

  // Calls f(model, chains) with the pair this iteration samples with.
  template <class F>
  decltype(auto) with_sampler(F&& f) {
    return single ? f(model_f, chains_f) : f(model, chains);
  }

  // The double tables and angles, on first use.
  void ensure_double() {
    if (model.T.data()) return;
    const auto C = chains.spins.extent(0);
    model = make_model<double>();
    chains.theta = ChainMatrix("nqs::theta", C, model.Mp);
    chains.tanh_theta = ChainMatrix("nqs::tanh_theta", C, model.Mp);
  }

  // The network's weights: the parameters, or their expansion over the
  // lattice's translations (each half, real and imaginary, when complex).
  std::vector<double> weights() const { return network_weights(cfg, params_host, &shift_host); }

  void upload_parameters() {
    auto h = Kokkos::create_mirror_view(params);
    const auto w = weights();
    for (std::size_t k = 0; k < w.size(); ++k) h(k) = w[k];
    Kokkos::deep_copy(params, h);
    single = false;
    if (cplx) return;  // the complex kernels read the parameters directly
    if (want_single) {
      build_tables(Exec(), model_f);
      single = fits_float(model_f);
      if (!single && !warned_double && mpi.root()) {
        std::fprintf(
            stderr,
            "prism: nqs: weights beyond the float tables (max |2W| = %.3g, limit %.3g%s); sampling in "
            "double while they are\n",
            model_f.widest_2w, float_table_limit, model_f.log_domain ? ", wide prefactors" : "");
        warned_double = true;
      }
    }
    if (!single) {
      ensure_double();
      build_tables(Exec(), model);
    }
  }

  // One sampling iteration: refresh(space) recomputes the chains' angles
  // (fresh each iteration: incremental updates must not drift), then
  // launch(space) runs the chains and returns whether the speculative
  // kernel ran; with profiling, each phase is fenced and timed.
  template <class Refresh, class Launch>
  void timed_sampling(Exec const& space, Refresh&& refresh, Launch&& launch) {
    const auto t0 = std::chrono::steady_clock::now();
    refresh(space);
    if (profile) space.fence();
    const auto t1 = std::chrono::steady_clock::now();
    speculated = launch(space);
    if (profile) {
      space.fence();
      const auto t2 = std::chrono::steady_clock::now();
      kernel_seconds[0] += std::chrono::duration<double>(t1 - t0).count();
      kernel_seconds[1] += std::chrono::duration<double>(t2 - t1).count();
    }
  }

  const std::vector<double>& sample(std::int64_t iteration) {
    Exec space;
    const auto it = static_cast<std::uint32_t>(iteration);
    if (cplx) {  // the complex RBM's own sampler (kernels/nqs/complex_rbm.hpp)
      timed_sampling(
          space, [&](Exec const& sp) { refresh_complex_angles(sp, cmodel, cchains); },
          [&](Exec const& sp) {
            ComplexChainSampler<Exec>{cmodel,
                                      cchains,
                                      samples,
                                      csamples,
                                      seed,
                                      it,
                                      mine.begin,
                                      int(cfg.thermalization),
                                      int(cfg.sweeps_per_sample),
                                      int(cfg.samples_per_chain)}
                .launch(sp);
            return false;
          });
      Kokkos::deep_copy(space, energy_im_host, csamples.local_energy_im);
      const auto& e = finish_sample(space);
      energies_im.assign(energy_im_host.data(), energy_im_host.data() + energy_im_host.extent(0));
      return e;
    }
    // The same decision on every rank (a global rate), and the same bits
    // either way: the choice is only about speed.
    const bool speculate =
        speculation == Speculation::always ||
        (speculation == Speculation::automatic && acceptance >= speculation_threshold(model.move));
    timed_sampling(
        space,
        [&](Exec const& sp) {
          with_sampler(
              [&](auto& mdl, auto& ch) { refresh_angles(sp, mdl, ch.spins, ch.theta, ch.tanh_theta); });
        },
        [&](Exec const& sp) {
          return with_sampler([&](auto& mdl, auto& ch) {
            return sample_chains(sp, mdl, ch, samples, seed, it, mine.begin, int(cfg.thermalization),
                                 int(cfg.sweeps_per_sample), int(cfg.samples_per_chain), speculate);
          });
        });
    return finish_sample(space);
  }

  // The local energies and acceptance counts of the sampling just launched
  // on `space`, to the host; the acceptance rate over all ranks.
  const std::vector<double>& finish_sample(Exec const& space) {
    Kokkos::deep_copy(space, energy_host, samples.local_energy);
    Kokkos::deep_copy(space, accepted_host, chains.accepted);
    Kokkos::deep_copy(space, proposed_host, chains.proposed);
    space.fence();
    std::vector<std::int64_t> counts(2, 0);
    for (std::size_t c = 0; c < accepted_host.extent(0); ++c) {
      counts[0] += accepted_host(c);
      counts[1] += proposed_host(c);
    }
    mpi.allreduce_sum(counts);
    acceptance = counts[1] ? double(counts[0]) / double(counts[1]) : 0.0;
    energies.assign(energy_host.data(), energy_host.data() + energy_host.extent(0));
    return energies;
  }

  // Samples per fixed-point rounding: a chain's on host backends, where the
  // conversion is most of the cost; one on GPUs, where the product is
  // bound by reading O and the per-chain loop measured slower in SR.
  const int projection_block = Kokkos::SpaceAccessibility<Kokkos::HostSpace, Exec::memory_space>::accessible
                                   ? int(cfg.samples_per_chain)
                                   : 1;

  // y = O^T x summed over all ranks' samples (x has this rank's samples, or
  // its real-form rows with complex parameters),
  // accumulated exactly in 64-bit fixed point so that the result does not
  // depend on how samples are split over ranks: each chain's samples (never
  // split over ranks) are summed in double, then rounded once.  |O| <= 2
  // after centring, so |sum| <= 2 max|x| Ns bounds every partial sum too.
  // With squares: the sums of Obar(s, k)^2 x(s) (|Obar|^2 <= 4).
  std::vector<double> project(const Vector& x, bool squares = false) { return project_rows(O, x, squares); }
  // The same for another copy of O (its float copy).
  template <class A>
  std::vector<double> project_rows(const A& a, const Vector& x, bool squares = false) {
    Exec space;
    const double xmax = mpi.max(common::max_abs(space, x));  // infinite where some x is not finite
    const double rows = double(cfg.total_samples()) * (cplx ? 2.0 : 1.0);
    const double bound = (squares ? o_bound * o_bound : o_bound) * xmax * rows;  // largest |sum|
    return squares ? exact_column_sums<true>(a, x, bound, P) : exact_column_sums<false>(a, x, bound, P);
  }

  // The first `cols` column sums of A(s, k) x(s) (or A(s, k)^2 x(s)) over
  // all ranks' samples, exact in 64-bit fixed point for a bound on |sum|
  // that every rank shares; NaN where the bound is not finite.
  template <bool Squares, class A>
  std::vector<double> exact_column_sums(const A& a, const Vector& x, double bound, int cols) {
    if (bound == 0) return std::vector<double>(cols, 0.0);
    if (!std::isfinite(bound)) return std::vector<double>(cols, std::numeric_limits<double>::quiet_NaN());
    Exec space;
    const int exponent = std::min(62 - std::ilogb(bound) - 1, 1000);  // finite scale for tiny x
    const double scale = std::ldexp(1.0, exponent);
    if (int(fixed.extent(0)) < cols) {
      fixed = Kokkos::View<std::int64_t*>("nqs::fixed_point", cols);
      fixed_host = Kokkos::create_mirror_view(compat::PinnedSpace(), fixed);
    }
    common::fixed_point_projection<Squares>(space, a, x, scale, fixed, projection_block);
    Kokkos::deep_copy(space, fixed_host, fixed);
    space.fence();
    std::vector<std::int64_t> sums(fixed_host.data(), fixed_host.data() + cols);
    mpi.allreduce_sum(sums);
    std::vector<double> out(cols);
    for (int k = 0; k < cols; ++k) out[k] = double(sums[k]) / scale;
    return out;
  }

  // Means over all ranks' samples of the observables of `list`, on the
  // samples of the last sample(): per-sample values of a block of columns
  // at a time (a bounded buffer), then their exact column sums.
  std::vector<double> observe(const ObservableList& list) {
    Exec space;
    const int n = int(list.size());
    if (observable_columns.kind.extent(0) != list.size()) {
      auto& c = observable_columns;
      c.kind = Kokkos::View<std::int8_t*>("nqs::observable_kind", n);
      c.i = Kokkos::View<std::int32_t*>("nqs::observable_i", n);
      c.j = Kokkos::View<std::int32_t*>("nqs::observable_j", n);
      c.sign = Vector("nqs::observable_sign", n);
      auto upload = [](auto const& dst, auto const& src) {
        auto h = Kokkos::create_mirror_view(dst);
        for (std::size_t k = 0; k < src.size(); ++k) h(k) = src[k];
        Kokkos::deep_copy(dst, h);
      };
      upload(c.kind, list.kind);
      upload(c.i, list.i);
      upload(c.j, list.j);
      upload(c.sign, list.sign);
    }
    const int S = int(samples.local_energy.extent(0));
    if (sample_ones.extent(0) != std::size_t(S)) {
      sample_ones = Vector("nqs::sample_ones", S);
      Kokkos::deep_copy(sample_ones, 1.0);
    }
    // Columns per block: about 2^25 values (256 MiB).
    const int width = std::max(1, std::min(n, int((std::int64_t(1) << 25) / std::max(S, 1))));
    if (int(observable_block.extent(1)) != width)
      observable_block = Matrix("nqs::observable_values", S, width);
    const double ns = double(cfg.total_samples());
    std::vector<double> means(n);
    for (int first = 0; first < n; first += width) {
      const int w = std::min(width, n - first);
      if (cplx)
        complex_observable_values(space, cmodel, samples, csamples, observable_columns, first, w,
                                  observable_block);
      else
        with_sampler([&](auto& mdl, auto&) {
          observable_values(space, mdl, samples, observable_columns, first, w, observable_block);
        });
      // The block's leading w columns are contiguous (LayoutLeft).
      const double amax =
          mpi.max(common::max_abs(space, Vector(observable_block.data(), std::size_t(S) * w)));
      const auto a = Kokkos::subview(observable_block, Kokkos::ALL, std::make_pair(0, w));
      const auto sums = exact_column_sums<false>(a, sample_ones, amax * ns, w);
      for (int k = 0; k < w; ++k) means[first + k] = sums[k] / ns;
    }
    return means;
  }

  Measurement measure(std::int64_t iteration, const ObservableList& list) {
    const auto& e = sample(iteration);
    Measurement m;
    m.energy = energy_statistics(mpi.allgather(e), cfg.chains, cfg.samples_per_chain).energy_mean;
    m.column_means = observe(list);
    return m;
  }

  // CG's products on O, or on its float copy with sr_precision = "float".
  template <class F>
  decltype(auto) with_sr_rows(F&& f) {
    return cfg.sr_float ? f(o_float) : f(O);
  }

  // (S + shift) v with S v = Obar^T (Obar v) / Ns.
  std::vector<double> apply_s(const std::vector<double>& v, double shift) {
    for (int k = 0; k < P; ++k) work_p_host(k) = v[k];
    Exec space;
    // Asynchronous from page-locked memory; complete once project()'s first
    // reduction (on the same instance, blocking) returns.
    Kokkos::deep_copy(space, work_p, work_p_host);
    auto out = with_sr_rows([&](const auto& a) {
      common::row_products(space, a, work_p, work_s, work_blocks);
      return project_rows(a, work_s);
    });
    const double ns = double(cfg.total_samples());
    for (int k = 0; k < P; ++k) out[k] = out[k] / ns + shift * v[k];
    return out;
  }

  // Conjugate gradients on (S + shift) delta = F, from the samples' O;
  // `steps` gets the number of CG steps taken.  Preconditioned by
  // 1 / (diag S + shift) with cg_preconditioner = "jacobi": S's diagonal
  // (the variances of the log-derivatives) spans orders of magnitude
  // between the visible, hidden and coupling parameters.
  std::vector<double> solve_cg(const std::vector<double>& force, const Vector& ones, std::int64_t& steps) {
    const double ns = double(cfg.total_samples());
    std::vector<double> inv_diag(P, 1.0);
    if (cfg.cg_jacobi) {
      const auto d = with_sr_rows([&](const auto& a) { return project_rows(a, ones, true); });
      for (int k = 0; k < P; ++k) inv_diag[k] = 1.0 / (d[k] / ns + cfg.diag_shift);
    }
    // Warm start from the previous update: consecutive solutions are close.
    std::vector<double> x = last_update.empty() ? std::vector<double>(P, 0.0) : last_update;
    std::vector<double> r = force;
    if (!last_update.empty()) {
      const auto ax = apply_s(x, cfg.diag_shift);
      for (int k = 0; k < P; ++k) r[k] -= ax[k];
    }
    std::vector<double> z(P);
    for (int k = 0; k < P; ++k) z[k] = inv_diag[k] * r[k];
    std::vector<double> p = z;
    double rs = std::inner_product(r.begin(), r.end(), r.begin(), 0.0);
    double rz = std::inner_product(r.begin(), r.end(), z.begin(), 0.0);
    const double f2 = std::inner_product(force.begin(), force.end(), force.begin(), 0.0);
    const double stop = cfg.cg_tolerance * cfg.cg_tolerance * std::max(f2, 1e-300);
    int it = 0;
    for (; it < cfg.cg_max_iterations && rs > stop; ++it) {
      const auto ap = apply_s(p, cfg.diag_shift);
      const double alpha = rz / std::inner_product(p.begin(), p.end(), ap.begin(), 0.0);
      for (int k = 0; k < P; ++k) {
        x[k] += alpha * p[k];
        r[k] -= alpha * ap[k];
        z[k] = inv_diag[k] * r[k];
      }
      rs = std::inner_product(r.begin(), r.end(), r.begin(), 0.0);
      const double rz_new = std::inner_product(r.begin(), r.end(), z.begin(), 0.0);
      for (int k = 0; k < P; ++k) p[k] = z[k] + (rz_new / rz) * p[k];
      rz = rz_new;
    }
    steps = it;
    return x;
  }

  // sr_solver = "cholesky": (S + shift) delta = F solved exactly, with S
  // formed explicitly.  Every rank gathers all ranks' centred
  // log-derivatives in one row order (the samples in global order; with
  // complex parameters all ranks' A rows, then all B rows, as one rank
  // holds them) and forms S from that matrix with the same product, so S,
  // its factor and delta have the same bits on any number of ranks.
  std::vector<double> solve_exactly(const std::vector<double>& force) {
    const Matrix& a = all_derivatives();
    form_s(a);
    std::vector<double> x = force;
    // Not positive definite only when O holds non-finite values: the update
    // is then NaN and the next energy stops the run.
    auto failed = [&] { return std::vector<double>(P, std::numeric_limits<double>::quiet_NaN()); };
    if (s_matrix_h.extent(0) == 0)
      s_matrix_h = Kokkos::create_mirror_view(s_matrix);  // s_matrix itself on a host
    if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, Exec::memory_space>::accessible) {
      // On a host: the factor from the host's threads, row-major.
      Kokkos::fence();
      const auto& h = s_matrix_h;
      s_host.assign(std::size_t(P) * P, 0.0);
      s_factor.resize(std::size_t(P) * P);
      for (int i = 0; i < P; ++i)
        for (int j = 0; j <= i; ++j)
          s_host[std::size_t(i) * P + j] = h(i, j) + (i == j ? cfg.diag_shift : 0.0);
      if (!std::isfinite(dense::cholesky_host_parallel(s_host.data(), s_factor.data(), P))) return failed();
      dense::cholesky_solve(s_factor.data(), x.data(), P);
    } else {
      // On a GPU: the factor by blocks in place (its products on the device),
      // then the two substitutions on the host.
      Exec space;
      dense::add_to_diagonal(space, s_matrix, cfg.diag_shift);
      if (!dense::cholesky_blocked(space, s_matrix, factor_ws)) return failed();
      Kokkos::deep_copy(s_matrix_h, s_matrix);
      dense::cholesky_solve_column_major(s_matrix_h.data(), s_matrix_h.stride(1), x.data(), P);
    }
    return x;
  }

  // O of all ranks on every rank (this rank's O alone when it is the only one).
  const Matrix& all_derivatives() {
    if (mpi.size() == 1) return O;
    if (o_mine_h.extent(0) == 0) o_mine_h = Kokkos::create_mirror_view(O);
    Kokkos::deep_copy(o_mine_h, O);
    const auto all = mpi.allgather(std::vector<double>(o_mine_h.data(), o_mine_h.data() + o_mine_h.size()));
    const std::int64_t ns = cfg.total_samples();
    if (o_all.extent(0) == 0) {
      o_all = Matrix("nqs::all_log_derivatives", (cplx ? 2 : 1) * ns, P);
      o_all_h = Kokkos::create_mirror_view(o_all);
    }
    const auto& h = o_all_h;
    std::size_t at = 0;
    std::int64_t first = 0;  // the rank's first sample
    for (int r = 0; r < mpi.size(); ++r) {
      const std::int64_t own = block_partition(cfg.chains, mpi.size(), r).count * cfg.samples_per_chain;
      const std::int64_t rows = (cplx ? 2 : 1) * own;  // column-major, as O is (LayoutLeft)
      for (int k = 0; k < P; ++k)
        for (std::int64_t i = 0; i < rows; ++i)
          h(i < own ? first + i : ns + first + (i - own), k) = all[at + std::size_t(k) * rows + i];
      at += std::size_t(rows) * P;
      first += own;
    }
    Kokkos::deep_copy(o_all, h);
    return o_all;
  }

  // s_matrix = a^T a / Ns (sr.hpp).
  void form_s(const Matrix& a) {
    if (s_matrix.extent(0) == 0) s_matrix = Matrix("nqs::sr_matrix", P, P);
    sr_matrix(Exec(), a, 1.0 / double(cfg.total_samples()), s_matrix);
  }

  Vector to_device(const std::vector<double>& v, const char* label) const {
    Vector d(std::string(label), v.size());
    auto h = Kokkos::create_mirror_view(d);
    for (std::size_t k = 0; k < v.size(); ++k) h(k) = v[k];
    Kokkos::deep_copy(d, h);
    return d;
  }

  // The log-derivatives of the last sample() into O, uncentred: (samples, P)
  // for real parameters; with complex ones [Re O, Im O] in the left half
  // of the real form (2 x samples rows), complete_real_form fills the rest.
  void build_derivatives(Exec const& space) {
    const int F = int(cfg.features());
    if (cplx && sym)
      build_symmetric_complex_log_derivatives(space, samples, csamples, N, F, shift, sample_tanh, O);
    else if (cplx)
      build_complex_log_derivatives(space, samples, csamples, N, M, O);
    else if (sym)
      build_symmetric_log_derivatives(space, samples, N, F, shift, O);
    else
      build_log_derivatives(space, samples, N, M, O);
  }

  // The complex RBM's SR matrix in real form, R = [A -B; B A] from the
  // centred log-derivatives O = A + iB (complex_rbm.hpp), and the bound on
  // its entries: twice the largest |A|, |B| before centring, the same on
  // every rank.
  void build_complex_real_form(Exec const& space) {
    const int S = int(O.extent(0)) / 2, half = P / 2;
    build_derivatives(space);
    const auto left = Kokkos::subview(O, Kokkos::ALL, std::make_pair(0, half));  // contiguous (LayoutLeft)
    o_bound = 2.0 * mpi.max(common::max_abs(space, Vector(O.data(), std::size_t(2) * S * half)));
    // Column means of A (rows 0 .. S-1) and of B (rows S .. 2S-1).
    Vector top("nqs::rows_re", 2 * S), bottom("nqs::rows_im", 2 * S);
    Kokkos::deep_copy(Kokkos::subview(top, std::make_pair(0, S)), 1.0);
    Kokkos::deep_copy(Kokkos::subview(bottom, std::make_pair(S, 2 * S)), 1.0);
    const double rows = 2.0 * double(cfg.total_samples());
    auto mean_re = exact_column_sums<false>(left, top, o_bound * rows, half);
    auto mean_im = exact_column_sums<false>(left, bottom, o_bound * rows, half);
    const double ns = double(cfg.total_samples());
    for (auto& x : mean_re) x /= ns;
    for (auto& x : mean_im) x /= ns;
    complete_real_form(space, O, to_device(mean_re, "nqs::mean_re"), to_device(mean_im, "nqs::mean_im"));
  }

  IterationStats step(std::int64_t iteration, Timers& timers) {
    const auto t0 = std::chrono::steady_clock::now();
    // sample()'s own buffer, read in place.
    const std::vector<double>& e_local = [&]() -> const std::vector<double>& {
      auto t = timers.scope("sample");
      return sample(iteration);
    }();
    IterationStats st;
    {
      auto t = timers.scope("statistics");
      const auto e_all = mpi.allgather(e_local);  // chain-major, global order
      st = energy_statistics(e_all, cfg.chains, cfg.samples_per_chain);
      st.acceptance = acceptance;
    }
    if (!std::isfinite(st.energy_mean)) return st;  // the caller stops the run
    {
      auto t = timers.scope("sr");
      Exec space;
      const double ns = double(cfg.total_samples());
      Vector ones("nqs::ones", O.extent(0));
      Kokkos::deep_copy(ones, 1.0);
      if (cplx) {
        build_complex_real_form(space);
      } else {
        build_derivatives(space);
        // Centre O: subtract the mean over all samples of all ranks.
        auto mean = project(ones);
        for (auto& x : mean) x /= ns;
        centre_columns(space, O, to_device(mean, "nqs::mean_O"));
      }
      // Force F = Obar^T (E_loc - E) / Ns; with complex parameters the
      // real-form rows hold Re and Im of E_loc - E (kernels/nqs/complex_rbm.hpp).
      Vector de("nqs::delta_e", O.extent(0));
      auto deh = Kokkos::create_mirror_view(de);
      for (std::size_t s = 0; s < e_local.size(); ++s) deh(s) = e_local[s] - st.energy_mean;
      if (cplx)
        for (std::size_t s = 0; s < energies_im.size(); ++s) deh(e_local.size() + s) = energies_im[s];
      Kokkos::deep_copy(de, deh);
      auto force = project(de);
      for (auto& x : force) x /= ns;
      if (cfg.sr_float) {
        if (o_float.extent(0) != O.extent(0))
          o_float = decltype(o_float)("nqs::log_derivatives_float", O.extent(0), P);
        round_to_float(space, O, o_float);
      }
      const auto x = cfg.sr_cholesky ? solve_exactly(force) : solve_cg(force, ones, st.cg_iterations);
      last_update = x;  // CG's warm start (also what a checkpoint keeps)
      const double eta = cfg.learning_rate / (1.0 + cfg.learning_rate_decay * double(iteration));
      // With complex parameters the second half of x holds the imaginary parts.
      const int first_imaginary = cplx ? P / 2 : P;
      for (int k = 0; k < P; ++k)
        params_host[k] -= (k < first_imaginary ? eta : eta * cfg.phase_step_ratio) * x[k];
      upload_parameters();
    }
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return st;
  }
};

namespace {
// A host copy of a device matrix, row-major.
template <class T, class View>
std::vector<T> row_major(View const& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  std::vector<T> out(h.extent(0) * h.extent(1));
  for (std::size_t r = 0; r < h.extent(0); ++r)
    for (std::size_t c = 0; c < h.extent(1); ++c) out[r * h.extent(1) + c] = h(r, c);
  return out;
}

}  // namespace

Vmc::Vmc(const Config& cfg, std::uint64_t seed, const MpiContext& mpi)
    : impl_(std::make_unique<Impl>(cfg, seed, mpi)) {}
Vmc::~Vmc() = default;
IterationStats Vmc::step(std::int64_t iteration, Timers& timers) {
  return impl_->step(iteration, timers);
}
const std::vector<double>& Vmc::sample(std::int64_t iteration) {
  return impl_->sample(iteration);
}
Measurement Vmc::measure(std::int64_t iteration, const ObservableList& list) {
  return impl_->measure(iteration, list);
}
const std::vector<double>& Vmc::parameters() const {
  return impl_->params_host;
}
std::vector<double> Vmc::weights() const {
  return impl_->weights();
}
void Vmc::set_parameters(const std::vector<double>& p) {
  if (p.size() != impl_->params_host.size()) throw std::invalid_argument("set_parameters: wrong length");
  impl_->params_host = p;
  impl_->upload_parameters();
}
double Vmc::acceptance() const {
  return impl_->acceptance;
}
void Vmc::resume_acceptance(double a) {
  impl_->acceptance = a;
}
Checkpoint Vmc::checkpoint(std::int64_t next) const {
  auto& I = *impl_;
  Checkpoint c;
  c.next_iteration = next;
  c.parameters = I.params_host;
  c.last_update = I.last_update;
  // chain-major, rank order = chain order
  c.chain_spins = I.mpi.gather(row_major<std::int8_t>(I.chains.spins));
  return c;
}

void Vmc::restore(const Checkpoint& c) {
  auto& I = *impl_;
  set_parameters(c.parameters);
  I.last_update = c.last_update;
  auto h = Kokkos::create_mirror_view(I.chains.spins);
  for (std::size_t r = 0; r < h.extent(0); ++r)
    for (int i = 0; i < I.N; ++i) h(r, i) = c.chain_spins[(I.mine.begin + r) * I.N + i];
  Kokkos::deep_copy(I.chains.spins, h);
}

// VmcInspector (nqs/inspect.hpp): tests and benchmarks only.

namespace {
// Ratios of every single flip (or every bond's exchange, 0 where the bond's
// spins are equal) of sample `row`, on device with the model's brackets.
template <class Real>
std::vector<double> device_ratios(RbmModel<Real> const& m, SampleBuffers const& smp, int row, bool exchange) {
  const int n = exchange ? m.n_bonds : m.N;
  Vector out("nqs::ratios", n);
  const auto s = smp.spins;
  const auto t = smp.tanh_theta;
  Kokkos::parallel_for(
      "nqs::ratios", Kokkos::RangePolicy<Exec>(0, n), KOKKOS_LAMBDA(const int e) {
        if (!exchange)
          out(e) = m.flip_ratio(s, t, row, e);
        else
          out(e) = s(row, m.bond_i(e)) == s(row, m.bond_j(e)) ? 0.0 : m.exchange_ratio(s, t, row, e);
      });
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out);
  return std::vector<double>(h.data(), h.data() + n);
}
}  // namespace

std::vector<std::int8_t> VmcInspector::sample_spins() const {
  return row_major<std::int8_t>(vmc_.impl_->samples.spins);
}
std::vector<double> VmcInspector::sample_tanh() const {
  return row_major<double>(vmc_.impl_->samples.tanh_theta);
}
std::vector<double> VmcInspector::flip_ratios(int row) const {
  auto& I = *vmc_.impl_;
  return I.with_sampler([&](auto& m, auto&) { return device_ratios(m, I.samples, row, false); });
}
std::vector<double> VmcInspector::exchange_ratios(int row) const {
  auto& I = *vmc_.impl_;
  return I.with_sampler([&](auto& m, auto&) { return device_ratios(m, I.samples, row, true); });
}
std::vector<double> VmcInspector::local_energies_im() const {
  return vmc_.impl_->energies_im;
}
std::vector<double> VmcInspector::log_derivatives(int row) const {
  auto& I = *vmc_.impl_;
  I.build_derivatives(Exec());
  if (I.cplx) {  // [Re O, Im O] of the sample, before centring
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), I.O);
    const int S = int(h.extent(0)) / 2, half = I.P / 2;
    std::vector<double> out(I.P);
    for (int k = 0; k < half; ++k) {
      out[k] = h(row, k);
      out[half + k] = h(S + row, k);
    }
    return out;
  }
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), I.O);
  std::vector<double> out(I.P);
  for (int k = 0; k < I.P; ++k) out[k] = h(row, k);
  return out;
}
double VmcInspector::angle_drift() const {
  auto& I = *vmc_.impl_;
  const auto C = I.chains.spins.extent(0);
  ChainMatrix th("nqs::theta_check", C, I.model.Mp), tt("nqs::tanh_check", C, I.model.Mp);
  refresh_angles(Exec(), I.model, I.chains.spins, th, tt);
  auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), th);
  return I.with_sampler([&](auto&, auto& ch) {
    auto b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), ch.theta);
    double d = 0;
    for (std::size_t c = 0; c < C; ++c)
      for (int j = 0; j < I.M; ++j) d = std::max(d, std::fabs(a(c, j) - double(b(c, j))));
    return d;
  });
}
void VmcInspector::set_speculation(Speculation s) {
  vmc_.impl_->speculation = s;
}
bool VmcInspector::speculated() const {
  return vmc_.impl_->speculated;
}
void VmcInspector::profile_kernels(bool on) {
  vmc_.impl_->profile = on;
  vmc_.impl_->kernel_seconds = {};
}
std::array<double, 2> VmcInspector::kernel_seconds() const {
  return vmc_.impl_->kernel_seconds;
}

}  // namespace prism::nqs
