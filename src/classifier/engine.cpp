#include "classifier/engine.hpp"

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "core/mpi_context.hpp"
#include "kernels/classifier/infer_tensor.hpp"
#include "kernels/classifier/infer_tile.hpp"
#include "kernels/classifier/mlp.hpp"
#include "kernels/common/reductions.hpp"

namespace prism::classifier {

std::vector<double> exact_column_sums(const std::vector<double>& m, std::int64_t columns,
                                      std::int64_t total_rows, const MpiContext& mpi) {
  const std::int64_t rows = std::int64_t(m.size()) / columns;
  std::vector<double> vmax(columns, 0.0);
  // A non-finite value (NaN included) makes its column's maximum infinite.
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c = 0; c < columns; ++c)
      vmax[c] = std::max(vmax[c], common::finite_abs(m[i * columns + c]));
  std::vector<std::int64_t> sums(columns, 0);
  std::vector<double> scale(columns), out(columns);
  std::vector<bool> finite(columns);
  for (std::int64_t c = 0; c < columns; ++c) {
    const double g = mpi.max(vmax[c]);
    finite[c] = std::isfinite(g);
    scale[c] = finite[c] ? common::fixed_point_scale(g, total_rows) : 1.0;
    if (finite[c])
      for (std::int64_t i = 0; i < rows; ++i) sums[c] += std::llround(m[i * columns + c] * scale[c]);
  }
  mpi.allreduce_sum(sums);
  for (std::int64_t c = 0; c < columns; ++c) out[c] = finite[c] ? double(sums[c]) / scale[c] : NAN;
  return out;
}

std::int64_t max_batch(const Shape& shape) {
  // Gradient rows of ~9 k doubles: 4096 observations per launch is ~300 MB.
  return std::max<std::int64_t>(
      1, std::min<std::int64_t>(4096, (std::int64_t(1) << 25) / (shape.parameters + 1)));
}

struct Engine::Impl {
  Net net;
  Params p;
  Generative g;
  Rows x;
  Labels labels;
  std::int64_t n = 0;
  bool has_labels = false;
  std::vector<std::int32_t> host_labels;
  // Work space for up to `chunk` observations at once.
  Units units, delta;
  Grads grads;  // [chunk][parameters + 1]: the last column holds the loss
  Values ones;
  Kokkos::View<std::int64_t*> fixed;
  Kokkos::View<std::int64_t*> rows;
  // Inference: work space of the general kernel, the float copy of the
  // weights, and the tile kernel's transposed weights and Gaussian constants;
  // the weights as last set, from which the copies are made when stale.
  std::vector<double> host_p;
  bool tile_stale = true, general_stale = true, tensor_stale = true;
  Units infer_units;
  Kokkos::View<float**, Kokkos::LayoutLeft> infer_units_f;
  Kokkos::View<float*> p_f;
  Kokkos::View<double*> tile_p, gauss;
  Kokkos::View<float*> tile_p_f;
  Kokkos::View<float*> tensor_w;  // TensorLayout order
  InferOutputs out;
};

namespace {
using DefaultTile = TileLayout<100, 64, 32, 16, 5>;

// The parameters in the tile kernel's order (W_l transposed to [in][out], then b_l).
std::vector<double> tile_order(const std::vector<double>& p) {
  using L = DefaultTile;
  std::vector<double> t(L::size);
  std::int64_t at = 0;
  for (int l = 0; l < 4; ++l) {
    const int in = L::widths[l], out = L::widths[l + 1];
    for (int o = 0; o < out; ++o)
      for (int j = 0; j < in; ++j) t[L::w_at[l] + j * out + o] = p[at + std::int64_t(o) * in + j];
    at += std::int64_t(in) * out;
    for (int o = 0; o < out; ++o) t[L::b_at[l] + o] = p[at + o];
    at += out;
  }
  return t;
}
}  // namespace

