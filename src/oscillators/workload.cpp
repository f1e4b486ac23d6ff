#include "oscillators/workload.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "core/deck.hpp"
#include "core/h5_reader.hpp"
#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/run_config.hpp"
#include "core/statistics.hpp"
#include "core/timers.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/oscillators/langevin.hpp"

namespace prism::oscillators {

namespace {
constexpr double kTwoPi = 6.283185307179586;

// Undirected edges (i, j, w) -> CSR with both directions.
HostGraph to_csr(std::int64_t N, const std::vector<std::int64_t>& ends, const std::vector<double>& w) {
  HostGraph g;
  const std::size_t E = w.size();
  std::vector<std::int64_t> degree(std::size_t(N) + 1, 0);
  for (std::size_t e = 0; e < E; ++e) {
    ++degree[ends[2 * e]];
    ++degree[ends[2 * e + 1]];
  }
  g.row.assign(std::size_t(N) + 1, 0);
  for (std::int64_t i = 0; i < N; ++i) g.row[i + 1] = g.row[i] + degree[i];
  g.col.resize(std::size_t(g.row[N]));
  g.weight.resize(std::size_t(g.row[N]));
  std::vector<std::int64_t> at(g.row.begin(), g.row.end() - 1);
  std::vector<double> wdeg(std::size_t(N), 0.0);
  for (std::size_t e = 0; e < E; ++e) {
    const auto i = ends[2 * e], j = ends[2 * e + 1];
    g.col[at[i]] = std::int32_t(j), g.weight[at[i]++] = w[e];
    g.col[at[j]] = std::int32_t(i), g.weight[at[j]++] = w[e];
    wdeg[i] += std::fabs(w[e]);
    wdeg[j] += std::fabs(w[e]);
  }
  // Each row in order of column: its sums then add the neighbours in the same
  // order on every rank, and a row splits into the contiguous segments of
  // gather blocks (langevin.hpp).
  std::vector<std::pair<std::int32_t, double>> entries;
  for (std::int64_t i = 0; i < N; ++i) {
    if (std::is_sorted(g.col.begin() + g.row[i], g.col.begin() + g.row[i + 1])) continue;  // random graphs
    entries.clear();
    for (std::int64_t e = g.row[i]; e < g.row[i + 1]; ++e) entries.emplace_back(g.col[e], g.weight[e]);
    std::sort(entries.begin(), entries.end());
    for (std::int64_t e = g.row[i]; e < g.row[i + 1]; ++e)
      std::tie(g.col[e], g.weight[e]) = entries[std::size_t(e - g.row[i])];
  }
  double total = 0;
  for (double d : wdeg) total += d, g.max_degree = std::max(g.max_degree, d);
  g.mean_degree = total / double(N);
  return g;
}
}  // namespace

HostGraph build_graph(const Config& c) {
  const std::int64_t N = c.N;
  std::vector<std::int64_t> ends;
  std::vector<double> w;
  auto edge = [&](std::int64_t i, std::int64_t j) {
    ends.push_back(i);
    ends.push_back(j);
    w.push_back(1.0);
  };
  switch (c.coupling) {
    case Coupling::all:
      return {};
    case Coupling::complete:
      for (std::int64_t i = 0; i < N; ++i)
        for (std::int64_t j = i + 1; j < N; ++j) edge(i, j);
      break;
    case Coupling::ring:
      for (std::int64_t i = 0; i < N; ++i)
        for (std::int64_t k = 1; k <= c.neighbours; ++k) edge(i, (i + k) % N);
      break;
    case Coupling::lattice2d:
    case Coupling::lattice3d: {
      const int dim = c.coupling == Coupling::lattice2d ? 2 : 3;
      const auto L = std::int64_t(std::llround(std::pow(double(N), 1.0 / dim)));
      for (std::int64_t i = 0; i < N; ++i) {
        std::int64_t stride = 1;
        for (int d = 0; d < dim; ++d, stride *= L) {
          const std::int64_t x = (i / stride) % L;
          edge(i, i + ((x + 1) % L - x) * stride);  // +d neighbour, periodic
        }
      }
      break;
    }
    case Coupling::random: {
      // G(N, M): M = round(N d / 2) distinct pairs drawn uniformly, a pair that
      // repeats one drawn before (or joins a node to itself) drawn again.
      const auto M = std::int64_t(std::llround(double(N) * c.mean_degree / 2));
      std::vector<std::uint64_t> keys;
      keys.reserve(std::size_t(M));
      std::uint32_t round = 0;
      while (std::int64_t(keys.size()) < M) {
        const std::int64_t missing = M - std::int64_t(keys.size());
        for (std::int64_t t = 0; t < missing; ++t) {
          const auto u = rng::philox(c.graph_seed, std::uint32_t(t), std::uint32_t(t >> 32), round,
                                     rng::oscillator_graph);
          const std::uint64_t a = ((std::uint64_t(u.v[0]) << 32) | u.v[1]) % std::uint64_t(N);
          const std::uint64_t b = ((std::uint64_t(u.v[2]) << 32) | u.v[3]) % std::uint64_t(N);
          if (a != b) keys.push_back(std::min(a, b) * std::uint64_t(N) + std::max(a, b));
        }
        std::sort(keys.begin(), keys.end());
        keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
        ++round;
      }
      for (auto k : keys) edge(std::int64_t(k / std::uint64_t(N)), std::int64_t(k % std::uint64_t(N)));
      break;
    }
    case Coupling::file: {
      H5Reader in(c.file);
      if (!in.exists("/edges")) throw std::invalid_argument("has no /edges dataset ([E][2] integers)");
      const auto shape = in.shape("/edges");
      if (shape.size() != 2 || shape[1] != 2) throw std::invalid_argument("/edges must have shape [E][2]");
      const auto e = in.values<double>("/edges");
      for (std::size_t k = 0; k < e.size(); ++k)
        if (!(e[k] >= 0 && e[k] < double(N) && e[k] == std::floor(e[k])))
          throw std::invalid_argument("/edges row " + std::to_string(k / 2) + " names oscillator " +
                                      std::to_string(e[k]) + ", outside 0.." + std::to_string(N - 1));
      for (double x : e) ends.push_back(std::int64_t(x));
      // A self-loop couples nothing (sin 0) but would count in the degrees,
      // and a pair listed twice would double its coupling: both are refused
      // rather than read one way or the other.
      std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
      for (std::size_t k = 0; k < ends.size(); k += 2) {
        if (ends[k] == ends[k + 1])
          throw std::invalid_argument("/edges row " + std::to_string(k / 2) + " joins oscillator " +
                                      std::to_string(ends[k]) + " to itself");
        pairs.emplace_back(std::min(ends[k], ends[k + 1]), std::max(ends[k], ends[k + 1]));
      }
      std::vector<std::size_t> order(pairs.size());
      for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::sort(order.begin(), order.end(),
                [&](std::size_t x, std::size_t y) { return pairs[x] < pairs[y]; });
      for (std::size_t k = 1; k < order.size(); ++k)
        if (pairs[order[k]] == pairs[order[k - 1]])
          throw std::invalid_argument("/edges rows " + std::to_string(std::min(order[k - 1], order[k])) +
                                      " and " + std::to_string(std::max(order[k - 1], order[k])) +
                                      " join the same pair (" + std::to_string(pairs[order[k]].first) + ", " +
                                      std::to_string(pairs[order[k]].second) + "); list each edge once");
      if (in.exists("/weights")) {
        w = in.values<double>("/weights");
        if (w.size() != shape[0])
          throw std::invalid_argument("/weights must have one entry per row of /edges");
        for (std::size_t k = 0; k < w.size(); ++k)
          if (!std::isfinite(w[k]))
            throw std::invalid_argument("/weights[" + std::to_string(k) + "] is not finite");
      } else {
        w.assign(shape[0], 1.0);
      }
      break;
    }
  }
  auto g = to_csr(N, ends, w);
  if (!(g.mean_degree > 0)) throw std::invalid_argument("the graph has no edge of non-zero weight");
  return g;
}

std::vector<double> natural_frequencies(const Config& c) {
  if (c.frequencies == Frequencies::file) {
    H5Reader in(c.frequency_file);
    if (!in.exists("/frequencies")) throw std::invalid_argument("has no /frequencies dataset ([N] numbers)");
    auto omega = in.values<double>("/frequencies");
    if (std::int64_t(omega.size()) != c.N)
      throw std::invalid_argument("/frequencies has " + std::to_string(omega.size()) + " entries for " +
                                  std::to_string(c.N) + " oscillators");
    for (std::size_t k = 0; k < omega.size(); ++k)
      if (!std::isfinite(omega[k]))
        throw std::invalid_argument("/frequencies[" + std::to_string(k) + "] is not finite");
    return omega;
  }
  std::vector<double> omega(std::size_t(c.N), c.omega);
  if (c.frequencies == Frequencies::identical) return omega;
  for (std::int64_t i = 0; i < c.N; ++i) {
    const auto u = rng::philox(c.frequency_seed, std::uint32_t(i), 0, 0, rng::oscillator_frequencies);
    omega[i] +=
        c.frequencies == Frequencies::gaussian
            ? c.spread * rng::standard_normal(u)
            : c.spread * std::tan(M_PI * ((u.v[0] + 0.5) * 0x1p-32 - 0.5));  // Cauchy, half-width spread
  }
  return omega;
}

OscillatorsWorkload::OscillatorsWorkload(Config cfg, HostGraph graph, std::vector<double> omega)
    : cfg_(std::move(cfg)), graph_(std::move(graph)), omega_(std::move(omega)) {}

std::vector<double> OscillatorsWorkload::record_times() const {
  std::vector<double> t(std::size_t(cfg_.records()));
  for (std::size_t j = 0; j < t.size(); ++j) t[j] = double((j + 1) * cfg_.record_every) * cfg_.dt;
  return t;
}

namespace {
template <class T>
Kokkos::View<T*> to_device(const char* label, const std::vector<T>& v) {
  Kokkos::View<T*> d(std::string(label), v.size());
  auto h = Kokkos::create_mirror_view(d);
  for (std::size_t k = 0; k < v.size(); ++k) h(k) = v[k];
  Kokkos::deep_copy(d, h);
  return d;
}

// Mean and binned error of x[from..) (up to 16 blocks); the error is NaN
// (unknown, not zero) for a single record.
std::pair<double, double> binned(const double* x, std::int64_t from, std::int64_t to) {
  const std::int64_t n = to - from;
  const std::int64_t nb = std::min<std::int64_t>(16, n);
  double mean = 0;
  for (std::int64_t k = from; k < to; ++k) mean += x[k];
  mean /= double(n);
  if (nb < 2) return {mean, std::numeric_limits<double>::quiet_NaN()};
  std::vector<double> blocks(std::size_t(nb), 0.0);
  std::vector<std::int64_t> counts(std::size_t(nb), 0);
  for (std::int64_t k = 0; k < n; ++k) {
    blocks[std::size_t(k * nb / n)] += x[from + k];
    ++counts[std::size_t(k * nb / n)];
  }
  for (std::int64_t b = 0; b < nb; ++b) blocks[b] /= double(counts[b]);
  return {mean, block_standard_error(blocks, mean)};
}

// noisy_chunk_sums with the loads in the order `loads` (0, 1, 2: Loads'
// after_noise, before_noise, ahead).
template <int M, class Replica, class U>
void noisy_step(int loads, std::int64_t units, std::int64_t N, std::int64_t c0, std::int64_t c1,
                std::uint64_t seed, std::int64_t step, Replica const& replica, U const& unit,
                Kokkos::View<double*> const& partial, const char* label) {
  using Exec = Kokkos::DefaultExecutionSpace;
  if (loads == 1)
    noisy_chunk_sums<M, Loads::before_noise>(Exec(), units, N, c0, c1, seed, step, replica, unit, partial,
                                             label);
  else if (loads == 2)
    noisy_chunk_sums<M, Loads::ahead>(Exec(), units, N, c0, c1, seed, step, replica, unit, partial, label);
  else
    noisy_chunk_sums<M, Loads::after_noise>(Exec(), units, N, c0, c1, seed, step, replica, unit, partial,
                                            label);
}
}  // namespace

std::int64_t OscillatorsWorkload::chunks() const {
  return (cfg_.N + kChunk - 1) / kChunk;
}

void OscillatorsWorkload::run(RunContext& ctx) {
  using Exec = Kokkos::DefaultExecutionSpace;
  const auto& mpi = ctx.mpi;
  const Config& c = cfg_;
  // The order of a thread's loads in the step (langevin.hpp, Loads): the
  // same bits each way; PRISM_OSCILLATORS_LOADS = 0, 1, 2 picks one for
  // side-by-side timing on a GPU.  Checked before any setup.
  const char* loads_env = std::getenv("PRISM_OSCILLATORS_LOADS");
  const std::string loads_text = loads_env ? loads_env : "0";
  if (loads_text != "0" && loads_text != "1" && loads_text != "2")
    throw std::invalid_argument("oscillators: PRISM_OSCILLATORS_LOADS is \"" + loads_text +
                                "\"; it must be 0, 1 or 2 (the order of the step's loads)");
  const int loads = loads_text[0] - '0';
  const std::int64_t N = c.N, R = c.replicas, records = c.records(), C = chunks();
  // Whole runs per rank, or every run on every rank with a block of its chunks.
  const Block mine = c.spatial ? Block{0, c.units()} : block_partition(c.units(), mpi.size(), mpi.rank());
  const Block my_chunks = c.spatial ? block_partition(C, mpi.size(), mpi.rank()) : Block{0, C};
  const std::int64_t n = mine.count, c0 = my_chunks.begin, c1 = my_chunks.begin + my_chunks.count;
  const std::int64_t lo = c0 * kChunk, hi = std::min(N, c1 * kChunk);
  // Each rank's chunks when the runs are split (the owners of oscillators).
  std::vector<Block> rank_chunks;
  for (int r = 0; r < mpi.size(); ++r) rank_chunks.push_back(block_partition(C, mpi.size(), r));
  // Fixed point of the order parameter: |sum| <= N, so N x scale < 2^61.
  const double scale = std::ldexp(1.0, 61 - int(std::ceil(std::log2(double(N) + 1))));

  Dynamics d;
  d.sparse = c.sparse();
  d.second = c.order == Order::second;
  d.dt = c.dt;
  d.inv_m = 1.0 / c.m;
  d.c1 = std::exp(-c.gamma * c.dt / c.m);
  d.c2 = std::sqrt((1 - d.c1 * d.c1) * c.T / c.m);
  d.noise = std::sqrt(2 * c.T * c.dt);
  d.cos_a = std::cos(c.alpha);
  d.sin_a = std::sin(c.alpha);
  d.seed = ctx.run.seed;

  const auto un = static_cast<std::size_t>(n);
  std::vector<double> coupling(un), replica(un);
  for (std::int64_t u = 0; u < n; ++u) {
    const std::int64_t g = mine.begin + u;
    coupling[u] = c.K[std::size_t(g / R)] / (c.sparse() ? graph_.mean_degree : double(N));
    replica[u] = double(g % R);
  }
  // Sums of chunk partials [unit][chunk][M] in chunk order, over all chunks
  // of the run (gathered from every rank when the runs are split).
  auto unit_totals = [&](const Kokkos::View<double*>& partial, int M) {
    auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partial);
    const std::int64_t here = c1 - c0;
    std::vector<double> mine_part(h.data(), h.data() + n * here * M), all;
    if (c.spatial) {
      const auto gathered = mpi.allgather(mine_part);  // [rank][unit][chunk of the rank][M]
      all.assign(std::size_t(n * C * M), 0.0);
      std::size_t at = 0;
      for (int r = 0; r < mpi.size(); ++r) {
        const Block& b = rank_chunks[r];
        for (std::int64_t u = 0; u < n; ++u)
          for (std::int64_t k = 0; k < b.count * M; ++k)
            all[std::size_t((u * C + b.begin) * M + k)] = gathered[at++];
      }
    } else {
      all = std::move(mine_part);
    }
    std::vector<double> totals(std::size_t(n * M), 0.0);
    for (std::int64_t u = 0; u < n; ++u)
      for (std::int64_t k = 0; k < C; ++k)
        for (int m = 0; m < M; ++m) totals[u * M + m] += all[std::size_t((u * C + k) * M + m)];
    return totals;
  };

