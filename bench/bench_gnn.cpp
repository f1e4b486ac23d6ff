// Cost of the gnn potential on the default execution space: for every
// structure of a file, the neighbour search, the forward pass (energy) and
// the forward and backward passes (energy, forces, virial), each the median
// of --reps evaluations after one warm-up.  One CSV row per structure and
// precision to --csv.  tools/gnn_e3nn.py bench writes the model and the
// structures and times e3nn on them.
//
//   bench_gnn --model bench_model.h5 --structures bench_structures.h5 [--reps 5] [--team N] [--csv F]
//
// --team sets the threads per atom (the deck's gnn.team_size; 0, the
// default, lets the potential choose).
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "core/mpi_context.hpp"
#include "gnn/potential.hpp"
#include "kernels/common/kokkos_compat.hpp"

using namespace prism;
using namespace prism::gnn;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Real>
void bench(const Model& model, const std::vector<Structure>& structures, int reps, int team,
           const char* precision, std::ofstream& csv) {
  Potential<Real> pot(model, team);
  for (const auto& s : structures) {
    pot.evaluate(s, true);  // warm-up
    std::vector<double> nb, fw, fw2, bw;
    std::int64_t edges = 0;
    for (int r = 0; r < reps; ++r) {
      const auto e = pot.evaluate(s, false);
      fw.push_back(e.seconds_forward);
      const auto f = pot.evaluate(s, true);
      nb.push_back(f.seconds_neighbours);
      fw2.push_back(f.seconds_forward);
      bw.push_back(f.seconds_backward);
      edges = f.edges;
    }
    std::vector<double> both(reps);
    for (int r = 0; r < reps; ++r) both[r] = fw2[r] + bw[r];
    const double t_nb = median(nb), t_fw = median(fw), t_all = median(both);
    csv << compat::backend_name() << "," << precision << "," << s.name << "," << s.atoms() << "," << edges
        << "," << t_nb << "," << t_fw << "," << t_all << "," << double(edges) / t_fw << ","
        << double(edges) / t_all << "\n";
    std::printf(
        "%-8s %-6s %-12s %9lld atoms %11lld edges: neighbours %8.2f ms, energy %8.2f ms (%.1f M edges/s), "
        "energy+forces %8.2f ms (%.1f M edges/s)\n",
        compat::backend_name().c_str(), precision, s.name.c_str(), static_cast<long long>(s.atoms()),
        static_cast<long long>(edges), t_nb * 1e3, t_fw * 1e3, edges / t_fw / 1e6, t_all * 1e3,
        edges / t_all / 1e6);
    std::fflush(stdout);
  }
}
}  // namespace

int main(int argc, char** argv) {
  MpiContext mpi(&argc, &argv);
  std::string model_path, structures_path, csv_path = "bench_gnn.csv", precision = "both";
  int reps = 5, team = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model")
      model_path = argv[i + 1];
    else if (a == "--structures")
      structures_path = argv[i + 1];
    else if (a == "--reps")
      reps = std::max(1, std::stoi(argv[i + 1]));
    else if (a == "--team")
      team = std::max(0, std::stoi(argv[i + 1]));
    else if (a == "--csv")
      csv_path = argv[i + 1];
    else if (a == "--precision")
      precision = argv[i + 1];
    else {
      std::fprintf(
          stderr,
          "usage: bench_gnn --model F --structures F [--reps 5] [--precision float|double|both] [--team N] "
          "[--csv F]\n");
      return 2;
    }
  }
  if (model_path.empty() || structures_path.empty()) {
    std::fprintf(stderr, "bench_gnn: --model and --structures are required\n");
    return 2;
  }
  Model model;
  std::vector<Structure> structures;
  try {
    model = read_model(model_path);
    structures = read_structures(structures_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gnn: %s\n", e.what());
    return 2;
  }
  Kokkos::initialize(argc, argv);
  {
    std::ofstream csv(csv_path);
    csv << "# bench_gnn on " << compat::device_description() << "; model " << model_path << " ("
        << irreps_string(model.hidden) << ", " << model.layers.size() << " layers, lmax " << model.lmax
        << "); team " << team << " (0: automatic); median of " << reps << "; seconds\n";
    csv << "backend,precision,structure,atoms,edges,neighbours_s,energy_s,energy_forces_s,energy_edges_per_s,"
           "forces_edges_per_s\n";
    if (precision != "double") bench<float>(model, structures, reps, team, "float", csv);
    if (precision != "float") bench<double>(model, structures, reps, team, "double", csv);
  }
  Kokkos::finalize();
  return 0;
}