Engine::Engine(const Config& cfg, const GenerativeModel& model, const Shape& shape)
    : impl_(std::make_unique<Impl>()), cfg_(cfg), shape_(shape) {
  auto& I = *impl_;
  const int layers = int(shape.widths.size()) - 1;
  if (layers > kMaxLayers || shape.widths.back() > kMaxClasses)
    throw std::logic_error("classifier: at most 8 layers and 64 classes");
  I.net.layers = layers;
  std::int64_t unit = 0;
  for (int l = 0; l <= layers; ++l) {
    I.net.widths[l] = int(shape.widths[l]);
    I.net.unit_at[l] = unit;
    if (l > 0) unit += shape.widths[l];
  }
  for (int l = 0; l < layers; ++l) {
    I.net.w_at[l] = shape.w_at[l];
    I.net.b_at[l] = shape.b_at[l];
  }
  I.net.parameters = shape.parameters;
  I.net.units = unit;
  I.p = Params("classifier::p", shape.parameters);
  const std::int64_t C = model.classes, D = model.features;
  I.g.mu = Rows("classifier::mu", C, D);
  I.g.inv_var = Rows("classifier::inv_var", C, D);
  I.g.log_norm = Values("classifier::log_norm", C);
  auto mu = Kokkos::create_mirror_view(I.g.mu);
  auto iv = Kokkos::create_mirror_view(I.g.inv_var);
  auto ln = Kokkos::create_mirror_view(I.g.log_norm);
  const double half_log_2pi = 0.5 * std::log(2 * M_PI);
  for (std::int64_t s = 0; s < C; ++s) {
    ln(s) = std::log(model.prior[s]);
    for (std::int64_t d = 0; d < D; ++d) {
      const double sg = model.sigma[s * D + d];
      mu(s, d) = model.mu[s * D + d];
      iv(s, d) = 1.0 / (sg * sg);
      ln(s) -= half_log_2pi + std::log(sg);
    }
  }
  Kokkos::deep_copy(I.g.mu, mu);
  Kokkos::deep_copy(I.g.inv_var, iv);
  Kokkos::deep_copy(I.g.log_norm, ln);
  I.gauss = Kokkos::View<double*>("classifier::gauss", 2 * C * D);
  auto hg = Kokkos::create_mirror_view(I.gauss);
  for (std::int64_t d = 0; d < D; ++d)
    for (std::int64_t s = 0; s < C; ++s) {
      hg(2 * (d * C + s)) = mu(s, d);
      hg(2 * (d * C + s) + 1) = iv(s, d);
    }
  Kokkos::deep_copy(I.gauss, hg);
  tile_ = default_tile_shape(I.net);
  chunk_ = max_batch(shape);
}

void Engine::ensure_gradient_space() {
  // Allocated on the first gradient only: an engine that only infers needs none of it.
  auto& I = *impl_;
  if (I.grads.extent(0) > 0) return;
  I.units = Units("classifier::units", chunk_, I.net.units);
  I.delta = Units("classifier::delta", chunk_, I.net.units);
  I.grads = Grads("classifier::grads", chunk_, shape_.parameters + 1);
  I.ones = Values("classifier::ones", chunk_);
  Kokkos::deep_copy(I.ones, 1.0);
  I.fixed = Kokkos::View<std::int64_t*>("classifier::fixed", shape_.parameters + 1);
  I.rows = Kokkos::View<std::int64_t*>("classifier::rows", chunk_);
}
Engine::~Engine() = default;

void Engine::set_parameters(const std::vector<double>& p) {
  auto& I = *impl_;
  compat::copy_from_host(I.p, p);
  // The inference copies are made when inference next runs: a trainer sets
  // parameters every minibatch and never infers.
  I.host_p = p;
  I.tile_stale = I.general_stale = I.tensor_stale = true;
}

bool Engine::tensor_kernel() const {
#if defined(PRISM_CLASSIFIER_TENSOR_CORES)
  return tile_kernel() && cfg_.float_inference && tensor_ && InferTensor<1>::fits();
#else
  return false;
#endif
}

