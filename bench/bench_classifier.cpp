// Cost of the classifier on the default execution space: inference of N
// observations (the 100-64-32-16-5 network, softmax, free energy, exact
// posterior; float and double; the tensor-core kernel where the build has
// CUDA, the fused tile kernel and the general one;
// left on the device (best of three), and copied to the host) and one
// training epoch of N samples (AdamW, minibatch gradients summed in fixed
// point), double precision.  With --reference FILE it also writes 256 observations, the
// weights and prism's q for them, which bench/classifier_torch.py compares
// against PyTorch.  One CSV row per measurement to --csv.
//
//   bench_classifier [--n 1000000] [--batch 1024] [--precision double|float] [--csv FILE] [--reference FILE]
// (--precision: of the inference written by --reference; training is double.)
#include <Kokkos_Core.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include "classifier/engine.hpp"
#include "classifier/workload.hpp"
#include "core/h5_writer.hpp"
#include "core/mpi_context.hpp"
#include "core/run_config.hpp"
#include "core/timers.hpp"
#include "kernels/common/kokkos_compat.hpp"

using namespace prism;
using namespace prism::classifier;

int main(int argc, char** argv) {
  MpiContext mpi(&argc, &argv);
  std::int64_t n = 1'000'000, batch = 1024;
  std::string csv = "bench_classifier.csv", reference, precision = "double";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--n")
      n = std::stoll(argv[i + 1]);
    else if (a == "--batch")
      batch = std::stoll(argv[i + 1]);
    else if (a == "--csv")
      csv = argv[i + 1];
    else if (a == "--precision")
      precision = argv[i + 1];
    else if (a == "--reference")
      reference = argv[i + 1];
    else {
      std::fprintf(
          stderr,
          "usage: bench_classifier [--n 1000000] [--batch 1024] [--precision double|float] [--csv F] "
          "[--reference F]\n");
      return 2;
    }
  }
  Kokkos::initialize(argc, argv);
  {
    Config cfg;
    cfg.batch = batch;
    cfg.float_inference = precision == "float";
    cfg.epochs = 1;
    const auto model = generate_model(cfg);
    const auto data = generate(cfg, model, 2, n);
    const Shape shape(cfg.widths);
    const auto weights = initial_weights(shape, 1);
    const std::string device = compat::device_description();
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    std::ifstream probe(csv);
    const bool fresh = !probe.good();
    std::ofstream out(csv, std::ios::app);
    if (fresh) out << "date,backend,device,ranks,what,samples,batch,seconds,samples_per_s\n";
    auto row = [&](const char* what, double s) {
      if (!mpi.root()) return;
      std::printf("%-28s %10lld samples  %9.4f s  %12.4g samples/s  (%s, %d rank(s))\n", what,
                  static_cast<long long>(n), s, double(n) / s, device.c_str(), mpi.size());
      std::fflush(stdout);
      out << date << "," << compat::backend_name() << ",\"" << device << "\"," << mpi.size() << "," << what
          << "," << n << "," << batch << "," << s << "," << double(n) / s << "\n";
    };
    // Inference in both precisions: the tensor-core kernel (float, CUDA), the
    // fused tile kernel (one and two observations per thread) and the general one.
    Inference r;
    enum Kernel { tensor, tensor_x2, tile, tile_x2, general };
    const char* variant[] = {" tensor", " tensor x2", " tile", " tile x2", " general"};
    for (const bool single : {true, false}) {
      bool timed_to_host = false;  // the first kernel that runs is the one prism uses by default
      for (const Kernel kernel : {tensor, tensor_x2, tile, tile_x2, general}) {
        if ((kernel == tensor || kernel == tensor_x2 || kernel == tile_x2) && !single) continue;
        Config c = cfg;
        c.float_inference = single;
        Engine e(c, model, shape);
        e.set_parameters(weights);
        e.load(data);
        e.use_generic_kernel(kernel == general);
        e.use_tensor_cores(kernel == tensor || kernel == tensor_x2);
        e.use_tile_observations(kernel == tile_x2 || kernel == tensor_x2 ? 2 : 1);
        if ((kernel == tensor || kernel == tensor_x2) && !e.tensor_kernel())
          continue;  // no tensor cores here
        if (kernel != general && !e.tile_kernel()) continue;
        const std::string what = std::string("inference ") + (single ? "float" : "double") + variant[kernel];
        e.infer(0, std::min<std::int64_t>(n, 4096));  // warm-up
        Kokkos::fence();
        double best = 1e300;
        for (int rep = 0; rep < 3; ++rep) {
          const auto t0 = std::chrono::steady_clock::now();
          e.infer_on_device(0, n);
          best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        row((what + ", on device").c_str(), best);
        // The results to the host, and into --reference, from the kernel prism runs by default.
        if (timed_to_host || kernel == general || kernel == tensor_x2) continue;
        timed_to_host = true;
        const auto t0 = std::chrono::steady_clock::now();
        auto res = e.infer(0, n);
        row((what + ", to host").c_str(),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (single == cfg.float_inference) r = std::move(res);
      }
    }
    if (!reference.empty() && mpi.root()) {
      const std::int64_t m = std::min<std::int64_t>(n, 256), D = cfg.features(), C = cfg.classes();
      H5Writer h5(reference);
      h5.group("/classifier/weights");
      for (std::size_t l = 0; l < shape.w_at.size(); ++l) {
        const auto in = std::uint64_t(shape.widths[l]), o = std::uint64_t(shape.widths[l + 1]);
        h5.write("/classifier/weights/W" + std::to_string(l),
                 std::vector<double>(weights.begin() + shape.w_at[l], weights.begin() + shape.b_at[l]),
                 {o, in});
        h5.write("/classifier/weights/b" + std::to_string(l),
                 std::vector<double>(weights.begin() + shape.b_at[l], weights.begin() + shape.b_at[l] + o));
      }
      h5.write("/classifier/widths", cfg.widths);
      h5.write("/features", std::vector<double>(data.x.begin(), data.x.begin() + m * D),
               {std::uint64_t(m), std::uint64_t(D)});
      h5.write("/prism_q", std::vector<double>(r.q.begin(), r.q.begin() + m * C),
               {std::uint64_t(m), std::uint64_t(C)});
      h5.commit(true);
    }
    {
      Config c = cfg;
      c.mode = Mode::train;
      c.validation_samples = 1000;
      ClassifierWorkload w(c, model, data, generate(c, model, 1, c.validation_samples), Dataset{}, Dataset{},
                           weights);
      RunConfig run;
      Timers timers;
      RunContext ctx{mpi, run, timers, false, [] { return false; }, [] {}};
      const auto t0 = std::chrono::steady_clock::now();
      w.run(ctx);
      Kokkos::fence();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      row("training epoch (double)", s);
    }
  }
  Kokkos::finalize();
  return 0;
}
