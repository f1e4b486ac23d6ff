#include "te/workload.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/h5_writer.hpp"
#include "core/host_threads.hpp"
#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "kernels/common/philox.hpp"
#include "te/estimator.hpp"

namespace prism::te {

std::vector<bool> benjamini_hochberg(const std::vector<double>& p, double alpha) {
  const std::size_t m = p.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::size_t largest = 0;  // the number of rejections
  for (std::size_t r = 1; r <= m; ++r)
    if (p[order[r - 1]] <= alpha * double(r) / double(m)) largest = r;
  std::vector<bool> out(m, false);
  for (std::size_t r = 0; r < largest; ++r) out[order[r]] = true;
  return out;
}

TeWorkload::TeWorkload(Config cfg, Series data) : cfg_(std::move(cfg)), data_(std::move(data)) {
  if (cfg_.matrix) {
    const std::int64_t n = std::int64_t(data_.values.size());
    for (std::int64_t t = 0; t < n; ++t)
      for (std::int64_t s = 0; s < n; ++s)
        if (s != t) pairs_.emplace_back(s, t);
  } else {
    pairs_ = cfg_.pairs;
  }
}

namespace {
// The source rows of surrogate `s` (>= 1) of pair `p`: a permutation of the
// observations (shuffle), or the source series circularly shifted by an
// offset in [n/10, n - n/10] (shift; returned as the shifted series' rows is
// not possible, so the caller shifts the series).  Keyed by (seed, pair,
// surrogate): the same on every rank.
std::vector<std::int64_t> permutation(std::uint64_t seed, std::int64_t pair, std::int64_t s, std::int64_t n) {
  std::vector<std::int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto u =
        rng::philox(seed, std::uint32_t(pair), std::uint32_t(s), std::uint32_t(i), rng::te_surrogates);
    const std::uint64_t r = (std::uint64_t(u.v[0]) << 32 | u.v[1]) % std::uint64_t(i + 1);
    std::swap(perm[i], perm[r]);
  }
  return perm;
}
std::int64_t shift_of(std::uint64_t seed, std::int64_t pair, std::int64_t s, std::int64_t n) {
  const auto u = rng::philox(seed, std::uint32_t(pair), std::uint32_t(s), 0xffffffffu, rng::te_surrogates);
  const std::int64_t lo = std::max<std::int64_t>(1, n / 10), span = std::max<std::int64_t>(1, n - 2 * lo + 1);
  return lo + std::int64_t((std::uint64_t(u.v[0]) << 32 | u.v[1]) % std::uint64_t(span));
}
}  // namespace

void TeWorkload::run(RunContext& ctx) {
  const auto& mpi = ctx.mpi;
  const std::int64_t units = this->units(), per_pair = 1 + cfg_.surrogates;
  const Block mine = block_partition(units, mpi.size(), mpi.rank());
  std::vector<double> values(mine.count);
  {
    std::optional<Estimator> est;
    {
      auto t = ctx.timers.scope("init");
      est.emplace(cfg_, data_.length(), host_cores());
    }
    Progress progress("te", mine.count, "estimates", ctx.show_progress && mpi.root());
    auto t = ctx.timers.scope("estimate");
    const std::int64_t observations = est->observations();
    // The source of unit `unit`: the series itself (s = 0), or surrogate s.
    auto source = [&](std::int64_t unit, std::vector<double>& series, std::vector<std::int64_t>& rows) {
      const std::int64_t pair = unit / per_pair, s = unit % per_pair;
      const auto& y = data_.values[pairs_[pair].first];
      if (s > 0 && cfg_.surrogate == Surrogate::shift) {
        const std::int64_t n = std::int64_t(y.size()), d = shift_of(ctx.run.seed, pair, s, n);
        series.resize(n);
        for (std::int64_t i = 0; i < n; ++i) series[i] = y[(i + d) % n];
        return;
      }
      series = y;
      if (s > 0) rows = permutation(ctx.run.seed, pair, s, observations);
    };
    // Batches of consecutive units with one target (pairs run target-major).
    for (std::int64_t u = 0; u < mine.count;) {
      const std::int64_t target = pairs_[(mine.begin + u) / per_pair].second;
      std::int64_t count = 1;
      while (u + count < mine.count && count < est->batch() &&
             pairs_[(mine.begin + u + count) / per_pair].second == target)
        ++count;
      const auto te =
          est->estimate(data_.values[target], count,
                        [&](std::int64_t m, std::vector<double>& series, std::vector<std::int64_t>& rows) {
                          source(mine.begin + u + m, series, rows);
                        });
      std::copy(te.begin(), te.end(), values.begin() + u);
      u += count;
      progress.update(u);
    }
    progress.finish();
  }
  done_ = units;
  // Every estimate to rank 0 in unit order, then per pair: p-value, surrogate moments.
  const auto all = mpi.gather(values);
  if (!mpi.root()) return;
  std::vector<double> p;
  for (std::size_t q = 0; q < pairs_.size(); ++q) {
    PairResult r;
    r.source = pairs_[q].first;
    r.target = pairs_[q].second;
    r.te = all[q * per_pair];
    if (!std::isfinite(r.te) && error_.empty())
      error_ = "a non-finite TE for " + data_.names[r.source] + " -> " + data_.names[r.target];
    if (cfg_.surrogates > 0) {
      double sum = 0, above = 0;
      for (std::int64_t s = 1; s < per_pair; ++s) {
        sum += all[q * per_pair + s];
        above += all[q * per_pair + s] >= r.te;
      }
      r.surrogate_mean = sum / double(cfg_.surrogates);
      double var = 0;
      for (std::int64_t s = 1; s < per_pair; ++s)
        var += (all[q * per_pair + s] - r.surrogate_mean) * (all[q * per_pair + s] - r.surrogate_mean);
      r.surrogate_std = cfg_.surrogates > 1 ? std::sqrt(var / double(cfg_.surrogates - 1)) : 0.0;
      r.p_value = (1.0 + above) / (1.0 + double(cfg_.surrogates));
      p.push_back(r.p_value);
    }
    results_.push_back(r);
  }
  if (cfg_.surrogates > 0) {
    std::vector<bool> sig(p.size());
    if (cfg_.fdr)
      sig = benjamini_hochberg(p, cfg_.alpha);
    else
      for (std::size_t q = 0; q < p.size(); ++q) sig[q] = p[q] <= cfg_.alpha;
    for (std::size_t q = 0; q < results_.size(); ++q) results_[q].significant = sig[q];
  }
}