void Engine::refresh_inference_copies(bool tile) {
  auto& I = *impl_;
  if (tile && tensor_kernel()) {
    if (I.tensor_stale) {
      const auto f = tensor_weight_order(I.host_p);
      if (I.tensor_w.extent(0) != f.size())
        I.tensor_w = Kokkos::View<float*>("classifier::tensor_w", f.size());
      compat::copy_from_host(I.tensor_w, f);
      I.tensor_stale = false;
    }
    return;
  }
  if (tile && I.tile_stale) {
    const auto t = tile_order(I.host_p);
    if (cfg_.float_inference) {
      if (I.tile_p_f.extent(0) != t.size())
        I.tile_p_f = Kokkos::View<float*>("classifier::tile_p_f", t.size());
      compat::copy_from_host(I.tile_p_f, t);
    } else {
      if (I.tile_p.extent(0) != t.size()) I.tile_p = Kokkos::View<double*>("classifier::tile_p", t.size());
      compat::copy_from_host(I.tile_p, t);
    }
    I.tile_stale = false;
  }
  if (!tile && I.general_stale && cfg_.float_inference) {
    if (I.p_f.extent(0) != I.p.extent(0)) I.p_f = Kokkos::View<float*>("classifier::p_f", I.p.extent(0));
    compat::copy_from_host(I.p_f, I.host_p);
  }
  if (!tile) I.general_stale = false;
}

void Engine::load(const Dataset& d) {
  auto& I = *impl_;
  I.n = d.n;
  I.x = Rows("classifier::x", d.n, d.features);
  compat::copy_from_host(I.x, d.x);
  I.has_labels = !d.labels.empty();
  I.host_labels = d.labels;
  I.labels = Labels("classifier::labels", I.has_labels ? d.n : 0);
  if (I.has_labels) compat::copy_from_host(I.labels, d.labels);
}

void Engine::launch_gradient(std::int64_t count) {
  auto& I = *impl_;
  const std::int64_t P = shape_.parameters;
  using Range = Kokkos::RangePolicy<Kokkos::DefaultExecutionSpace, Kokkos::IndexType<std::int64_t>>;
  Kokkos::DefaultExecutionSpace space;
  const auto n = std::make_pair(std::int64_t(0), count);
  auto grads = Kokkos::subview(I.grads, n, Kokkos::ALL);
  Kokkos::parallel_for("classifier::backward", Backward::policy(space, count),
                       Backward{I.net, I.p, I.g, I.x, I.rows, I.labels, I.units, I.delta,
                                Kokkos::subview(I.grads, n, P), cfg_.loss == Loss::free_energy});
  Kokkos::parallel_for("classifier::gradient_rows", Range(space, 0, count * P),
                       GradientRows{I.net, I.x, I.rows, I.units, I.delta, grads, count});
}

std::vector<double> Engine::gradient(const std::vector<std::int64_t>& rows, const MpiContext& mpi,
                                     double* mean_loss) {
  auto& I = *impl_;
  const std::int64_t total = std::int64_t(rows.size()), P = shape_.parameters;
  const Block mine = block_partition(total, mpi.size(), mpi.rank());
  if (mine.count > chunk_)
    throw std::logic_error("classifier: a rank's share of a minibatch exceeds the work space");
  ensure_gradient_space();
  Kokkos::DefaultExecutionSpace space;
  const auto n = std::make_pair(std::int64_t(0), mine.count);
  auto grads = Kokkos::subview(I.grads, n, Kokkos::ALL);
  if (mine.count > 0) {
    auto hr = compat::uninitialized_mirror(I.rows);
    for (std::int64_t i = 0; i < mine.count; ++i) hr(i) = rows[mine.begin + i];
    Kokkos::deep_copy(space, I.rows, hr);
    launch_gradient(mine.count);
  }
  // One scale for every rank: from the largest magnitude in any rank's rows.
  double vmax = 0;
  if (mine.count > 0) {
    const std::int64_t count = mine.count;
    Kokkos::parallel_reduce(
        "classifier::max_abs",
        Kokkos::RangePolicy<Kokkos::DefaultExecutionSpace, Kokkos::IndexType<std::int64_t>>(space, 0,
                                                                                            count * (P + 1)),
        KOKKOS_LAMBDA(const std::int64_t t, double& m) {
          const double v = common::finite_abs(grads(t % count, t / count));  // NaN and inf: infinite
          m = v > m ? v : m;
        },
        Kokkos::Max<double>(vmax));
  }
  vmax = mpi.max(vmax);
  if (!std::isfinite(vmax))
    throw std::runtime_error("classifier: a non-finite gradient (diverged training?)");
  const double scale = common::fixed_point_scale(vmax, total);
  std::vector<std::int64_t> sums(P + 1, 0);
  if (mine.count > 0) {
    common::fixed_point_projection(space, grads, Kokkos::subview(I.ones, n), scale, I.fixed, 1);
    auto hf = compat::uninitialized_mirror(I.fixed);
    Kokkos::deep_copy(space, hf, I.fixed);
    space.fence();
    for (std::int64_t k = 0; k <= P; ++k) sums[k] = hf(k);
  }
  mpi.allreduce_sum(sums);
  std::vector<double> g(P);
  for (std::int64_t k = 0; k < P; ++k) g[k] = double(sums[k]) / scale / double(total);
  if (mean_loss) *mean_loss = double(sums[P]) / scale / double(total);
  return g;
}

