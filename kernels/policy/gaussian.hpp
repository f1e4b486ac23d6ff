#pragma once
// Linear-Gaussian active-inference agents (the `policy` workload's
// model = "gaussian"): each agent lives in its own world
//   s' = A s + B u + w,  w ~ N(0, Q);   o = C s + v,  v ~ N(0, R),
// holds the exact (Kalman) belief N(m, P) about s, and scores every policy
// (a sequence of actions u_1..u_H from a finite alphabet) by its expected
// free energy in closed form,
//   G(pi) = sum_tau KL[N(C m_tau, C P_tau C' + R) || N(mu*, Sigma*)]   (risk)
//         + sum_tau E_q(s_tau)[H[N(C s_tau, R)]]                       (ambiguity),
// with m_tau = A m_{tau-1} + B u_tau and P_tau = A P_{tau-1} A' + Q from the
// current belief.  In a linear-Gaussian model P_tau and the ambiguity do not
// depend on the policy, so their part of G is computed once per agent and
// step and each policy costs only its mean roll-out and a quadratic form.
// q(pi) = softmax(-gamma G); the action is the first of the most probable
// policy, or of one drawn from q(pi)^alpha.
//
// One thread per agent: an agent's work is a few small dense matrix
// products, too little to share across a team, and agents are many.  Random
// numbers are Philox keyed by (seed, agent, step), so a trajectory does not
// depend on the split over ranks.
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "kernels/common/dense.hpp"
#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/philox.hpp"
#include "policy/gaussian_config.hpp"