void TeWorkload::write(H5Writer& out) const {
  const std::string g = "/te";
  const std::int64_t n = std::int64_t(data_.values.size());
  out.group(g);
  out.attribute(g, "source", source_name(cfg_.source));
  out.attribute(g, "series", n);
  out.attribute(g, "length", data_.length());
  out.attribute(g, "observations", cfg_.observations(data_.length()));
  out.attribute(g, "algorithm", std::int64_t(cfg_.algorithm));
  out.attribute(g, "K", cfg_.K);
  out.attribute(g, "k", cfg_.k);
  out.attribute(g, "k_tau", cfg_.k_tau);
  out.attribute(g, "l", cfg_.l);
  out.attribute(g, "l_tau", cfg_.l_tau);
  out.attribute(g, "delay", cfg_.delay);
  out.attribute(g, "normalise", std::int64_t(cfg_.normalise));
  out.attribute(g, "noise", cfg_.noise);
  out.attribute(g, "search",
                window_search(cfg_.search, cfg_.observations(data_.length())) ? "window" : "brute");
  out.attribute(g, "mode", cfg_.matrix ? "matrix" : "pairs");
  out.attribute(g, "surrogates", cfg_.surrogates);
  out.attribute(g, "surrogate", cfg_.surrogate == Surrogate::shuffle ? "shuffle" : "shift");
  out.attribute(g, "fdr", std::int64_t(cfg_.fdr));
  out.attribute(g, "alpha", cfg_.alpha);
  out.attribute(g, "units", "nats");
  std::string names;
  for (const auto& s : data_.names) names += s + "\n";
  out.attribute(g, "series_names", names);
  // [target][source] matrices; NaN where no estimate was asked for.
  const std::vector<std::uint64_t> dims{std::uint64_t(n), std::uint64_t(n)};
  std::vector<double> te(n * n, NAN), p(n * n, NAN), mean(n * n, NAN), sd(n * n, NAN);
  std::vector<std::int8_t> sig(n * n, 0);
  for (const auto& r : results_) {
    const std::size_t at = std::size_t(r.target * n + r.source);
    te[at] = r.te;
    p[at] = r.p_value;
    mean[at] = r.surrogate_mean;
    sd[at] = r.surrogate_std;
    sig[at] = r.significant;
  }
  out.write(g + "/te", te, dims);
  out.write(g + "/p_value", p, dims);
  out.write(g + "/surrogate_mean", mean, dims);
  out.write(g + "/surrogate_std", sd, dims);
  out.write(g + "/significant", sig, dims);
  out.write(g + "/observations", std::vector<std::int64_t>{cfg_.observations(data_.length())});
  std::vector<std::int64_t> pair_list;
  for (const auto& [s, t] : pairs_) {
    pair_list.push_back(s);
    pair_list.push_back(t);
  }
  out.write(g + "/pairs", pair_list, {std::uint64_t(pairs_.size()), 2});
}

Throughput TeWorkload::throughput() const {
  Throughput tp{"estimates", double(done_), "estimate", "estimates_per_s", 1.0, {}};
  tp.fields = {{"series", std::to_string(data_.values.size())},
               {"observations", std::to_string(cfg_.observations(data_.length()))},
               {"pairs", std::to_string(pairs_.size())},
               {"surrogates", std::to_string(cfg_.surrogates)}};
  return tp;
}

void TeWorkload::print_summary(std::FILE* out) const {
  std::vector<const PairResult*> order;
  for (const auto& r : results_) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(), [](auto a, auto b) { return a->te > b->te; });
  std::fprintf(out, "\nTE (nats), KSG %d, K = %lld, %lld observations; strongest pairs:\n", cfg_.algorithm,
               static_cast<long long>(cfg_.K), static_cast<long long>(cfg_.observations(data_.length())));
  std::fprintf(out, "%-12s %-12s %12s %10s %12s %s\n", "source", "target", "TE", "p", "surr. mean",
               cfg_.surrogates > 0 ? "significant" : "");
  for (std::size_t i = 0; i < order.size() && i < 20; ++i) {
    const auto& r = *order[i];
    std::fprintf(out, "%-12s %-12s %12.6f %10.4g %12.6f %s\n", data_.names[r.source].c_str(),
                 data_.names[r.target].c_str(), r.te, r.p_value, r.surrogate_mean,
                 cfg_.surrogates > 0 ? (r.significant ? "yes" : "no") : "");
  }
}

RunStatus TeWorkload::status() const {
  RunStatus s;
  s.error = error_;
  return s;
}

std::unique_ptr<Workload> make_workload(Deck& deck) {
  auto cfg = parse_config(deck);
  auto data = load_series(cfg, deck);
  return std::make_unique<TeWorkload>(std::move(cfg), std::move(data));
}

}  // namespace prism::te
