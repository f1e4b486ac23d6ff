#pragma once
// Host-side handling of per-agent results that both forms of the policy
// workload (discrete and linear-Gaussian) share: the per-step summaries over
// agents (means reduced on the device, the same bits on any number of ranks),
// the traced agents' rows, and traces collected step-major turned
// agent-major.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/mpi_context.hpp"
#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/reductions.hpp"

namespace prism::policy {

// Per agent and step, [agent][step], on rank 0 in agent order, for the traced
// agents: the chosen policy's value (-G in the discrete form, G in the
// Gaussian one), F of q(s), H[q(pi)] and success.
struct StepRows {
  std::vector<double> chosen, free_energy, policy_entropy, success;
};

// The same four quantities as per-step means over all agents, on every
// rank, [step]: the chosen policy's value (as the kernels write it), F,
// H[q(pi)], success.
using StepSums = StepRows;

// The traced agents, [first, first + count) of the run, as this rank's
// local rows [lo, lo + n) of the agents [begin, begin + rows) it holds.
struct TracedRows {
  std::int64_t lo = 0, n = 0;
  TracedRows(std::int64_t first, std::int64_t count, std::int64_t begin, std::int64_t rows) {
    const std::int64_t from = std::clamp<std::int64_t>(first - begin, 0, rows),
                       to = std::clamp<std::int64_t>(first + count - begin, 0, rows);
    lo = from;
    n = std::max<std::int64_t>(0, to - from);
  }
  std::pair<std::int64_t, std::int64_t> range() const { return {lo, lo + n}; }
};

// The four values a step's kernels write per agent, for a window of steps:
// agent i's value at step s is in column slot(s) of each [agent][window]
// view.  Every `window` steps, and after the last, after_step() turns the
// window's columns into means over every rank's agents and keeps the traced
// agents' rows.  Each mean is an exact 64-bit fixed-point sum
// (common::fixed_point_projection) with a power-of-two scale from that
// step's largest |value| over all ranks, so it has the same bits for any
// split of the agents, and a step with a non-finite value gets NaN; only
// `window` values per quantity leave the device, never agents x steps.
class StepWindow {
 public:
  using View = Kokkos::View<double**, Kokkos::LayoutRight>;
  static constexpr int kQuantities = 4;
  static constexpr std::int64_t kMaxWindow = 256;

  // `agents` in the run, `n` of them here, `traced` of them traced; at most
  // `max_window` steps per window.
  StepWindow(std::int64_t agents, std::int64_t n, TracedRows traced, std::int64_t steps,
             std::int64_t max_window = kMaxWindow)
      : agents_(agents),
        n_(n),
        traced_(traced),
        steps_(steps),
        window_(window_for(agents, steps, max_window)) {
    const std::int64_t rows = std::max<std::int64_t>(n, 1);
    const char* labels[kQuantities] = {"policy::chosen", "policy::vfe", "policy::entropy_pi",
                                       "policy::success"};
    for (int q = 0; q < kQuantities; ++q) {
      views_[q] = View(std::string(labels[q]), std::size_t(rows), std::size_t(window_));
      rows_[q].assign(std::size_t(traced.n * steps), 0.0);
      means_[q].assign(std::size_t(steps), 0.0);
    }
    ones_ = Kokkos::View<double*>("policy::ones", std::size_t(rows));
    Kokkos::deep_copy(ones_, 1.0);
    col_max_ = Kokkos::View<double*>("policy::step_max", std::size_t(window_));
    scales_ = Kokkos::View<double*>("policy::step_scales", std::size_t(window_));
    sums_ = Kokkos::View<std::int64_t*>("policy::step_sums", std::size_t(window_));
    col_max_host_ = Kokkos::create_mirror_view(compat::PinnedSpace(), col_max_);
    scales_host_ = Kokkos::create_mirror_view(compat::PinnedSpace(), scales_);
    sums_host_ = Kokkos::create_mirror_view(compat::PinnedSpace(), sums_);
  }

  // The views the kernels write: chosen, F, H[q(pi)], success.
  const View& view(int q) const { return views_[q]; }
  std::int64_t window() const { return window_; }
  std::int64_t slot(std::int64_t step) const { return step % window_; }

