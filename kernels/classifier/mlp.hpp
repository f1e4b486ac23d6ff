#pragma once
// The recognition network q(class | o) of the classifier workload, a ReLU
// MLP, and the Gaussian generative model p(o | class) it is judged against,
// as kernels on any execution space: per observation its forward pass
// (activations kept in a [observation][unit] view), softmax, free energy
// and exact posterior, and for training its backward pass into one row of a
// per-observation gradient matrix, which the caller sums with
// the exact fixed-point reduction (kernels/common/reductions.hpp), so the
// gradient of a minibatch has the same bits for any split over ranks.
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/common/kokkos_compat.hpp"

namespace prism::classifier {

inline constexpr int kMaxLayers = 8;
inline constexpr int kMaxClasses = 64;

// The shape of the network: widths[0] features, ..., widths[layers] classes;
// layer l maps widths[l] -> widths[l + 1] with W_l [out][in] (PyTorch's
// nn.Linear order) at w_at[l] and b_l at b_at[l] in one parameter vector.
struct Net {
  int layers = 0;
  int widths[kMaxLayers + 1] = {};
  std::int64_t w_at[kMaxLayers] = {}, b_at[kMaxLayers] = {}, unit_at[kMaxLayers + 1] = {};
  std::int64_t parameters = 0, units = 0;
  KOKKOS_INLINE_FUNCTION int features() const { return widths[0]; }
  KOKKOS_INLINE_FUNCTION int classes() const { return widths[layers]; }
};

using Params = Kokkos::View<double*>;
using Rows = Kokkos::View<double**, Kokkos::LayoutRight>;  // [observation][feature or class]
using Units = Kokkos::View<double**, Kokkos::LayoutLeft>;  // [observation][unit]
using Grads = Kokkos::View<double**, Kokkos::LayoutLeft>;  // [observation][parameter]
using Values = Kokkos::View<double*>;
using Labels = Kokkos::View<std::int32_t*>;

// p(o | s) = N(o; mu_s, diag sigma_s^2) and p(s): per class the means, the
// inverse variances and log p(s) - sum_d ln(sigma_sd sqrt(2 pi)).
struct Generative {
  Rows mu, inv_var;
  Values log_norm;
};

// ln p(o | s) + ln p(s) of observation i for every class.
KOKKOS_INLINE_FUNCTION void log_joint(Generative const& g, Rows const& x, std::int64_t i, int C,
                                      double* out) {
  const int D = int(x.extent(1));
  for (int s = 0; s < C; ++s) {
    double q = 0;
    for (int d = 0; d < D; ++d) {
      const double r = x(i, d) - g.mu(s, d);
      q += r * r * g.inv_var(s, d);
    }
    out[s] = g.log_norm(s) - 0.5 * q;
  }
}

// log sum exp of v[0..C).
KOKKOS_INLINE_FUNCTION double log_sum_exp(const double* v, int C) {
  double m = v[0];
  for (int s = 1; s < C; ++s) m = v[s] > m ? v[s] : m;
  double sum = 0;
  for (int s = 0; s < C; ++s) sum += kmath::exp(v[s] - m);
  return m + kmath::log(sum);
}

// Forward pass of observation r of x into slot i (forward_unit: unit o of
// layer l alone): units(i, unit_at[l] + j) holds layer l's
// outputs (ReLU after every layer but the last, whose outputs are logits).
// The sums are taken in the units' type (double, or float for float
// inference, the features rounded to it).
template <class P, class X, class U>
KOKKOS_INLINE_FUNCTION void forward_unit(Net const& net, P const& p, X const& x, std::int64_t r,
                                         U const& units, std::int64_t i, int l, int o) {
  using Real = typename U::non_const_value_type;
  const int in = net.widths[l];
  Real z = p(net.b_at[l] + o);
  const std::int64_t w = net.w_at[l] + std::int64_t(o) * in;
  if (l == 0)
    for (int j = 0; j < in; ++j) z += p(w + j) * Real(x(r, j));
  else
    for (int j = 0; j < in; ++j) z += p(w + j) * units(i, net.unit_at[l] + j);
  units(i, net.unit_at[l + 1] + o) = l + 1 < net.layers && z < 0 ? Real(0) : z;
}

template <class P, class X, class U>
KOKKOS_INLINE_FUNCTION void forward(Net const& net, P const& p, X const& x, std::int64_t r, U const& units,
                                    std::int64_t i) {
  for (int l = 0; l < net.layers; ++l)
    for (int o = 0; o < net.widths[l + 1]; ++o) forward_unit(net, p, x, r, units, i, l, o);
}

// Softmax of the logits into q, and ln q, in double.
template <class U>
KOKKOS_INLINE_FUNCTION void softmax(Net const& net, U const& units, std::int64_t i, double* q,
                                    double* log_q) {
  const int C = net.classes();
  double z[kMaxClasses];
  for (int s = 0; s < C; ++s) z[s] = units(i, net.unit_at[net.layers] + s);
  const double lse = log_sum_exp(z, C);
  for (int s = 0; s < C; ++s) {
    log_q[s] = z[s] - lse;
    q[s] = kmath::exp(log_q[s]);
  }
}

// F = sum_s q_s (ln q_s - ln p(s) - ln p(o | s)) from q, ln q and the log joint.
KOKKOS_INLINE_FUNCTION double free_energy(const double* q, const double* log_q, const double* joint, int C) {
  double f = 0;
  for (int s = 0; s < C; ++s) f += q[s] * (log_q[s] - joint[s]);
  return f;
}

// Per observation of a batch: loss(i) and the deltas dLoss/dz of every
// layer's outputs (at the units' offsets), for cross-entropy on labels or
// the free energy F (amortised inference).  One team per observation slot,
// its threads sharing each layer's units (forward) or inputs (backward),
// every unit's sum taken by one thread in a fixed order, so the team size
// does not change a bit.  The gradient rows are then written by
// GradientRows, one thread per (observation, parameter).
struct Backward {
  using Policy = Kokkos::TeamPolicy<Kokkos::DefaultExecutionSpace>;
  using Member = typename Policy::member_type;
  Net net;
  Params p;
  Generative g;
  Rows x;
  Kokkos::View<const std::int64_t*> rows;  // slot i takes observation rows(i)
  Labels labels;
  Units units, delta;  // delta: [observation][unit], like units
  Values loss;
  bool free_energy_loss;