namespace prism::policy {

// Sizes, settings and offsets into the one parameter vector.
struct GaussSpec {
  int n = 0, k = 0, d = 0;  // state, control and observation dimensions
  int H = 1;                // policy length
  std::int64_t P = 0;       // policies
  double gamma = 1.0, alpha = 1.0, success_radius = 0.0;
  bool stochastic = false;
  // Row-major matrices: A n x n, B n x k, Q and its Cholesky factor n x n,
  // C d x n, R and its factor d x d, the preferred mean mu* (d) and the
  // inverse of the preferred covariance d x d, the initial mean (n),
  // covariance and its factor n x n, the action alphabet [action][k].
  std::int64_t a_at = 0, b_at = 0, q_at = 0, lq_at = 0, c_at = 0, r_at = 0, lr_at = 0, mu_at = 0, sinv_at = 0,
               m0_at = 0, p0_at = 0, l0_at = 0, u_at = 0;
  double logdet_pref = 0;  // ln det Sigma*
  double ambiguity = 0;    // H[N(0, R)] = (d ln(2 pi e) + ln det R) / 2, per step
};

namespace gauss {

// out (r x c) = X (r x m) Y (m x c), all row-major; out must not alias.
KOKKOS_INLINE_FUNCTION void mul(const double* X, const double* Y, double* out, int r, int m, int c) {
  for (int i = 0; i < r; ++i)
    for (int j = 0; j < c; ++j) {
      double v = 0;
      for (int l = 0; l < m; ++l) v += X[i * m + l] * Y[l * c + j];
      out[i * c + j] = v;
    }
}
// out (r x r) = X (r x m) S (m x m) X' + add (r x r; may be null).
KOKKOS_INLINE_FUNCTION void sandwich(const double* X, const double* S, const double* add, double* out, int r,
                                     int m) {
  double XS[kMaxGaussDim * kMaxGaussDim];
  mul(X, S, XS, r, m, m);
  for (int i = 0; i < r; ++i)
    for (int j = 0; j < r; ++j) {
      double v = add ? add[i * r + j] : 0.0;
      for (int l = 0; l < m; ++l) v += XS[i * m + l] * X[j * m + l];
      out[i * r + j] = v;
    }
}
// The Cholesky factor and the solve with it (kernels/common/dense.hpp).
using dense::cholesky;
KOKKOS_INLINE_FUNCTION void solve(const double* L, double* x, int n) {
  dense::cholesky_solve(L, x, n);
}
// x' S x for symmetric S.
KOKKOS_INLINE_FUNCTION double quadratic(const double* S, const double* x, int n) {
  double v = 0;
  for (int i = 0; i < n; ++i) {
    double r = 0;
    for (int j = 0; j < n; ++j) r += S[i * n + j] * x[j];
    v += x[i] * r;
  }
  return v;
}

// Standard normals 2j and 2j + 1 of an agent's step (Box-Muller on one Philox draw).
KOKKOS_INLINE_FUNCTION void normals(std::uint64_t seed, std::int64_t agent, std::int64_t step, int j,
                                    double* z) {
  const auto r = rng::philox(seed, std::uint32_t(agent), std::uint32_t(agent >> 32),
                             std::uint32_t(step) << 4 | std::uint32_t(j), rng::policy_gaussian);
  const double u1 = (double(r.v[0]) + 1.0) * 0x1p-32, u2 = double(r.v[1]) * 0x1p-32;
  const double rad = kmath::sqrt(-2.0 * kmath::log(u1)), angle = 6.283185307179586 * u2;
  z[0] = rad * kmath::cos(angle);
  z[1] = rad * kmath::sin(angle);
}
// count (<= 8) standard normals from draws first, first + 1, ...
KOKKOS_INLINE_FUNCTION void normal_vector(std::uint64_t seed, std::int64_t agent, std::int64_t step,
                                          int first, int count, double* z) {
  double pair[2];
  for (int i = 0; i < count; i += 2) {
    normals(seed, agent, step, first + i / 2, pair);
    z[i] = pair[0];
    if (i + 1 < count) z[i + 1] = pair[1];
  }
}
inline constexpr int kStateDraws = 0, kObservationDraws = 4, kActionDraw = 8;

}  // namespace gauss

using GaussView = Kokkos::View<double**, Kokkos::LayoutRight>;
using GaussInt = Kokkos::View<int*>;

// One step of every agent on this rank: the world moves under the last
// action (or is drawn from the initial belief at step 0), emits an
// observation, the belief is updated by the Kalman filter, every policy is
// scored and an action chosen.
struct GaussStep {
  GaussSpec sp;
  Kokkos::View<const double*> p;
  Kokkos::View<const int**, Kokkos::LayoutRight> policies;  // [policy][tau]: action indices
  std::int64_t first = 0, step = 0;                         // first agent of this rank; the step
  std::int64_t slot = 0;                                    // the step's column of the four below
  std::uint64_t seed = 0;
  GaussView mean, cov, world, obs, G, q_pi;    // [agent][n], [n * n], [n], [d], [P], [P]
  GaussInt action;                             // the action chosen at the last step
  GaussView chosen, vfe, entropy_pi, success;  // [agent][window of steps]

  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t i) const {
    constexpr int D = kMaxGaussDim;
    const int n = sp.n, d = sp.d, k = sp.k;
    const double* prm = p.data();
    const std::int64_t agent = first + i;
    double m[D], P[D * D], s[D], z[D], t1[D * D], t2[D * D];
    if (step == 0) {
      for (int a = 0; a < n; ++a) m[a] = prm[sp.m0_at + a];
      for (int a = 0; a < n * n; ++a) P[a] = prm[sp.p0_at + a];
      // The world's initial state is a draw from the initial belief.
      gauss::normal_vector(seed, agent, step, gauss::kStateDraws, n, z);
      for (int a = 0; a < n; ++a) {
        s[a] = m[a];
        for (int b = 0; b <= a; ++b) s[a] += prm[sp.l0_at + a * n + b] * z[b];
      }
    } else {
      // Prediction under the last action, for the belief and the world.
      const double* u = prm + sp.u_at + std::int64_t(action(i)) * k;
      for (int a = 0; a < n; ++a) {
        t1[a] = mean(i, a);
        z[a] = world(i, a);
      }
      for (int a = 0; a < n * n; ++a) t2[a] = cov(i, a);
      gauss::mul(prm + sp.a_at, t1, m, n, n, 1);
      gauss::mul(prm + sp.a_at, z, s, n, n, 1);
      for (int a = 0; a < n; ++a)
        for (int c = 0; c < k; ++c) {
          m[a] += prm[sp.b_at + a * k + c] * u[c];
          s[a] += prm[sp.b_at + a * k + c] * u[c];
        }
      gauss::sandwich(prm + sp.a_at, t2, prm + sp.q_at, P, n, n);
      gauss::normal_vector(seed, agent, step, gauss::kStateDraws, n, z);
      for (int a = 0; a < n; ++a)
        for (int b = 0; b <= a; ++b) s[a] += prm[sp.lq_at + a * n + b] * z[b];
    }
    // The observation o = C s + v.
    double o[D], innov[D];
    gauss::normal_vector(seed, agent, step, gauss::kObservationDraws, d, z);
    for (int a = 0; a < d; ++a) {
      o[a] = 0;
      for (int b = 0; b < n; ++b) o[a] += prm[sp.c_at + a * n + b] * s[b];
      for (int b = 0; b <= a; ++b) o[a] += prm[sp.lr_at + a * d + b] * z[b];
    }
    // Kalman update: S = C P C' + R, K = P C' S^-1, m += K (o - C m), and
    // P in the Joseph form (I - K C) P (I - K C)' + K R K', which stays
    // symmetric positive definite in rounding.
    double S[D * D], L[D * D], PCt[D * D];
    gauss::sandwich(prm + sp.c_at, P, prm + sp.r_at, S, d, n);
    const double logdet_S = gauss::cholesky(S, L, d);
    for (int a = 0; a < d; ++a) {
      innov[a] = o[a];
      for (int b = 0; b < n; ++b) innov[a] -= prm[sp.c_at + a * n + b] * m[b];
    }
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < d; ++b) {
        double v = 0;
        for (int c = 0; c < n; ++c) v += P[a * n + c] * prm[sp.c_at + b * n + c];
        PCt[a * d + b] = v;
      }
    double K[D * D];  // n x d: row a solves S k_a = (P C')_a
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < d; ++b) K[a * d + b] = PCt[a * d + b];
      gauss::solve(L, K + a * d, d);
    }
    double w[D];  // S^-1 innov, for F
    for (int a = 0; a < d; ++a) w[a] = innov[a];
    gauss::solve(L, w, d);
    double surprise = 0.5 * (d * 1.8378770664093453 + logdet_S);  // d ln(2 pi) + ln det S
    for (int a = 0; a < d; ++a) surprise += 0.5 * innov[a] * w[a];
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < d; ++b) m[a] += K[a * d + b] * innov[b];
    // I - K C, then the Joseph form.
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) {
        double v = a == b ? 1.0 : 0.0;
        for (int c = 0; c < d; ++c) v -= K[a * d + c] * prm[sp.c_at + c * n + b];
        t1[a * n + b] = v;
      }
    gauss::sandwich(t1, P, nullptr, t2, n, n);
    gauss::sandwich(K, prm + sp.r_at, t2, P, n, d);
    for (int a = 0; a < n; ++a) {
      mean(i, a) = m[a];
      world(i, a) = s[a];
    }
    for (int a = 0; a < n * n; ++a) cov(i, a) = P[a];
    for (int a = 0; a < d; ++a) obs(i, a) = o[a];

    // The policy-independent part of G: the covariance roll-out.
    double base = 0;
    for (int a = 0; a < n * n; ++a) t1[a] = P[a];
    for (int tau = 0; tau < sp.H; ++tau) {
      gauss::sandwich(prm + sp.a_at, t1, prm + sp.q_at, t2, n, n);
      for (int a = 0; a < n * n; ++a) t1[a] = t2[a];
      gauss::sandwich(prm + sp.c_at, t1, prm + sp.r_at, S, d, n);  // predicted observation covariance
      const double logdet_o = gauss::cholesky(S, L, d);
      double trace = 0;  // tr(Sigma*^-1 S)
      for (int a = 0; a < d; ++a)
        for (int b = 0; b < d; ++b) trace += prm[sp.sinv_at + a * d + b] * S[b * d + a];
      base += 0.5 * (trace - d + sp.logdet_pref - logdet_o) + sp.ambiguity;
    }
    // Each policy's mean roll-out and risk; q(pi) = softmax(-gamma G).
    double best_logit = -1e300;
    for (std::int64_t pi = 0; pi < sp.P; ++pi) {
      double mt[D], next[D], diff[D];
      for (int a = 0; a < n; ++a) mt[a] = m[a];
      double g = base;
      for (int tau = 0; tau < sp.H; ++tau) {
        const double* u = prm + sp.u_at + std::int64_t(policies(pi, tau)) * k;
        gauss::mul(prm + sp.a_at, mt, next, n, n, 1);
        for (int a = 0; a < n; ++a) {
          mt[a] = next[a];
          for (int c = 0; c < k; ++c) mt[a] += prm[sp.b_at + a * k + c] * u[c];
        }
        for (int a = 0; a < d; ++a) {
          diff[a] = -prm[sp.mu_at + a];
          for (int b = 0; b < n; ++b) diff[a] += prm[sp.c_at + a * n + b] * mt[b];
        }
        g += 0.5 * gauss::quadratic(prm + sp.sinv_at, diff, d);
      }
      G(i, pi) = g;
      best_logit = best_logit > -sp.gamma * g ? best_logit : -sp.gamma * g;
    }
    double total = 0;
    for (std::int64_t pi = 0; pi < sp.P; ++pi) total += kmath::exp(-sp.gamma * G(i, pi) - best_logit);
    double h = 0, q_best = -1;
    std::int64_t choice = 0;
    for (std::int64_t pi = 0; pi < sp.P; ++pi) {
      const double log_q = -sp.gamma * G(i, pi) - best_logit - kmath::log(total), q = kmath::exp(log_q);
      q_pi(i, pi) = q;
      h -= q * log_q;
      if (q > q_best) {
        q_best = q;
        choice = pi;
      }
    }
    if (sp.stochastic) {
      // A policy drawn with probability proportional to q(pi)^alpha.
      const auto r = rng::philox(seed, std::uint32_t(agent), std::uint32_t(agent >> 32),
                                 std::uint32_t(step) << 4 | gauss::kActionDraw, rng::policy_gaussian);
      const double uniform = double(r.v[0]) * 0x1p-32;
      double sum = 0, c = 0;
      for (std::int64_t pi = 0; pi < sp.P; ++pi) sum += kmath::pow(q_pi(i, pi) / q_best, sp.alpha);
      for (choice = 0; choice < sp.P - 1; ++choice) {
        c += kmath::pow(q_pi(i, choice) / q_best, sp.alpha);
        if (uniform * sum < c) break;
      }
    }
    action(i) = policies(choice, 0);
    chosen(i, slot) = G(i, choice);
    vfe(i, slot) = surprise;
    entropy_pi(i, slot) = h;
    // Success: the world's noise-free observation C s within the radius of mu*.
    double dist2 = 0;
    for (int a = 0; a < d; ++a) {
      double v = -prm[sp.mu_at + a];
      for (int b = 0; b < n; ++b) v += prm[sp.c_at + a * n + b] * s[b];
      dist2 += v * v;
    }
    success(i, slot) = dist2 <= sp.success_radius * sp.success_radius ? 1.0 : 0.0;
  }
};

}  // namespace prism::policy
