#pragma once
// The one place where Kokkos 3.4 and 4.x differ for prism.
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#ifdef KOKKOS_ENABLE_CUDA
#include <cuda_runtime.h>
#endif

namespace prism::compat {

// Number of GPUs this process can see (0 for host-only backends).
inline int visible_device_count() {
#ifdef KOKKOS_ENABLE_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
#else
  return 0;
#endif
}

// Shared memory of one multiprocessor of the current GPU in bytes (0 for
// host-only backends or when it cannot be read).
inline std::size_t shared_bytes_per_multiprocessor() {
#ifdef KOKKOS_ENABLE_CUDA
  int device = 0, bytes = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device) != cudaSuccess)
    return 0;
  return std::size_t(bytes);
#else
  return 0;
#endif
}

// Kokkos::initialize with an explicit device id (ignored on host backends).
inline void initialize(int& argc, char* argv[], int device_id) {
#if KOKKOS_VERSION >= 40000
  (void)argc;
  (void)argv;
  Kokkos::initialize(Kokkos::InitializationSettings().set_device_id(device_id));
#else
  (void)argc;
  (void)argv;
  Kokkos::InitArguments args;
  args.device_id = device_id;
  Kokkos::initialize(args);
#endif
}

// Host memory that a GPU copies into asynchronously (page-locked on CUDA).
// create_mirror_view(PinnedSpace(), v) of a host view is the view itself.
#ifdef KOKKOS_ENABLE_CUDA
using PinnedSpace = Kokkos::CudaHostPinnedSpace;
#else
using PinnedSpace = Kokkos::HostSpace;
#endif

// A host mirror of v whose contents are not zero-filled first (v itself
// where v is host memory): for buffers that a deep_copy overwrites.  Kokkos
// 3.4 has no create_mirror_view(WithoutInitializing, v).
template <class V>
typename V::HostMirror uninitialized_mirror(const V& v) {
  if constexpr (std::is_same_v<typename V::memory_space, typename V::HostMirror::memory_space>)
    return v;
  else
    return typename V::HostMirror(Kokkos::view_alloc(Kokkos::WithoutInitializing, v.label()), v.layout());
}

// Copies the host values v (row-major, converted to the view's value type)
// into the view d, which must have exactly as many elements.
template <class V, class Vec>
void copy_from_host(const V& d, const Vec& v) {
  static_assert(V::rank <= 1 || std::is_same_v<typename V::array_layout, Kokkos::LayoutRight>,
                "host data is row-major");
  if (std::size_t(d.size()) != std::size_t(v.size()))
    throw std::logic_error("copy_from_host: " + d.label() + " has " + std::to_string(d.size()) +
                           " elements, the host data " + std::to_string(v.size()));
  auto h = uninitialized_mirror(d);
  std::copy(v.begin(), v.end(), h.data());
  Kokkos::deep_copy(d, h);
}

// Whether the default execution space runs on the host (OpenMP, Serial):
// team kernels then use one-thread teams.
inline constexpr bool kHostBackend =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, Kokkos::DefaultExecutionSpace::memory_space>::accessible;

inline std::string backend_name() {
  return Kokkos::DefaultExecutionSpace::name();
}

}  // namespace prism::compat