  std::vector<double> local_records(un * std::size_t(records) *
                                    5);  // [unit][record][r, psi, kin, pot, power]
  std::vector<double> spread(un);
  std::vector<double> phases;
  {
    std::optional<Timers::Scope> setup(std::in_place, ctx.timers, "setup");
    const NaturalFrequencies omega{
        c.frequencies == Frequencies::identical
            ? Kokkos::View<double*>()
            : to_device("oscillators::omega", std::vector<double>(omega_.begin() + lo, omega_.begin() + hi)),
        c.omega};
    const auto K_u = to_device("oscillators::coupling", coupling);
    const auto rep = to_device("oscillators::replica", replica);
    Graph g;
    // The halo of a split graph: the phases of other ranks' oscillators that
    // this rank's rows name (requested once), and those of its own that the
    // others need (sent after every step).
    Kokkos::View<std::int64_t*> halo_in, halo_out;
    std::vector<int> halo_in_counts(std::size_t(mpi.size()), 0), halo_out_counts(std::size_t(mpi.size()), 0);
    if (c.spatial && c.sparse()) {
      std::vector<std::int64_t> want;
      for (std::int64_t i = lo; i < hi; ++i)
        for (std::int64_t e = graph_.row[i]; e < graph_.row[i + 1]; ++e)
          if (graph_.col[e] < lo || graph_.col[e] >= hi) want.push_back(graph_.col[e]);
      std::sort(want.begin(), want.end());
      want.erase(std::unique(want.begin(), want.end()), want.end());
      int owner = 0;  // `want` is sorted, so its owners come in rank order
      for (auto j : want) {
        while (rank_chunks[owner].begin + rank_chunks[owner].count <= j / kChunk) ++owner;
        ++halo_in_counts[owner];
      }
      const auto asked = mpi.alltoallv(want, halo_in_counts);  // ours that the others want, by rank
      std::vector<std::int64_t> one(std::size_t(mpi.size()));
      for (int r = 0; r < mpi.size(); ++r) one[r] = halo_in_counts[r];
      const auto back = mpi.alltoallv(one, std::vector<int>(std::size_t(mpi.size()), 1));
      for (int r = 0; r < mpi.size(); ++r) halo_out_counts[r] = int(back[r]);
      halo_in = to_device("oscillators::halo_in", want);
      halo_out = to_device("oscillators::halo_out", asked);
    }
    // Local numbering: this rank's oscillators lo..hi as 0..own, then its halo
    // in the order of halo_in; the rows of its own oscillators in it.
    const std::int64_t own = hi - lo, L = own + std::int64_t(halo_in.extent(0));
    if (c.sparse()) {
      auto halo_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), halo_in);
      const std::int64_t* h0 = halo_h.data();
      const std::int64_t first = graph_.row[lo], edges = graph_.row[hi] - first;
      std::vector<std::int64_t> row(static_cast<std::size_t>(own) + 1);
      for (std::int64_t k = 0; k <= own; ++k) row[k] = graph_.row[lo + k] - first;
      std::vector<std::int32_t> col(static_cast<std::size_t>(edges));
      for (std::int64_t e = 0; e < edges; ++e) {
        const std::int64_t j = graph_.col[first + e];
        col[e] = std::int32_t(
            j >= lo && j < hi ? j - lo : own + (std::lower_bound(h0, h0 + halo_h.extent(0), j) - h0));
      }
      g.row = to_device("oscillators::row", row);
      g.col = to_device("oscillators::col", col);
      // Gather blocks: where each row's sorted global columns cross b N / blocks.
      g.blocks = gather_blocks_for(c, double(n) * double(L), team_threads<Exec>() > 1);
      gather_blocks_ = g.blocks;
      g.rows = own;
      if (g.blocks > 1) {
        std::vector<std::int32_t> cut(std::size_t((g.blocks - 1) * own));
        for (std::int64_t k = 0; k < own; ++k) {
          const auto* r0 = graph_.col.data() + graph_.row[lo + k];
          const auto* r1 = graph_.col.data() + graph_.row[lo + k + 1];
          for (int b = 1; b < g.blocks; ++b)
            cut[std::size_t((b - 1) * own + k)] =
                std::int32_t(std::lower_bound(r0, r1, std::int64_t(b) * N / g.blocks) - r0);
        }
        g.cut = to_device("oscillators::cut", cut);
      }
      const bool unit = std::all_of(graph_.weight.begin() + first, graph_.weight.begin() + first + edges,
                                    [](double w) { return w == 1.0; });
      if (!unit)  // else no array: Graph::w is 1
        g.weight = to_device(
            "oscillators::weight",
            std::vector<double>(graph_.weight.begin() + first, graph_.weight.begin() + first + edges));
    }
    Phases a("oscillators::theta_a", n, L), b("oscillators::theta_b", n, L),
        start("oscillators::start", n, own);
    Phases vel("oscillators::velocity", d.second ? n : 0, d.second ? own : 0);
    Kokkos::View<double**, Kokkos::LayoutRight> Z("oscillators::Z", n, 2);
    Kokkos::View<std::int64_t**, Kokkos::LayoutRight> Zfixed("oscillators::Z_fixed", n, 2);
    auto Zfixed_h = Kokkos::create_mirror_view(Zfixed);
    Kokkos::View<double*> carried("oscillators::carried", g.blocks > 1 ? std::size_t(2 * n * own) : 0);
    const std::int64_t here = c1 - c0;
    Kokkos::View<double*> partial("oscillators::partial",
                                  std::size_t(std::max<std::int64_t>(1, n * here * 5)));
    const Initial init = c.initial;
    const double q = double(c.winding), T = c.T, m = c.m;
    // Initial phases (own and halo, by global index) and velocities.
    const auto halo_ids = halo_in;
    Kokkos::parallel_for(
        "oscillators::initial", Kokkos::RangePolicy<Exec>(0, n * L), KOKKOS_LAMBDA(const std::int64_t t) {
          const std::int64_t u = t / L, li = t - u * L, i = li < own ? lo + li : halo_ids(li - own);
          const auto r =
              rng::philox(d.seed, std::uint32_t(i), 0, std::uint32_t(rep(u)), rng::oscillator_initial);
          a(u, li) = init == Initial::random         ? kTwoPi * (r.v[0] * 0x1p-32)
                     : init == Initial::synchronized ? 0.0
                                                     : kTwoPi * q * double(i) / double(N);
          if (d.second && li < own) {
            const double u1 = (r.v[2] + 1.0) * 0x1p-32;
            const double angle = kTwoPi * (r.v[3] * 0x1p-32);
            vel(u, li) = kmath::sqrt(T / m) * kmath::sqrt(-2.0 * kmath::log(u1)) * kmath::cos(angle);
          }
        });
    // Z from the chunk partials of the last step: fixed point, summed over ranks.
    auto update_Z = [&]() {
      fixed_point_totals(Exec(), n, here, 2, scale, partial, Zfixed);
      if (c.spatial) {
        Kokkos::deep_copy(Zfixed_h, Zfixed);
        std::vector<std::int64_t> v(Zfixed_h.data(), Zfixed_h.data() + 2 * n);
        mpi.allreduce_sum(v);
        for (std::int64_t k = 0; k < 2 * n; ++k) Zfixed_h.data()[k] = v[k];
        Kokkos::deep_copy(Zfixed, Zfixed_h);
      }
      const double inv = 1.0 / scale;
      Kokkos::parallel_for(
          "oscillators::Z", Kokkos::RangePolicy<Exec>(0, 2 * n),
          KOKKOS_LAMBDA(const std::int64_t t) { Z(t / 2, t % 2) = double(Zfixed(t / 2, t % 2)) * inv; });
    };
    // The halo of `th` from its owners.  Buffers are [rank][unit][entry]: a
    // rank's block of the index list, once per run.
    std::vector<std::int64_t> out_at(std::size_t(mpi.size()) + 1, 0), in_at(std::size_t(mpi.size()) + 1, 0);
    std::vector<int> send_counts(std::size_t(mpi.size()));
    for (int r = 0; r < mpi.size(); ++r) {
      out_at[r + 1] = out_at[r] + halo_out_counts[r];
      in_at[r + 1] = in_at[r] + halo_in_counts[r];
      send_counts[r] = int(n * halo_out_counts[r]);
    }
    const auto out_at_d = to_device("oscillators::out_at", out_at);
    const auto in_at_d = to_device("oscillators::in_at", in_at);
    const std::int64_t nout = halo_out.extent(0), nin = halo_in.extent(0);
    Kokkos::View<double*> send("oscillators::halo_send", std::size_t(n * nout)),
        recv("oscillators::halo_recv", std::size_t(n * nin));
    auto send_h = Kokkos::create_mirror_view(send);
    auto recv_h = Kokkos::create_mirror_view(recv);
    auto exchange = [&](const Phases& th) {
      if (!(c.spatial && c.sparse())) return;
      const auto ho = halo_out;
      Kokkos::parallel_for(
          "oscillators::halo_pack", Kokkos::RangePolicy<Exec>(0, n * nout),
          KOKKOS_LAMBDA(const std::int64_t t) {
            std::int64_t u;
            const std::int64_t at = halo_entry(out_at_d, n, t, u);
            send(t) = th(u, ho(at) - lo);
          });
      Kokkos::deep_copy(send_h, send);
      const auto got =
          mpi.alltoallv(std::vector<double>(send_h.data(), send_h.data() + n * nout), send_counts);
      for (std::size_t k = 0; k < got.size(); ++k) recv_h(k) = got[k];
      Kokkos::deep_copy(recv, recv_h);
      Kokkos::parallel_for(
          "oscillators::halo_unpack", Kokkos::RangePolicy<Exec>(0, n * nin),
          KOKKOS_LAMBDA(const std::int64_t t) {
            std::int64_t u;
            const std::int64_t at = halo_entry(in_at_d, n, t, u);
            th(u, own + at) = recv(t);
          });
    };
    // Z of the initial phases.
    chunk_sums<2>(
        Exec(), n, N, c0, c1,
        KOKKOS_LAMBDA(std::int64_t u, std::int64_t i, double* v) {
          kmath::sincos(a(u, i - lo), &v[1], &v[0]);
        },
        partial, "oscillators::order_parameter");
    update_Z();
    // Second order: the stored velocity lacks the step's last half kick.
    if (d.second)
      Kokkos::parallel_for(
          "oscillators::half_kick", Kokkos::RangePolicy<Exec>(0, n * own),
          KOKKOS_LAMBDA(const std::int64_t t) {
            const std::int64_t u = t / own, i = t - u * own;
            const auto row = Kokkos::subview(a, u, Kokkos::ALL);
            const double s =
                d.sparse ? graph_sum(g, row, i, d) : mean_field_sum(a(u, i), Z(u, 0), Z(u, 1), d);
            vel(u, i) -= 0.5 * d.dt * d.inv_m * (omega(i) + K_u(u) * s);
          });
    const auto owned = [&](const Phases& th) {
      return Kokkos::subview(th, Kokkos::ALL, std::make_pair(std::int64_t(0), own));
    };
    // The drive power's work sum_i omega_i (theta_i - theta_i at the last record)
    // is a difference of two sums of omega_i theta_i, so no per-oscillator copy
    // of the phases at the last record is kept (nor read and rewritten by the
    // observation kernel, which made it latency-bound).
    chunk_sums<1>(
        Exec(), n, N, c0, c1,
        KOKKOS_LAMBDA(std::int64_t u, std::int64_t i, double* v) { v[0] = omega(i - lo) * a(u, i - lo); },
        partial, "oscillators::drive_sum");
    std::vector<double> last_drive = unit_totals(partial, 1);
    Kokkos::deep_copy(start, owned(a));
    Kokkos::fence();
    setup.reset();

    Timers::Scope steps_timer(ctx.timers, "steps");
    Progress progress("oscillators", c.steps, "steps", ctx.show_progress && mpi.root());
    Phases from = a, to = b;
    for (std::int64_t k = 0; k < c.steps; ++k) {
      const std::int64_t step = k;
      if (d.sparse) {
        gather_segments(Exec(), g, from, carried);
        const Step<true> unit{d, g, from, to, vel, omega, K_u, Z, lo, carried};
        noisy_step<0>(loads, n, N, c0, c1, d.seed, step, rep, unit, partial, "oscillators::graph_step");
      } else {
        const Step<false> unit{d, g, from, to, vel, omega, K_u, Z, lo, carried};
        noisy_step<2>(loads, n, N, c0, c1, d.seed, step, rep, unit, partial, "oscillators::step");
        update_Z();
      }
      std::swap(from, to);
      exchange(from);
      const std::int64_t s = k + 1;
      if (s == c.transient) Kokkos::deep_copy(start, owned(from));
      if (s % c.record_every == 0 && s / c.record_every <= records) {
        const Phases th = from;
        // r, psi from Z; sum omega theta; sum v^2 at the full step; coupling energy.  The loads
        // come first, so that they are in flight together.
        chunk_sums<5>(
            Exec(), n, N, c0, c1,
            KOKKOS_LAMBDA(std::int64_t u, std::int64_t i, double* v) {
              const std::int64_t li = i - lo;
              const double x = th(u, li), w = omega(li), vx = d.second ? vel(u, li) : 0.0;
              kmath::sincos(x, &v[1], &v[0]);
              v[2] = w * x;
              if (d.sparse) {  // -1/2 sum_j K_ij cos(theta_j - theta_i), each pair once overall
                double e = 0;
                for (std::int64_t q2 = g.row(li); q2 < g.row(li + 1); ++q2)
                  e += g.w(q2) * kmath::cos(th(u, g.col(q2)) - x);
                v[4] = -0.5 * K_u(u) * e;
              }
              if (d.second) {
                const auto row = Kokkos::subview(th, u, Kokkos::ALL);
                const double sum =
                    d.sparse ? graph_sum(g, row, li, d) : mean_field_sum(x, Z(u, 0), Z(u, 1), d);
                const double full = vx + 0.5 * d.dt * d.inv_m * (w + K_u(u) * sum);
                v[3] = full * full;
              }
            },
            partial, "oscillators::observe");
        const auto obs = unit_totals(partial, 5);
        const std::int64_t j = s / c.record_every - 1;
        for (std::int64_t u = 0; u < n; ++u) {
          double* rec = &local_records[std::size_t((u * records + j) * 5)];
          const double zc = obs[u * 5], zs = obs[u * 5 + 1];
          rec[0] = std::hypot(zc, zs) / double(N);
          rec[1] = std::atan2(zs, zc);
          rec[2] = 0.5 * c.m * obs[u * 5 + 3] / double(N);
          // all-to-all: -(K / 2N) sum_{i != j} cos(theta_i - theta_j) = -(K / 2N)(|Z|^2 - N)
          rec[3] = c.sparse() ? obs[u * 5 + 4] / double(N)
                              : -0.5 * coupling[u] * (zc * zc + zs * zs - double(N)) / double(N);
          rec[4] = (obs[u * 5 + 2] - last_drive[u]) / (double(N) * double(c.record_every) * c.dt);
          last_drive[u] = obs[u * 5 + 2];
        }
      }
      progress.update(s);
    }
    progress.finish();
    // The spread of the mean phase velocities over the window after the transient.
    const double window = double(c.steps - c.transient) * c.dt;
    const Phases th = from;
    chunk_sums<2>(
        Exec(), n, N, c0, c1,
        KOKKOS_LAMBDA(std::int64_t u, std::int64_t i, double* v) {
          const double w = (th(u, i - lo) - start(u, i - lo)) / window;
          v[0] = w;
          v[1] = w * w;
        },
        partial, "oscillators::velocities");
    const auto fin = unit_totals(partial, 2);
    for (std::int64_t u = 0; u < n; ++u) {
      const double mean = fin[u * 2] / double(N);
      spread[u] = std::sqrt(std::max(0.0, fin[u * 2 + 1] / double(N) - mean * mean));
    }
    if (c.final_phases) {
      auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), from);
      for (std::int64_t u = 0; u < n; ++u)
        for (std::int64_t i = 0; i < own; ++i) phases.push_back(h(u, i));
    }
  }
  if (c.spatial) {
    // Every rank holds every run's records; the phases come in [rank][unit][block].
    std::vector<double> all_phases;
    if (c.final_phases) {
      const auto got = mpi.gather(phases);
      if (mpi.root()) {
        all_phases.assign(std::size_t(n * N), 0.0);
        std::size_t at = 0;
        for (int r = 0; r < mpi.size(); ++r) {
          const Block& b = rank_chunks[r];
          const std::int64_t rlo = b.begin * kChunk, rhi = std::min(N, (b.begin + b.count) * kChunk);
          for (std::int64_t u = 0; u < n; ++u)
            for (std::int64_t i = rlo; i < rhi; ++i) all_phases[std::size_t(u * N + i)] = got[at++];
        }
      }
    }
    phases = std::move(all_phases);
    if (!mpi.root()) local_records.clear(), spread.clear(), phases.clear();
  }
  // To rank 0 in unit order (split runs: rank 0 has them all already).
  const auto all = c.spatial ? local_records : mpi.gather(local_records);
  rec_.velocity_spread = c.spatial ? spread : mpi.gather(spread);
  if (c.final_phases) rec_.final_phases = c.spatial ? phases : mpi.gather(phases);
  if (!mpi.root()) return;
  const std::int64_t U = c.units();
  for (auto* v : {&rec_.r, &rec_.psi, &rec_.kinetic, &rec_.potential, &rec_.power})
    v->resize(std::size_t(U * records));
  for (std::int64_t k = 0; k < U * records; ++k) {
    rec_.r[k] = all[5 * k];
    rec_.psi[k] = all[5 * k + 1];
    rec_.kinetic[k] = all[5 * k + 2];
    rec_.potential[k] = all[5 * k + 3];
    rec_.power[k] = all[5 * k + 4];
  }
  // Averages over the records after the transient, per coupling strength.
  const std::int64_t from_record = c.transient / c.record_every;  // first record with time > transient
  const std::int64_t nK = std::int64_t(c.K.size());
  auto average = [&](const std::vector<double>& x, double scale, std::vector<double>& mean,
                     std::vector<double>& err) {
    mean.assign(std::size_t(nK), 0.0);
    err.assign(std::size_t(nK), 0.0);
    for (std::int64_t k = 0; k < nK; ++k) {
      double var = 0;
      for (std::int64_t r = 0; r < R; ++r) {
        const auto [m, e] = binned(&x[std::size_t((k * R + r) * records)], from_record, records);
        mean[k] += scale * m / double(R);
        var += scale * scale * e * e;
      }
      err[k] = std::sqrt(var) / double(R);
    }
  };
  average(rec_.r, 1.0, avg_.r, avg_.r_err);
  average(rec_.potential, 1.0, avg_.potential, avg_.potential_err);
  average(rec_.power, 1.0, avg_.power, avg_.power_err);
  average(rec_.power, c.T > 0 ? 1.0 / c.T : NAN, avg_.entropy_production, avg_.entropy_production_err);
  if (c.order == Order::second) {
    average(rec_.kinetic, 1.0, avg_.kinetic, avg_.kinetic_err);
    average(rec_.kinetic, 2.0, avg_.temperature, avg_.temperature_err);  // T_eff = m <v^2> = 2 <KE>
  }
  avg_.velocity_spread.assign(std::size_t(nK), 0.0);
  avg_.velocity_spread_err.assign(std::size_t(nK), 0.0);
  for (std::int64_t k = 0; k < nK; ++k) {
    double s1 = 0, s2 = 0;
    for (std::int64_t r = 0; r < R; ++r) {
      const double v = rec_.velocity_spread[std::size_t(k * R + r)];
      s1 += v, s2 += v * v;
    }
    const double mean = s1 / double(R);
    avg_.velocity_spread[k] = mean;
    avg_.velocity_spread_err[k] =
        R > 1 ? std::sqrt(std::max(0.0, s2 / double(R) - mean * mean) / double(R - 1)) : 0.0;
  }
}