  // After step `step` ran: at the end of a window, or at the last step,
  // reduce the window (collective: every rank calls it at every step).
  void after_step(const MpiContext& mpi, std::int64_t step) {
    if ((step + 1) % window_ != 0 && step + 1 != steps_) return;
    const std::int64_t first = step - slot(step), w = slot(step) + 1;
    const Kokkos::DefaultExecutionSpace space;
    const std::pair<std::int64_t, std::int64_t> rows(0, n_), cols(0, w);
    for (int q = 0; q < kQuantities; ++q) {
      const auto a = Kokkos::subview(views_[q], rows, cols);
      common::column_max_abs(space, a, Kokkos::subview(col_max_, cols));
      Kokkos::deep_copy(space, col_max_host_, col_max_);
      space.fence();
      std::vector<double> vmax(col_max_host_.data(), col_max_host_.data() + w);
      mpi.allreduce_max(vmax);  // +inf where some rank's value is not finite
      for (std::int64_t k = 0; k < w; ++k)
        scales_host_(k) = common::fixed_point_scale(vmax[std::size_t(k)], agents_);
      Kokkos::deep_copy(space, scales_, scales_host_);
      common::fixed_point_projection(space, a, Kokkos::subview(ones_, rows), Kokkos::subview(scales_, cols),
                                     Kokkos::subview(sums_, cols));
      Kokkos::deep_copy(space, sums_host_, sums_);
      space.fence();
      std::vector<std::int64_t> sums(sums_host_.data(), sums_host_.data() + w);
      mpi.allreduce_sum(sums);
      for (std::int64_t k = 0; k < w; ++k)
        means_[q][std::size_t(first + k)] =
            std::isfinite(vmax[std::size_t(k)])
                ? double(sums[std::size_t(k)]) / scales_host_(k) / double(agents_)
                : std::numeric_limits<double>::quiet_NaN();
      if (traced_.n > 0) {
        const auto h = Kokkos::create_mirror_view_and_copy(
            Kokkos::HostSpace(), Kokkos::subview(views_[q], traced_.range(), Kokkos::ALL));
        for (std::int64_t t = 0; t < traced_.n; ++t)
          for (std::int64_t k = 0; k < w; ++k) rows_[q][std::size_t(t * steps_ + first + k)] = h(t, k);
      }
    }
  }

  // The per-step means over all agents (every rank).
  StepSums means() const { return {means_[0], means_[1], means_[2], means_[3]}; }
  // The traced agents' rows, gathered on rank 0 in agent order.
  StepRows traced_rows(const MpiContext& mpi) const {
    return {mpi.gather(rows_[0]), mpi.gather(rows_[1]), mpi.gather(rows_[2]), mpi.gather(rows_[3])};
  }

  // Steps per window: all of them up to max_window, fewer where the run's
  // agents would make a window's four views pass about 256 MB over all
  // ranks.  A function of the run, not of the split.
  static std::int64_t window_for(std::int64_t agents, std::int64_t steps,
                                 std::int64_t max_window = kMaxWindow) {
    constexpr std::int64_t kValues = std::int64_t(1) << 23;
    return std::max<std::int64_t>(1,
                                  std::min({steps, max_window, kValues / std::max<std::int64_t>(agents, 1)}));
  }

 private:
  template <class V>
  using HostCopy = decltype(Kokkos::create_mirror_view(compat::PinnedSpace(), std::declval<V>()));
  std::int64_t agents_, n_;
  TracedRows traced_;
  std::int64_t steps_, window_;
  std::array<View, kQuantities> views_;
  std::array<std::vector<double>, kQuantities> rows_, means_;
  Kokkos::View<double*> ones_, col_max_, scales_;
  Kokkos::View<std::int64_t*> sums_;
  HostCopy<Kokkos::View<double*>> col_max_host_, scales_host_;
  HostCopy<Kokkos::View<std::int64_t*>> sums_host_;
};

// [step][agent][width] (as traces are collected, step by step) to [agent][step][width].
template <class Vector>
Vector agent_major(const Vector& v, std::int64_t T, std::int64_t agents, std::int64_t width) {
  Vector out(v.size());
  for (std::int64_t s = 0; s < T; ++s)
    for (std::int64_t a = 0; a < agents; ++a)
      for (std::int64_t k = 0; k < width; ++k) out[(a * T + s) * width + k] = v[(s * agents + a) * width + k];
  return out;
}

}  // namespace prism::policy
