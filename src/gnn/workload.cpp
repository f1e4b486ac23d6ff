#include "gnn/workload.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "core/deck.hpp"
#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "core/progress.hpp"
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "gnn/cell.hpp"
#include "gnn/domain.hpp"
#include "gnn/potential.hpp"
#include "kernels/common/philox.hpp"

namespace prism::gnn {

namespace {
// 1 eV / (Angstrom amu) in Angstrom / fs^2, and Boltzmann's constant in eV/K.
constexpr double kAccel = 9.648533212e-3;
constexpr double kBoltzmann = 8.617333262e-5;

}  // namespace

ClosePair closest_pair(const Structure& s, double limit) {
  ClosePair best{limit, -1, -1};
  const std::int64_t n = s.atoms();
  if (n == 0 || limit <= 0) return best;
  const bool pbc = any_pbc(s);
  // Fractional coordinates (wrapped when periodic) in a frame whose axes
  // are the lattice vectors, or the bounding box with open boundaries.
  double inv[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, origin[3] = {0, 0, 0}, width[3];
  std::array<double, 9> frame{};
  if (pbc) {
    cell_inverse(s.cell, inv, 1e-12);
    frame = s.cell;
    for (int a = 0; a < 3; ++a) width[a] = cell_width(inv, a);
  } else {
    for (int a = 0; a < 3; ++a) {
      double lo = s.pos[a], hi = s.pos[a];
      for (std::int64_t i = 1; i < n; ++i) {
        lo = std::min(lo, s.pos[3 * i + a]);
        hi = std::max(hi, s.pos[3 * i + a]);
      }
      origin[a] = lo;
      width[a] = std::max(hi - lo, 1e-9) * (1 + 1e-12);
      inv[4 * a] = 1.0 / width[a];
      frame[4 * a] = width[a];
    }
  }
  int bins[3], reach[3];
  for (int a = 0; a < 3; ++a) {
    bins[a] = int(std::clamp(std::floor(width[a] / limit), 1.0, std::cbrt(double(n)) + 1));
    reach[a] = int(std::ceil(limit / (width[a] / bins[a]) - 1e-12));
    if (!pbc) reach[a] = std::min(reach[a], bins[a]);
  }
  std::vector<double> frac(3 * n);
  std::vector<std::int64_t> bin_of(n);
  for (std::int64_t i = 0; i < n; ++i) {
    int b[3];
    for (int a = 0; a < 3; ++a) {
      double f = 0;
      for (int k = 0; k < 3; ++k) f += (s.pos[3 * i + k] - origin[k]) * inv[3 * k + a];
      if (pbc) f -= std::floor(f);
      frac[3 * i + a] = f;
      b[a] = std::clamp(int(f * bins[a]), 0, bins[a] - 1);
    }
    bin_of[i] = (std::int64_t(b[0]) * bins[1] + b[1]) * bins[2] + b[2];
  }
  std::vector<std::int64_t> start(std::int64_t(bins[0]) * bins[1] * bins[2] + 1, 0), order(n);
  for (auto b : bin_of) ++start[b + 1];
  for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  {
    auto fill = start;
    for (std::int64_t i = 0; i < n; ++i) order[fill[bin_of[i]]++] = i;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t b = bin_of[i];
    const int bi[3] = {int(b / (std::int64_t(bins[1]) * bins[2])), int(b / bins[2] % bins[1]),
                       int(b % bins[2])};
    for (int o0 = -reach[0]; o0 <= reach[0]; ++o0)
      for (int o1 = -reach[1]; o1 <= reach[1]; ++o1)
        for (int o2 = -reach[2]; o2 <= reach[2]; ++o2) {
          const int o[3] = {o0, o1, o2};
          int nb[3], q[3];
          bool inside = true;
          for (int a = 0; a < 3; ++a) {
            nb[a] = bi[a] + o[a];
            q[a] = 0;
            if (pbc) {
              q[a] = int(std::floor(double(nb[a]) / bins[a]));
              nb[a] -= q[a] * bins[a];
            } else if (nb[a] < 0 || nb[a] >= bins[a]) {
              inside = false;
            }
          }
          if (!inside) continue;
          const std::int64_t nbin = (std::int64_t(nb[0]) * bins[1] + nb[1]) * bins[2] + nb[2];
          for (std::int64_t x = start[nbin]; x < start[nbin + 1]; ++x) {
            const std::int64_t j = order[x];
            if (j == i && q[0] == 0 && q[1] == 0 && q[2] == 0) continue;
            double r2 = 0;
            for (int k = 0; k < 3; ++k) {
              double d = 0;
              for (int a = 0; a < 3; ++a) d += (frac[3 * j + a] + q[a] - frac[3 * i + a]) * frame[3 * a + k];
              r2 += d * d;
            }
            if (r2 < best.distance * best.distance) best = {std::sqrt(r2), std::min(i, j), std::max(i, j)};
          }
        }
  }
  return best;
}

std::int64_t GnnWorkload::units() const {
  if (!cfg_.spatial) return std::int64_t(structures_.size());
  std::int64_t fewest = INT64_MAX;
  for (const auto& s : structures_) fewest = std::min(fewest, s.atoms());
  return fewest;
}

GnnWorkload::GnnWorkload(Config cfg, Model model, std::vector<Structure> structures)
    : cfg_(std::move(cfg)), model_(std::move(model)), structures_(std::move(structures)) {}

void GnnWorkload::run(RunContext& ctx) {
  if (cfg_.single)
    run_as<float>(ctx);
  else
    run_as<double>(ctx);
}

template <class Real>
void GnnWorkload::run_as(RunContext& ctx) {
  const auto& mpi = ctx.mpi;
  // Structures over ranks, or (decompose = "space") every structure on all ranks, each rank a slab.
  const Block mine = cfg_.spatial ? Block{0, std::int64_t(structures_.size())}
                                  : block_partition(units(), mpi.size(), mpi.rank());
  Partition part;
  part.mpi = &mpi;
  std::optional<Potential<Real>> pot;
  {
    auto t = ctx.timers.scope("init");
    pot.emplace(model_, cfg_.team_size);
  }
  const bool md = cfg_.mode == Mode::md;
  const std::int64_t records = md ? cfg_.md_steps / cfg_.md_every + 1 : 0;
  std::vector<double> scalars, forces, atom_energies, series;
  std::int64_t atoms = 0, evaluations = 0;
  auto evaluate = [&](const Structure& s) {
    auto t = ctx.timers.scope("evaluate");
    auto ev = pot->evaluate(s, cfg_.forces, false, cfg_.spatial ? &part : nullptr);
    ctx.timers.add("neighbours", ev.seconds_neighbours);
    ctx.timers.add("forward", ev.seconds_forward);
    if (cfg_.forces) ctx.timers.add("backward", ev.seconds_backward);
    atoms += s.atoms();
    ++evaluations;
    return ev;
  };
  const std::int64_t total = md ? mine.count * cfg_.md_steps : mine.count;
  Progress progress("gnn", total, md ? "steps" : "structures", ctx.show_progress && mpi.root());
  for (std::int64_t k = 0; k < mine.count; ++k) {
    const std::int64_t unit = mine.begin + k;
    Structure s = structures_[unit];
    if (cfg_.spatial) part.owner = slab_owners(s, mpi.size());
    auto ev = evaluate(s);
    if (md) {
      // Velocity Verlet from Maxwell-Boltzmann velocities keyed by (seed, structure, atom).
      const std::int64_t n = s.atoms();
      std::vector<double> mass(n), v(3 * n, 0.0);
      double p[3] = {0, 0, 0}, mtot = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        mass[i] = atomic_mass(s.z[i]);
        const double sd = std::sqrt(kBoltzmann * cfg_.md_temperature / mass[i] * kAccel);
        for (int a = 0; a < 3; ++a) {
          const auto u = rng::philox(ctx.run.seed, std::uint32_t(unit), std::uint32_t(i), std::uint32_t(a),
                                     rng::gnn_velocities);
          v[3 * i + a] = sd * rng::standard_normal(u);
          p[a] += mass[i] * v[3 * i + a];
        }
        mtot += mass[i];
      }
      for (std::int64_t i = 0; i < n; ++i)
        for (int a = 0; a < 3; ++a) v[3 * i + a] -= p[a] / mtot;
      auto record = [&]() {
        double kin = 0;
        for (std::int64_t i = 0; i < n; ++i)
          for (int a = 0; a < 3; ++a) kin += 0.5 * mass[i] * v[3 * i + a] * v[3 * i + a] / kAccel;
        series.push_back(ev.energy);
        series.push_back(kin);
      };
      record();
      const double dt = cfg_.md_dt;
      for (std::int64_t step = 1; step <= cfg_.md_steps; ++step) {
        for (std::int64_t i = 0; i < n; ++i)
          for (int a = 0; a < 3; ++a) {
            v[3 * i + a] += 0.5 * dt * ev.forces[3 * i + a] / mass[i] * kAccel;
            s.pos[3 * i + a] += dt * v[3 * i + a];
          }
        ev = evaluate(s);
        for (std::int64_t i = 0; i < n; ++i)
          for (int a = 0; a < 3; ++a) v[3 * i + a] += 0.5 * dt * ev.forces[3 * i + a] / mass[i] * kAccel;
        if (step % cfg_.md_every == 0) record();
        if (std::isfinite(ev.energy)) progress.update(k * cfg_.md_steps + step);
      }
    }
    scalars.push_back(ev.energy);
    scalars.push_back(double(ev.edges));
    scalars.push_back(ev.closest);
    scalars.insert(scalars.end(), ev.virial.begin(), ev.virial.end());
    if (cfg_.write_forces) {
      forces.insert(forces.end(), ev.forces.begin(), ev.forces.end());
      atom_energies.insert(atom_energies.end(), ev.atom_energies.begin(), ev.atom_energies.end());
    }
    if (!md) progress.update(k + 1);
  }
  progress.finish();
  if (cfg_.spatial && !mpi.root()) {
    // Every rank holds every result: rank 0's copy is the one gathered.
    scalars.clear(), forces.clear(), atom_energies.clear(), series.clear();
    atoms = evaluations = 0;
  }
  std::vector<std::int64_t> counts{atoms, evaluations};
  mpi.allreduce_sum(counts);
  atoms_ = counts[0];
  evaluations_ = counts[1];
  const auto all = mpi.gather(scalars);
  const auto all_forces = mpi.gather(forces);
  const auto all_energies = mpi.gather(atom_energies);
  const auto all_series = mpi.gather(series);
  if (!mpi.root()) return;
  std::size_t atom_at = 0;
  for (std::size_t k = 0; k < structures_.size(); ++k) {
    StructureResult r;
    const double* x = all.data() + 12 * k;
    r.energy = x[0];
    r.edges = std::int64_t(x[1]);
    r.closest = x[2];
    std::copy(x + 3, x + 12, r.virial.begin());
    const std::size_t n = structures_[k].z.size();
    if (cfg_.write_forces && cfg_.forces)
      r.forces.assign(all_forces.begin() + 3 * atom_at, all_forces.begin() + 3 * (atom_at + n));
    if (cfg_.write_forces)
      r.atom_energies.assign(all_energies.begin() + atom_at, all_energies.begin() + atom_at + n);
    atom_at += n;
    for (std::int64_t t = 0; t < records; ++t) {
      r.md_potential.push_back(all_series[2 * (k * records + t)]);
      r.md_kinetic.push_back(all_series[2 * (k * records + t) + 1]);
    }
    if (!std::isfinite(r.energy) && error_.empty())
      error_ = "a non-finite energy for structure '" + structures_[k].name + "'";
    results_.push_back(std::move(r));
  }
}

void GnnWorkload::write(H5Writer& out) const {
  const std::string g = "/gnn";
  out.group(g);
  out.attribute(g, "model", model_.path);
  out.attribute(g, "structures_file", cfg_.structures);
  out.attribute(g, "precision", cfg_.single ? "float" : "double");
  out.attribute(g, "mode", cfg_.mode == Mode::md ? "md" : "single_point");
  out.attribute(g, "decompose", cfg_.spatial ? "space" : "structures");
  out.attribute(g, "r_cut", model_.r_cut);
  out.attribute(g, "hidden", irreps_string(model_.hidden));
  out.attribute(g, "lmax", std::int64_t(model_.lmax));
  out.attribute(g, "layers", std::int64_t(model_.layers.size()));
  out.attribute(g, "units", "energy eV, length Angstrom, force eV/Angstrom, virial eV, time fs");
  std::string names;
  for (const auto& s : structures_) names += s.name + "\n";
  out.attribute(g, "structure_names", names);
  const std::uint64_t S = structures_.size();
  std::vector<double> energy, closest, virial;
  std::vector<std::int64_t> atoms, edges, offsets{0}, species;
  std::vector<double> positions, forces, atom_energies;
  for (std::size_t k = 0; k < results_.size(); ++k) {
    const auto& r = results_[k];
    const auto& s = structures_[k];
    energy.push_back(r.energy);
    closest.push_back(r.closest);
    virial.insert(virial.end(), r.virial.begin(), r.virial.end());
    atoms.push_back(s.atoms());
    edges.push_back(r.edges);
    offsets.push_back(offsets.back() + s.atoms());
    if (cfg_.write_forces) {
      species.insert(species.end(), s.z.begin(), s.z.end());
      positions.insert(positions.end(), s.pos.begin(), s.pos.end());
      forces.insert(forces.end(), r.forces.begin(), r.forces.end());
      atom_energies.insert(atom_energies.end(), r.atom_energies.begin(), r.atom_energies.end());
    }
  }
  if (results_.size() != S) return;  // nothing computed yet
  out.write(g + "/energy", energy);
  out.write(g + "/atoms", atoms);
  out.write(g + "/edges", edges);
  out.write(g + "/closest", closest);
  out.write(g + "/atom_offset", offsets);
  if (cfg_.forces) out.write(g + "/virial", virial, {S, 3, 3});
  if (cfg_.write_forces) {
    const std::uint64_t N = species.size();
    out.write(g + "/species", species);
    out.write(g + "/positions", positions, {N, 3});
    out.write(g + "/atom_energies", atom_energies);
    if (cfg_.forces) out.write(g + "/forces", forces, {N, 3});
  }
  // Reference values given with the structures (NaN where a structure has none), for parity plots.
  const bool any_ref_e = std::any_of(structures_.begin(), structures_.end(),
                                     [](const Structure& s) { return std::isfinite(s.ref_energy); });
  const bool any_ref_f = std::any_of(structures_.begin(), structures_.end(),
                                     [](const Structure& s) { return !s.ref_forces.empty(); });
  if (any_ref_e) {
    std::vector<double> ref;
    for (const auto& s : structures_) ref.push_back(s.ref_energy);
    out.write(g + "/reference_energy", ref);
  }
  if (any_ref_f && cfg_.write_forces && cfg_.forces) {
    std::vector<double> ref;
    for (const auto& s : structures_)
      if (s.ref_forces.empty())
        ref.insert(ref.end(), 3 * s.z.size(), NAN);
      else
        ref.insert(ref.end(), s.ref_forces.begin(), s.ref_forces.end());
    out.write(g + "/reference_forces", ref, {std::uint64_t(ref.size() / 3), 3});
  }
  if (cfg_.mode == Mode::md) {
    const std::uint64_t R = results_.empty() ? 0 : results_[0].md_potential.size();
    std::vector<double> pot, kin, time;
    for (const auto& r : results_) {
      pot.insert(pot.end(), r.md_potential.begin(), r.md_potential.end());
      kin.insert(kin.end(), r.md_kinetic.begin(), r.md_kinetic.end());
    }
    for (std::uint64_t t = 0; t < R; ++t) time.push_back(double(t * cfg_.md_every) * cfg_.md_dt);
    out.group(g + "/md");
    out.attribute(g + "/md", "dt", cfg_.md_dt);
    out.attribute(g + "/md", "steps", cfg_.md_steps);
    out.attribute(g + "/md", "temperature", cfg_.md_temperature);
    out.write(g + "/md/time", time);
    out.write(g + "/md/potential", pot, {S, R});
    out.write(g + "/md/kinetic", kin, {S, R});
  }
}

Throughput GnnWorkload::throughput() const {
  Throughput tp{"atom_evaluations", double(atoms_), "evaluate", "atoms_per_s", 1.0, {}};
  std::int64_t edges = 0;
  for (const auto& r : results_) edges += r.edges;
  tp.fields = {{"structures", std::to_string(structures_.size())},
               {"evaluations", std::to_string(evaluations_)},
               {"edges", std::to_string(edges)},
               {"precision", cfg_.single ? "float" : "double"},
               {"forces", cfg_.forces ? "yes" : "no"}};
  return tp;
}

void GnnWorkload::print_summary(std::FILE* out) const {
  std::fprintf(out, "\ngnn: %zu structure(s), model %s (%s, %zu layers, r_cut %.3g)\n", structures_.size(),
               model_.path.c_str(), irreps_string(model_.hidden).c_str(), model_.layers.size(), model_.r_cut);
  std::fprintf(out, "%-20s %9s %11s %20s %14s %12s\n", "structure", "atoms", "edges", "energy (eV)",
               "eV/atom", "max |F|");
  for (std::size_t k = 0; k < results_.size() && k < 30; ++k) {
    const auto& r = results_[k];
    double fmax = 0;
    for (std::size_t i = 0; i + 2 < r.forces.size(); i += 3)
      fmax = std::max(fmax, std::sqrt(r.forces[i] * r.forces[i] + r.forces[i + 1] * r.forces[i + 1] +
                                      r.forces[i + 2] * r.forces[i + 2]));
    std::fprintf(out, "%-20s %9lld %11lld %20.10f %14.8f %12.6g\n", structures_[k].name.c_str(),
                 static_cast<long long>(structures_[k].atoms()), static_cast<long long>(r.edges), r.energy,
                 r.energy / double(structures_[k].atoms()), fmax);
    if (!r.md_potential.empty()) {
      const double e0 = r.md_potential.front() + r.md_kinetic.front();
      double worst = 0;
      for (std::size_t t = 0; t < r.md_potential.size(); ++t)
        worst = std::max(worst, std::abs(r.md_potential[t] + r.md_kinetic[t] - e0));
      std::fprintf(out,
                   "%-20s NVE over %lld steps: largest |E_total - E_total(0)| = %.3g eV (%.3g eV/atom)\n", "",
                   static_cast<long long>(cfg_.md_steps), worst, worst / double(structures_[k].atoms()));
    }
  }
}

RunStatus GnnWorkload::status() const {
  RunStatus s;
  s.error = error_;
  return s;
}

std::unique_ptr<Workload> make_workload(Deck& deck) {
  auto cfg = parse_config(deck);
  Model model;
  try {
    model = read_model(cfg.model);
  } catch (const std::exception& e) {
    deck.fail("gnn", "model", e.what());
  }
  std::vector<Structure> structures;
  try {
    structures = read_structures(cfg.structures);
  } catch (const std::exception& e) {
    deck.fail("gnn", "structures", e.what());
  }
  if (structures.empty()) deck.fail("gnn", "structures", cfg.structures + " holds no structure");
  const bool replicated = cfg.replicate != std::array<int, 3>{1, 1, 1};
  for (auto& s : structures) {
    const std::string where = cfg.structures + ": structure '" + s.name + "'";
    if (s.atoms() == 0) deck.fail("gnn", "structures", where + " has no atoms");
    const bool pbc = any_pbc(s);
    if (pbc && !(s.pbc[0] && s.pbc[1] && s.pbc[2]))
      deck.fail("gnn", "structures",
                where + " is periodic along some lattice vectors only; prism's gnn takes all three or none");
    double inv[9];
    if (pbc && !cell_inverse(s.cell, inv, 1e-12))
      deck.fail("gnn", "structures", where + " has a periodic cell of zero volume");
    for (std::int64_t i = 0; i < s.atoms(); ++i)
      if (model.species_index(s.z[i]) < 0) {
        std::string known;
        for (int z : model.species) known += std::string(known.empty() ? "" : ", ") + element_symbol(z);
        deck.fail("gnn", "structures",
                  where + ": atom " + std::to_string(i) + " is " + element_symbol(s.z[i]) +
                      ", a species the model " + cfg.model + " does not have (it has " + known + ")");
      }
    if (replicated) {
      if (!pbc) deck.fail("gnn", "replicate", where + " is not periodic and cannot be replicated");
      s = replicate(s, cfg.replicate);
    }
    const auto close = closest_pair(s, cfg.min_distance);
    if (close.i >= 0)
      deck.fail("gnn", "structures",
                where + ": atoms " + std::to_string(close.i) + " and " + std::to_string(close.j) + " are " +
                    std::to_string(close.distance) +
                    " Angstrom apart, closer than gnn.min_distance = " + std::to_string(cfg.min_distance));
  }
  return std::make_unique<GnnWorkload>(std::move(cfg), std::move(model), std::move(structures));
}

}  // namespace prism::gnn