  // Teams of one warp on a GPU (the widest default layer is 64 units), one thread on a host.
  static Policy policy(const Kokkos::DefaultExecutionSpace& space, std::int64_t count) {
    return Policy(space, int(count), compat::kHostBackend ? 1 : 32, 1);
  }

  KOKKOS_INLINE_FUNCTION void operator()(const Member& m) const {
    const std::int64_t i = m.league_rank(), r = rows(i);
    for (int l = 0; l < net.layers; ++l) {
      Kokkos::parallel_for(Kokkos::TeamThreadRange(m, net.widths[l + 1]),
                           [&](const int o) { forward_unit(net, p, x, r, units, i, l, o); });
      m.team_barrier();
    }
    Kokkos::single(Kokkos::PerTeam(m), [&]() {
      const int C = net.classes();
      const std::int64_t top = net.unit_at[net.layers];
      double q[kMaxClasses], log_q[kMaxClasses], joint[kMaxClasses];
      softmax(net, units, i, q, log_q);
      if (free_energy_loss) {
        log_joint(g, x, r, C, joint);
        // F = sum q (ln q - j): dF/dz_k = q_k (g_k - sum_s q_s g_s), g = ln q - j.
        double mean = 0;
        for (int s = 0; s < C; ++s) mean += q[s] * (log_q[s] - joint[s]);
        loss(i) = mean;
        for (int s = 0; s < C; ++s) delta(i, top + s) = q[s] * ((log_q[s] - joint[s]) - mean);
      } else {
        const int y = labels(r);
        loss(i) = -log_q[y];
        for (int s = 0; s < C; ++s) delta(i, top + s) = q[s] - (s == y ? 1.0 : 0.0);
      }
    });
    m.team_barrier();
    // Layer l's input deltas through ReLU', from its output deltas.
    for (int l = net.layers - 1; l >= 1; --l) {
      const int in = net.widths[l], out = net.widths[l + 1];
      const std::int64_t w = net.w_at[l];
      Kokkos::parallel_for(Kokkos::TeamThreadRange(m, in), [&](const int j) {
        double d = 0;
        if (units(i, net.unit_at[l] + j) > 0)
          for (int o = 0; o < out; ++o)
            d += p(w + std::int64_t(o) * in + j) * delta(i, net.unit_at[l + 1] + o);
        delta(i, net.unit_at[l] + j) = d;
      });
      m.team_barrier();
    }
  }
};

// grads(i, k) for parameter k of observation slot i: delta_o a_j for the
// weight W_l[o][j], delta_o for the bias b_l[o].  Thread t = k * count + i,
// so neighbouring threads write neighbouring addresses of a LayoutLeft matrix.
struct GradientRows {
  Net net;
  Rows x;
  Kokkos::View<const std::int64_t*> rows;
  Units units, delta;
  Grads grads;
  std::int64_t count;

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t t) const {
    const std::int64_t i = t % count, k = t / count;
    int l = 0;
    while (l + 1 < net.layers && k >= net.w_at[l + 1]) ++l;
    const int in = net.widths[l];
    if (k >= net.b_at[l]) {
      grads(i, k) = delta(i, net.unit_at[l + 1] + (k - net.b_at[l]));
      return;
    }
    const std::int64_t o = (k - net.w_at[l]) / in, j = (k - net.w_at[l]) % in;
    const double a = l == 0 ? x(rows(i), j) : units(i, net.unit_at[l] + j);
    grads(i, k) = delta(i, net.unit_at[l + 1] + o) * a;
  }
};