void OscillatorsWorkload::write(H5Writer& out) const {
  const std::string g = "/oscillators";
  const Config& c = cfg_;
  out.group(g);
  out.attribute(g, "order", c.order == Order::first ? "first" : "second");
  const char* couplings[] = {"all", "complete", "ring", "lattice2d", "lattice3d", "random", "file"};
  out.attribute(g, "coupling", couplings[int(c.coupling)]);
  const char* freqs[] = {"identical", "gaussian", "lorentzian", "file"};
  out.attribute(g, "frequencies", freqs[int(c.frequencies)]);
  out.attribute(g, "oscillators", c.N);
  out.attribute(g, "replicas", c.replicas);
  out.attribute(g, "steps", c.steps);
  out.attribute(g, "transient", c.transient);
  out.attribute(g, "record_every", c.record_every);
  out.attribute(g, "dt", c.dt);
  out.attribute(g, "T", c.T);
  out.attribute(g, "alpha", c.alpha);
  out.attribute(g, "omega", c.omega);
  out.attribute(g, "spread", c.spread);
  if (c.order == Order::second) {
    out.attribute(g, "m", c.m);
    out.attribute(g, "gamma", c.gamma);
  }
  if (c.sparse()) {
    out.attribute(g, "mean_degree", graph_.mean_degree);
    out.attribute(g, "max_degree", graph_.max_degree);
  }
  const auto nK = std::uint64_t(c.K.size()), R = std::uint64_t(c.replicas), J = std::uint64_t(c.records());
  out.write(g + "/K", c.K);
  out.write(g + "/time", record_times());
  out.write(g + "/r", rec_.r, {nK, R, J});
  out.write(g + "/psi", rec_.psi, {nK, R, J});
  out.write(g + "/potential", rec_.potential, {nK, R, J});
  out.write(g + "/power", rec_.power, {nK, R, J});
  if (c.order == Order::second) out.write(g + "/kinetic", rec_.kinetic, {nK, R, J});
  out.write(g + "/velocity_spread", rec_.velocity_spread, {nK, R});
  if (c.N <= 10'000'000) out.write(g + "/frequencies", omega_);
  if (c.final_phases) out.write(g + "/final_phases", rec_.final_phases, {nK, R, std::uint64_t(c.N)});
  const std::string a = g + "/averages";
  out.group(a);
  auto with_error = [&](const std::string& name, const std::vector<double>& mean,
                        const std::vector<double>& err) {
    out.write(a + "/" + name, mean);
    out.write(a + "/" + name + "_error", err);
  };
  with_error("r", avg_.r, avg_.r_err);
  with_error("potential", avg_.potential, avg_.potential_err);
  with_error("power", avg_.power, avg_.power_err);
  if (c.T > 0) with_error("entropy_production", avg_.entropy_production, avg_.entropy_production_err);
  if (c.order == Order::second) {
    with_error("kinetic", avg_.kinetic, avg_.kinetic_err);
    with_error("temperature", avg_.temperature, avg_.temperature_err);
  }
  with_error("velocity_spread", avg_.velocity_spread, avg_.velocity_spread_err);
}