namespace prism {
// Threads that run in lockstep and exchange registers by shuffles: a warp
// on CUDA, 1 on host backends.  A compile-time constant, so lane loops and
// shuffles unroll.
template <class Exec>
inline constexpr int warp_lanes =
#ifdef KOKKOS_ENABLE_CUDA
    std::is_same_v<Exec, Kokkos::Cuda> ? 32 :
#endif
                                       1;
// The sum of x over the warp_lanes<DefaultExecutionSpace> lanes of a warp, the
// same bits in every lane (a butterfly: partners add the same two values).
KOKKOS_FORCEINLINE_FUNCTION double warp_sum(double x) {
#if defined(__CUDA_ARCH__)
  for (int o = 16; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
#endif
  return x;
}
// The sum of x over each aligned group of `width` lanes (a power of two, at
// most a warp; 1: x itself), the same bits in every lane of a group.
KOKKOS_FORCEINLINE_FUNCTION double warp_group_sum(double x, int width) {
#if defined(__CUDA_ARCH__)
  for (int o = width / 2; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
#else
  (void)width;
#endif
  return x;
}
// The maximum of x over each aligned group of `width` lanes (exact in any order).
KOKKOS_FORCEINLINE_FUNCTION double warp_group_max(double x, int width) {
#if defined(__CUDA_ARCH__)
  for (int o = width / 2; o > 0; o /= 2) x = fmax(x, __shfl_xor_sync(0xffffffffu, x, o));
#else
  (void)width;
#endif
  return x;
}
// The maximum of x over the lanes of a warp (exact in any order).
KOKKOS_FORCEINLINE_FUNCTION double warp_max(double x) {
#if defined(__CUDA_ARCH__)
  for (int o = 16; o > 0; o /= 2) x = fmax(x, __shfl_xor_sync(0xffffffffu, x, o));
#endif
  return x;
}
// The largest x over each aligned group of `width` lanes and its index k, the
// lowest k among equal maxima (a serial scan's first maximum), in every lane.
KOKKOS_FORCEINLINE_FUNCTION void warp_group_argmax(double& x, std::int64_t& k, int width) {
#if defined(__CUDA_ARCH__)
  for (int o = width / 2; o > 0; o /= 2) {
    const double other_x = __shfl_xor_sync(0xffffffffu, x, o);
    const auto other_k = std::int64_t(__shfl_xor_sync(0xffffffffu, static_cast<long long>(k), o));
    if (other_x > x || (other_x == x && other_k < k)) {
      x = other_x;
      k = other_k;
    }
  }
#else
  (void)x;
  (void)k;
  (void)width;
#endif
}
// Orders the memory accesses of a warp's lanes (nothing on host backends).
KOKKOS_FORCEINLINE_FUNCTION void warp_sync() {
#if defined(__CUDA_ARCH__)
  __syncwarp();
#endif
}
KOKKOS_FORCEINLINE_FUNCTION int popcount64(std::uint64_t x) {
#if defined(__CUDA_ARCH__)
  return __popcll(x);
#else
  return __builtin_popcountll(x);
#endif
}
// Index of the lowest set bit of x != 0.
KOKKOS_FORCEINLINE_FUNCTION int lowest_set_bit(std::uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __ffs(static_cast<int>(x)) - 1;
#else
  return __builtin_ctz(x);
#endif
}
// The bytes of (y:x) selected by the low four nibbles of s (each 0..7; the
// nibbles' bit 3, the sign-replicating mode, is not used): CUDA's PRMT, one
// instruction on the device.
KOKKOS_FORCEINLINE_FUNCTION std::uint32_t byte_perm(std::uint32_t x, std::uint32_t y, std::uint32_t s) {
#if defined(__CUDA_ARCH__)
  return __byte_perm(x, y, s);
#else
  const std::uint64_t both = (std::uint64_t(y) << 32) | x;
  std::uint32_t out = 0;
  for (int j = 0; j < 4; ++j) out |= std::uint32_t((both >> (8 * ((s >> (4 * j)) & 7u))) & 0xFFu) << (8 * j);
  return out;
#endif
}
// n / d for a divisor fixed on the host and any 32-bit n, with a multiply-high,
// an add and two shifts instead of a division loop (the round-up method of
// Granlund and Montgomery, as in Hacker's Delight, 10-9).
struct FastDivisor {
  std::uint32_t d = 1, magic = 1;
  int shift1 = 0, shift2 = 0;
  FastDivisor() = default;
  explicit FastDivisor(std::uint32_t divisor) : d(divisor) {
    if (divisor == 0) throw std::invalid_argument("FastDivisor: division by zero");
    int l = 0;
    while ((std::uint64_t(1) << l) < divisor) ++l;
    magic = static_cast<std::uint32_t>(
        (std::uint64_t(1) << 32) * ((std::uint64_t(1) << l) - divisor) / divisor + 1);
    shift1 = l < 1 ? l : 1;
    shift2 = l > 1 ? l - 1 : 0;
  }
  KOKKOS_FORCEINLINE_FUNCTION std::uint32_t quotient(std::uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const std::uint32_t t = __umulhi(magic, n);
#else
    const auto t = static_cast<std::uint32_t>((std::uint64_t(magic) * n) >> 32);
#endif
    return (t + ((n - t) >> shift1)) >> shift2;
  }
};
}  // namespace prism

namespace prism::compat {
// "NVIDIA H100 80GB HBM3 (device 0 of 4)" or "host, 16 OpenMP threads".
inline std::string device_description() {
#ifdef KOKKOS_ENABLE_CUDA
  int dev = 0, n = 0;
  cudaGetDevice(&dev);
  cudaGetDeviceCount(&n);
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, dev) != cudaSuccess) return "CUDA device ?";
  return std::string(prop.name) + " (device " + std::to_string(dev) + " of " + std::to_string(n) + ")";
#else
  return "host, " + std::to_string(Kokkos::DefaultExecutionSpace().concurrency()) + " threads";
#endif
}
}  // namespace prism::compat

// Device math: Kokkos::Experimental in 3.4, Kokkos:: in 4.x.
namespace prism::kmath {
#if KOKKOS_VERSION >= 40000
using Kokkos::atan2;
using Kokkos::cos;
using Kokkos::cosh;
using Kokkos::exp;
using Kokkos::fabs;
using Kokkos::fmax;
using Kokkos::log;
using Kokkos::log1p;
using Kokkos::pow;
using Kokkos::sin;
using Kokkos::sinh;
using Kokkos::sqrt;
using Kokkos::tanh;
#else
using Kokkos::Experimental::atan2;
using Kokkos::Experimental::cos;
using Kokkos::Experimental::cosh;
using Kokkos::Experimental::exp;
using Kokkos::Experimental::fabs;
using Kokkos::Experimental::fmax;
using Kokkos::Experimental::log;
using Kokkos::Experimental::log1p;
using Kokkos::Experimental::pow;
using Kokkos::Experimental::sin;
using Kokkos::Experimental::sinh;
using Kokkos::Experimental::sqrt;
using Kokkos::Experimental::tanh;
#endif

// sin x and cos x together: one argument reduction on CUDA devices (where
// the two calls would each reduce it); the two calls elsewhere.
KOKKOS_INLINE_FUNCTION void sincos(double x, double* s, double* c) {
#if defined(__CUDA_ARCH__)
  ::sincos(x, s, c);
#else
  *s = sin(x);
  *c = cos(x);
#endif
}

// sin and cos of 2 pi u in float, for u in [0, 1): CUDA's sincospif needs no
// argument reduction by an irrational period.
KOKKOS_INLINE_FUNCTION void sincos_2pi(float u, float* s, float* c) {
#if defined(__CUDA_ARCH__)
  ::sincospif(2.0f * u, s, c);
#else
  *s = sin(6.28318531f * u);
  *c = cos(6.28318531f * u);
#endif
}
}  // namespace prism::kmath