std::vector<double> Engine::sample_gradient(std::int64_t row, double* loss) {
  ensure_gradient_space();
  auto& I = *impl_;
  const std::int64_t P = shape_.parameters;
  auto hr = compat::uninitialized_mirror(I.rows);
  hr(0) = row;
  Kokkos::deep_copy(I.rows, hr);
  auto grads = Kokkos::subview(I.grads, std::make_pair(std::int64_t(0), std::int64_t(1)), Kokkos::ALL);
  launch_gradient(1);
  // Row 0 of a LayoutLeft matrix is strided: gather it into a contiguous view first.
  Values row0("classifier::row0", P + 1);
  Kokkos::parallel_for(
      "classifier::row0", Kokkos::RangePolicy<Kokkos::DefaultExecutionSpace>(0, P + 1),
      KOKKOS_LAMBDA(const std::int64_t k) { row0(k) = grads(0, k); });
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), row0);
  std::vector<double> g(h.data(), h.data() + P);
  if (loss) *loss = h(P);
  return g;
}

Sums Engine::evaluate(const MpiContext& mpi) {
  auto& I = *impl_;
  const Block mine = block_partition(I.n, mpi.size(), mpi.rank());
  const std::int64_t C = shape_.widths.back();
  // Per observation: loss, correct, F, -ln p(o); summed exactly over ranks.
  std::vector<double> m;
  m.reserve(std::size_t(mine.count * 4));
  for (std::int64_t at = 0; at < mine.count; at += chunk_) {
    const std::int64_t n = std::min(chunk_, mine.count - at);
    const auto out = infer(mine.begin + at, n);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t r = mine.begin + at + i;
      const int y = I.has_labels ? I.host_labels[r] : -1;
      const double loss = cfg_.loss == Loss::free_energy || y < 0
                              ? out.free_energy[i]
                              : -std::log(std::max(out.q[i * C + y], 1e-300));
      m.push_back(loss);
      m.push_back(y >= 0 && out.decision[i] == y ? 1.0 : 0.0);
      m.push_back(out.free_energy[i]);
      m.push_back(out.surprise[i]);
    }
  }
  const auto sums = exact_column_sums(m, 4, I.n, mpi);
  Sums s;
  s.loss = sums[0];
  s.correct = sums[1];
  s.free_energy = sums[2];
  s.surprise = sums[3];
  s.count = I.n;
  return s;
}

Inference Engine::infer(std::int64_t first, std::int64_t n) {
  Inference out;
  infer_chunks(first, n, &out);
  return out;
}

void Engine::infer_on_device(std::int64_t first, std::int64_t n) {
  infer_chunks(first, n, nullptr);
}

