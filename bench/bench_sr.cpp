// Cost of one product of the SR matrix, S v = Obar^T (Obar v) / Ns, as nqs
// computes it (rank-independent: row_products, then max |y| and the
// fixed-point projection rounded once per block of rows, then the sums to
// the host), against a plain BLAS pair on the same views:
// KokkosBlas::gemv("N") then gemv("T"), whose sums depend on the split.
// Also the projection rounded once per element (block 1), as nqs did before,
// and the blocked product on a float copy of the matrix (sr_precision =
// "float": half the bytes, the same double sums).
// One CSV row per run to --csv.
//
//   bench_sr [--rows 4096] [--cols 1224] [--block 8] [--repeat 20] [--csv FILE]
#include <KokkosBlas2_gemv.hpp>
#include <Kokkos_Core.hpp>
#include <Kokkos_Random.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include "kernels/common/kokkos_compat.hpp"
#include "kernels/common/reductions.hpp"

namespace {

using Exec = Kokkos::DefaultExecutionSpace;
using Matrix = Kokkos::View<double**, Kokkos::LayoutLeft>;
using Vector = Kokkos::View<double*>;

// Seconds per call of f, averaged over `repeat` calls after two warm-ups.
template <class F>
double seconds_per_call(int repeat, F&& f) {
  f();
  f();
  Kokkos::fence();
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; ++r) f();
  Kokkos::fence();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeat;
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 4096, cols = 1224, block = 8, repeat = 20;
  std::string csv = "bench_sr.csv";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rows")
      rows = std::stoi(argv[i + 1]);
    else if (a == "--cols")
      cols = std::stoi(argv[i + 1]);
    else if (a == "--block")
      block = std::stoi(argv[i + 1]);
    else if (a == "--repeat")
      repeat = std::stoi(argv[i + 1]);
    else if (a == "--csv")
      csv = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: bench_sr [--rows 4096] [--cols 1224] [--block 8] [--repeat 20] [--csv F]\n");
      return 2;
    }
  }
  if (rows % block != 0) {
    std::fprintf(stderr, "bench_sr: --rows must be a multiple of --block\n");
    return 2;
  }
  Kokkos::initialize(argc, argv);
  {
    Exec space;
    // Centred log-derivatives lie in [-2, 2]; any values of that size do.
    Matrix O("bench::O", rows, cols);
    Vector v("bench::v", cols), y("bench::y", rows), z("bench::z", cols);
    Matrix partial("bench::partial", rows, prism::common::row_block_count(cols));
    Kokkos::View<std::int64_t*> fixed("bench::fixed", cols);
    auto fixed_host = Kokkos::create_mirror_view(prism::compat::PinnedSpace(), fixed);
    Kokkos::Random_XorShift64_Pool<Exec> pool(7);
    Kokkos::fill_random(O, pool, -2.0, 2.0);
    Kokkos::fill_random(v, pool, -1.0, 1.0);
    Kokkos::View<float**, Kokkos::LayoutLeft> Of("bench::O_float", rows, cols);
    Kokkos::deep_copy(Of, O);  // rounds each entry

    auto prism_product = [&](const auto& A, int blk) {
      return [&, A, blk] {
        prism::common::row_products(space, A, v, y, partial);
        const double ymax = prism::common::max_abs(space, y);
        const double bound = 2.0 * ymax * rows;
        const double scale = std::ldexp(1.0, std::min(62 - std::ilogb(bound) - 1, 1000));
        prism::common::fixed_point_projection(space, A, y, scale, fixed, blk);
        Kokkos::deep_copy(space, fixed_host, fixed);
        space.fence();
      };
    };
    const double blocked = seconds_per_call(repeat, prism_product(O, block));
    const double blocked_float = seconds_per_call(repeat, prism_product(Of, block));
    const double per_element = seconds_per_call(repeat, prism_product(O, 1));
    const double rows_only =
        seconds_per_call(repeat, [&] { prism::common::row_products(space, O, v, y, partial); });
    const double blas = seconds_per_call(repeat, [&] {
      KokkosBlas::gemv("N", 1.0, O, v, 0.0, y);
      KokkosBlas::gemv("T", 1.0, O, y, 0.0, z);
      space.fence();
    });
    const std::string device = prism::compat::device_description();
    std::printf(
        "SR product, %d x %d (%.1f MB), %s:\n"
        "  prism, fixed point per block of %d rows  %8.3f ms\n"
        "    of which Obar v (row products)        %8.3f ms\n"
        "  prism, the same on a float copy         %8.3f ms\n"
        "  prism, fixed point per element          %8.3f ms\n"
        "  KokkosBlas gemv N + gemv T              %8.3f ms\n"
        "  ratio prism (block) / BLAS pair         %8.2f\n",
        rows, cols, rows * double(cols) * 8e-6, device.c_str(), block, blocked * 1e3, rows_only * 1e3,
        blocked_float * 1e3, per_element * 1e3, blas * 1e3, blocked / blas);
    const std::string header =
        "date,backend,device,rows,cols,block,blocked_ms,row_products_ms,per_element_ms,blas_pair_ms,blocked_"
        "float_ms";
    std::ifstream probe(csv);
    std::string first;
    std::getline(probe, first);
    std::ofstream out(csv, std::ios::app);
    if (first != header) out << header << "\n";  // a new file, or one written before the float column
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    out << date << "," << prism::compat::backend_name() << ",\"" << device << "\"," << rows << "," << cols
        << "," << block << "," << blocked * 1e3 << "," << rows_only * 1e3 << "," << per_element * 1e3 << ","
        << blas * 1e3 << "," << blocked_float * 1e3 << "\n";
  }
  Kokkos::finalize();
  return 0;
}