// Per-observation outputs of inference, slots [0, count).
struct InferOutputs {
  Rows q, posterior;
  Values free_energy, surprise, entropy;
  Labels decision;
};

// Outputs of slot i from its logits z (in double) and its log joint
// ln p(o | s) + ln p(s): q, the exact posterior, F, -ln p(o), the entropy of
// q and the decision (argmax q); shared by both inference kernels.  N bounds
// C: the tile kernel passes its class count, so that the work arrays live in
// registers rather than in a stack frame.
template <int N = kMaxClasses>
KOKKOS_INLINE_FUNCTION void infer_outputs(const InferOutputs& out, std::int64_t i, const double* z,
                                          const double* joint, int C) {
  double q[N], log_q[N];
  const double lse = log_sum_exp(z, C), evidence = log_sum_exp(joint, C);
  double h = 0, q_best = -1;  // the largest q so far: no array indexed by a run-time value
  int best = 0;
  for (int s = 0; s < C; ++s) {
    log_q[s] = z[s] - lse;
    q[s] = kmath::exp(log_q[s]);
  }
  for (int s = 0; s < C; ++s) {
    out.q(i, s) = q[s];
    out.posterior(i, s) = kmath::exp(joint[s] - evidence);
    h -= q[s] * log_q[s];
    if (q[s] > q_best) {
      q_best = q[s];
      best = s;
    }
  }
  out.free_energy(i) = free_energy(q, log_q, joint, C);
  out.surprise(i) = -evidence;
  out.entropy(i) = h;
  out.decision(i) = best;
}

// Inference of observation first + i into slot i, for any network shape
// (kernels/classifier/infer_tile.hpp is the fused kernel of the default
// one).  The network runs in Real (float or double) on Real(x); its logits,
// softmax, the Gaussian log likelihoods (from the double features) and F
// are double.
template <class Real>
struct Infer {
  Net net;
  Kokkos::View<Real*> p;
  Generative g;
  Rows x;
  std::int64_t first;
  Kokkos::View<Real**, Kokkos::LayoutLeft> units;
  InferOutputs out;
  // Test hook: logits ln p(o | s) + ln p(s) instead of the network's, so
  // that q is the exact posterior.
  bool exact_logits = false;

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i) const {
    const std::int64_t r = first + i;
    forward(net, p, x, r, units, i);
    const int C = net.classes();
    double z[kMaxClasses], joint[kMaxClasses];
    log_joint(g, x, r, C, joint);
    for (int s = 0; s < C; ++s)
      z[s] = exact_logits ? double(Real(joint[s])) : double(units(i, net.unit_at[net.layers] + s));
    infer_outputs(out, i, z, joint, C);
  }
};

}  // namespace prism::classifier