void Engine::infer_chunks(std::int64_t first, std::int64_t n, Inference* out) {
  auto& I = *impl_;
  const std::int64_t C = shape_.widths.back();
  if (out) {
    out->q.resize(n * C);
    out->posterior.resize(n * C);
    out->free_energy.resize(n);
    out->surprise.resize(n);
    out->entropy.resize(n);
    out->decision.resize(n);
  }
  Kokkos::DefaultExecutionSpace space;
  // Outputs (and the general kernel's activations) for up to 2^18
  // observations per launch, kept between calls; 2^20 for the fused kernels
  // when the results stay on the device (larger host copies of the outputs
  // cost more to fault in than the fewer launches save).
  const bool tile = tile_ && !generic_kernel_;
  const std::int64_t chunk = std::min<std::int64_t>(n, std::int64_t(1) << (tile && !out ? 20 : 18));
  refresh_inference_copies(tile);
  auto& o = I.out;
  if (std::int64_t(o.q.extent(0)) < chunk) {
    o.q = Rows("classifier::q", chunk, C);
    o.posterior = Rows("classifier::posterior", chunk, C);
    o.free_energy = Values("classifier::F", chunk);
    o.surprise = Values("classifier::surprise", chunk);
    o.entropy = Values("classifier::entropy", chunk);
    o.decision = Labels("classifier::decision", chunk);
  }
  if (!tile && std::int64_t(std::max(I.infer_units.extent(0), I.infer_units_f.extent(0))) < chunk) {
    if (cfg_.float_inference)
      I.infer_units_f =
          Kokkos::View<float**, Kokkos::LayoutLeft>("classifier::infer_units_f", chunk, I.net.units);
    else
      I.infer_units = Units("classifier::infer_units", chunk, I.net.units);
  }
  typename Rows::HostMirror hq, hp;
  typename Values::HostMirror hf, hs, hh;
  typename Labels::HostMirror hd;
  for (std::int64_t at = 0; at < n; at += chunk) {
    const std::int64_t m = std::min(chunk, n - at);
    const Kokkos::RangePolicy<Kokkos::DefaultExecutionSpace, Kokkos::IndexType<std::int64_t>> range(space, 0,
                                                                                                    m);
    const auto run_tile = [&](auto kernel, auto p) {
      typename decltype(kernel)::type{p, I.gauss, I.g.log_norm, I.x, first + at, m, o, exact_logits_}.launch(
          space);
    };
#if defined(PRISM_CLASSIFIER_TENSOR_CORES)
    if (tile && tensor_kernel() && tile_observations_ == 2)
      InferTensor<2>{I.tensor_w, I.gauss, I.g.log_norm, I.x, first + at, m, o, exact_logits_}.launch(space);
    else if (tile && tensor_kernel())
      InferTensor<1>{I.tensor_w, I.gauss, I.g.log_norm, I.x, first + at, m, o, exact_logits_}.launch(space);
    else
#endif
        if (tile && cfg_.float_inference &&
            (tile_observations_     ? tile_observations_
             : compat::kHostBackend ? 2
                                    : 1) == 2)
      run_tile(std::type_identity<InferTile<float, 100, 64, 32, 16, 5, 2>>{}, I.tile_p_f);
    // The float tile kernel with registers bounded for four teams per SM (docs/performance-notes.md).
    else if (tile && cfg_.float_inference)
      run_tile(std::type_identity<InferTile<float, 100, 64, 32, 16, 5, 1, 4>>{}, I.tile_p_f);
    else if (tile)
      run_tile(std::type_identity<InferTile<double, 100, 64, 32, 16, 5>>{}, I.tile_p);
    else if (cfg_.float_inference)
      Kokkos::parallel_for(
          "classifier::infer", range,
          Infer<float>{I.net, I.p_f, I.g, I.x, first + at, I.infer_units_f, o, exact_logits_});
    else
      Kokkos::parallel_for("classifier::infer", range,
                           Infer<double>{I.net, I.p, I.g, I.x, first + at, I.infer_units, o, exact_logits_});
    if (!out) continue;
    if (at == 0) {  // host copies, not zero-filled: they are overwritten
      hq = compat::uninitialized_mirror(o.q);
      hp = compat::uninitialized_mirror(o.posterior);
      hf = compat::uninitialized_mirror(o.free_energy);
      hs = compat::uninitialized_mirror(o.surprise);
      hh = compat::uninitialized_mirror(o.entropy);
      hd = compat::uninitialized_mirror(o.decision);
    }
    Kokkos::deep_copy(space, hq, o.q);
    Kokkos::deep_copy(space, hp, o.posterior);
    Kokkos::deep_copy(space, hf, o.free_energy);
    Kokkos::deep_copy(space, hs, o.surprise);
    Kokkos::deep_copy(space, hh, o.entropy);
    Kokkos::deep_copy(space, hd, o.decision);
    space.fence();
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t s = 0; s < C; ++s) {
        out->q[(at + i) * C + s] = hq(i, s);
        out->posterior[(at + i) * C + s] = hp(i, s);
      }
      out->free_energy[at + i] = hf(i);
      out->surprise[at + i] = hs(i);
      out->entropy[at + i] = hh(i);
      out->decision[at + i] = hd(i);
    }
  }
  space.fence();
}

}  // namespace prism::classifier
