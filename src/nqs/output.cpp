#include "nqs/output.hpp"

#include <cmath>
#include <stdexcept>

#include "core/h5_reader.hpp"
#include "core/h5_writer.hpp"

namespace prism::nqs {

void write_results(H5Writer& out, const Config& cfg, std::uint64_t seed, const Results& res) {
  const std::string g = "/nqs";
  out.group(g);
  out.attribute(g, "hamiltonian", std::string(hamiltonian_name(cfg.hamiltonian)));
  out.attribute(g, "lattice", std::string(lattice_name(cfg.lattice)));
  out.attribute(g, "boundary", std::string(cfg.periodic ? "periodic" : "open"));
  out.attribute(g, "Lx", cfg.Lx);
  out.attribute(g, "Ly", cfg.Ly);
  out.attribute(g, "N", cfg.sites());
  out.attribute(g, "M", cfg.hidden());
  out.attribute(g, "alpha", cfg.alpha);
  out.attribute(g, "precision", std::string(precision_name(cfg.precision)));
  out.attribute(g, "J", cfg.J);
  out.attribute(g, "h", cfg.h);
  out.attribute(g, "Delta", cfg.Delta);
  out.attribute(g, "J2", cfg.J2);
  out.attribute(g, "marshall_sign", static_cast<std::int64_t>(cfg.marshall_sign));
  out.attribute(g, "parameters", std::string(parameters_name(cfg)));
  out.attribute(g, "symmetry", std::string(symmetry_name(cfg)));
  out.attribute(g, "chains", cfg.chains);
  out.attribute(g, "samples_per_chain", cfg.samples_per_chain);
  out.attribute(g, "seed", static_cast<std::int64_t>(seed));
  out.attribute(g, "cg_preconditioner", std::string(cfg.cg_jacobi ? "jacobi" : "none"));
  out.attribute(g, "sr_solver", std::string(cfg.sr_cholesky ? "cholesky" : "cg"));
  out.attribute(g, "sr_precision", std::string(cfg.sr_float ? "float" : "double"));
  if (cfg.reference_energy) out.attribute(g, "reference_energy", *cfg.reference_energy);
  if (!res.error.empty()) out.attribute(g, "error", res.error);

  const std::size_t n = res.history.size();
  std::vector<std::int64_t> iteration(n), cg(n);
  std::vector<double> col(n);
  for (std::size_t i = 0; i < n; ++i) {
    iteration[i] = static_cast<std::int64_t>(i);
    cg[i] = res.history[i].cg_iterations;
  }
  out.write(g + "/iteration", iteration);
  out.write(g + "/cg_iterations", cg);
  auto column = [&](const char* name, double IterationStats::*field, double scale = 1.0) {
    for (std::size_t i = 0; i < n; ++i) col[i] = res.history[i].*field * scale;
    out.write(g + "/" + name, col);
  };
  column("energy_mean", &IterationStats::energy_mean);
  column("energy_err", &IterationStats::energy_err);
  column("energy_variance", &IterationStats::energy_variance);
  column("energy_per_site_mean", &IterationStats::energy_mean, 1.0 / double(cfg.sites()));
  column("acceptance", &IterationStats::acceptance);
  column("r_hat", &IterationStats::r_hat);
  column("time", &IterationStats::seconds);

  const auto N = static_cast<std::size_t>(cfg.sites()), M = static_cast<std::size_t>(cfg.hidden());
  // The weights; with complex parameters their imaginary parts as a_im, b_im,
  // W_im; with translation symmetry the shared parameters as well.
  if (cfg.translation_symmetry) out.write(g + "/symmetric_parameters", res.parameters);
  const auto p = network_weights(cfg, res.parameters);
  const std::size_t Pw = static_cast<std::size_t>(cfg.parameters());
  for (const std::size_t off : {std::size_t(0), Pw}) {
    if (off > 0 && !cfg.complex_parameters) break;
    const std::string tail = off > 0 ? "_im" : "";
    out.write(g + "/a" + tail, std::vector<double>(p.begin() + off, p.begin() + off + N));
    out.write(g + "/b" + tail, std::vector<double>(p.begin() + off + N, p.begin() + off + N + M));
    std::vector<double> W(M * N);  // row-major (M, N) for Python
    for (std::size_t j = 0; j < M; ++j)
      for (std::size_t i = 0; i < N; ++i) W[j * N + i] = p[off + N + M + j + M * i];
    out.write(g + "/W" + tail, W, {M, N});
  }

  if (res.observables) Observables(cfg).write(out, *res.observables);

  // Checkpoint: continue with prism --restart FILE DECK.
  const auto& c = res.checkpoint;
  const std::string k = g + "/checkpoint";
  out.group(k);
  out.attribute(k, "next_iteration", c.next_iteration);
  out.write(k + "/parameters", c.parameters);
  out.write(k + "/last_update", c.last_update);
  out.write(k + "/chain_spins", c.chain_spins, {static_cast<std::uint64_t>(cfg.chains), N});
}

Results read_results(const H5Reader& in, const Config& cfg) {
  Results r;
  const std::string& path = in.path();
  const std::string k = "/nqs/checkpoint";
  r.checkpoint.next_iteration = in.int64_attribute(k, "next_iteration");
  r.checkpoint.parameters = in.values<double>(k + "/parameters");
  r.checkpoint.last_update = in.values<double>(k + "/last_update");
  r.checkpoint.chain_spins = in.values<std::int8_t>(k + "/chain_spins");
  if (r.checkpoint.parameters.size() != std::size_t(cfg.real_parameters()))
    throw std::runtime_error(path + ": checkpoint has " + std::to_string(r.checkpoint.parameters.size()) +
                             " parameters, the deck needs " + std::to_string(cfg.real_parameters()) + " (" +
                             parameters_name(cfg) + " parameters)");
  if (r.checkpoint.chain_spins.size() != std::size_t(cfg.chains * cfg.sites()))
    throw std::runtime_error(path + ": checkpoint chains/sites do not match the deck");
  for (const auto spin : r.checkpoint.chain_spins)
    if (spin != 1 && spin != -1) throw std::runtime_error(path + ": checkpoint chain spins are not +-1");
  if (!r.checkpoint.last_update.empty() && r.checkpoint.last_update.size() != r.checkpoint.parameters.size())
    throw std::runtime_error(path + ": checkpoint last_update has the wrong length");
  for (double x : r.checkpoint.parameters)
    if (!std::isfinite(x)) throw std::runtime_error(path + ": checkpoint parameters are not all finite");
  for (double x : r.checkpoint.last_update)
    if (!std::isfinite(x)) throw std::runtime_error(path + ": checkpoint last_update is not all finite");
  // Heisenberg chains live in the S^z = 0 sector: as many up spins as down.
  if (cfg.hamiltonian == Hamiltonian::heisenberg)
    for (std::int64_t c = 0; c < cfg.chains; ++c) {
      int sz = 0;
      for (std::int64_t i = 0; i < cfg.sites(); ++i) sz += r.checkpoint.chain_spins[c * cfg.sites() + i];
      if (sz != 0)
        throw std::runtime_error(path + ": checkpoint chain " + std::to_string(c) +
                                 " is outside the S^z = 0 sector (total S^z = " + std::to_string(sz) + "/2)");
    }
  if (r.checkpoint.next_iteration < 0 || r.checkpoint.next_iteration > cfg.iterations)
    throw std::runtime_error(path + ": checkpoint is at iteration " +
                             std::to_string(r.checkpoint.next_iteration) +
                             ", beyond nqs.iterations = " + std::to_string(cfg.iterations));
  const auto e = in.values<double>("/nqs/energy_mean"), err = in.values<double>("/nqs/energy_err"),
             var = in.values<double>("/nqs/energy_variance"), acc = in.values<double>("/nqs/acceptance"),
             rh = in.values<double>("/nqs/r_hat"), tm = in.values<double>("/nqs/time");
  const auto cg = in.values<std::int64_t>("/nqs/cg_iterations");
  for (const auto* v : {&err, &var, &acc, &rh, &tm})
    if (v->size() != e.size()) throw std::runtime_error(path + ": /nqs history columns differ in length");
  if (cg.size() != e.size() || std::int64_t(e.size()) != r.checkpoint.next_iteration)
    throw std::runtime_error(path + ": history length does not match the checkpoint");
  for (std::size_t i = 0; i < e.size(); ++i)
    if (!std::isfinite(e[i]) || !std::isfinite(err[i]) || !std::isfinite(var[i]) || !std::isfinite(acc[i]) ||
        std::isnan(rh[i]))
      throw std::runtime_error(path + ": /nqs history has a non-finite value at iteration " +
                               std::to_string(i));
  for (std::size_t i = 0; i < e.size(); ++i)
    r.history.push_back(IterationStats{e[i], err[i], var[i], acc[i], rh[i], tm[i], cg[i]});
  r.parameters = r.checkpoint.parameters;
  return r;
}

}  // namespace prism::nqs