Throughput OscillatorsWorkload::throughput() const {
  return {"oscillator_steps",
          double(cfg_.units()) * double(cfg_.N) * double(cfg_.steps),
          "steps",
          "oscillator_steps_per_ns",
          1e-9,
          {{"oscillators", std::to_string(cfg_.N)}, {"runs", std::to_string(cfg_.units())}}};
}

void OscillatorsWorkload::print_summary(std::FILE* out) const {
  const Config& c = cfg_;
  std::fprintf(out, "\n%lld oscillators, %s order, %lld replicas per K; averages after t = %g:\n",
               static_cast<long long>(c.N), c.order == Order::first ? "first" : "second",
               static_cast<long long>(c.replicas), double(c.transient) * c.dt);
  if (c.sparse() && gather_blocks_ > 1)
    std::fprintf(out, "  (each graph step in %d passes, one per gather block of the phases)\n",
                 gather_blocks_);
  std::fprintf(out, "  %10s  %22s  %22s  %14s%s\n", "K", "r", "coupling energy / N", "spread of <v>",
               c.order == Order::second ? "   T_eff = m<v^2>" : "");
  // An error of a single record is unknown: "n/a" rather than a number.
  auto pm = [](double err, int width, int digits) {
    char text[32];
    if (std::isfinite(err))
      std::snprintf(text, sizeof text, "+- %*.*f", width, digits, err);
    else
      std::snprintf(text, sizeof text, "+- %*s", width, "n/a");
    return std::string(text);
  };
  for (std::size_t k = 0; k < c.K.size() && k < 64; ++k) {
    std::fprintf(out, "  %10.4f  %10.6f %s  %10.6f %s  %14.6f", c.K[k], avg_.r[k],
                 pm(avg_.r_err[k], 8, 6).c_str(), avg_.potential[k], pm(avg_.potential_err[k], 8, 6).c_str(),
                 avg_.velocity_spread[k]);
    if (c.order == Order::second)
      std::fprintf(out, "   %8.5f %s", avg_.temperature[k], pm(avg_.temperature_err[k], 7, 5).c_str());
    std::fprintf(out, "\n");
  }
}

std::unique_ptr<Workload> make_workload(Deck& deck) {
  auto cfg = parse_config(deck);
  HostGraph graph;
  try {
    graph = build_graph(cfg);
  } catch (const std::exception& e) {
    deck.fail("oscillators", cfg.coupling == Coupling::file ? "file" : "coupling", e.what());
  }
  const auto violation = stability_violation(cfg, cfg.sparse() ? graph.max_degree / graph.mean_degree : 1.0);
  if (!violation.empty()) deck.fail("oscillators", "dt", violation);
  std::vector<double> omega;
  try {
    omega = natural_frequencies(cfg);
  } catch (const std::exception& e) {
    deck.fail("oscillators", "frequency_file", e.what());
  }
  return std::make_unique<OscillatorsWorkload>(std::move(cfg), std::move(graph), std::move(omega));
}

}  // namespace prism::oscillators
