// The exact rank-independent reductions of kernels/common/reductions.hpp:
// against long-double references on random data, the same bits for any
// split of the rows into blocks summed in any order (as over ranks), and
// max_abs with NaN and infinities.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/common/reductions.hpp"

namespace common = prism::common;

namespace {

using Matrix = Kokkos::View<double**, Kokkos::LayoutLeft>;
using Vector = Kokkos::View<double*>;
using Sums = Kokkos::View<std::int64_t*>;
using Exec = Kokkos::DefaultExecutionSpace;

// Rows of random data of both signs over a few decades, as centred
// log-derivatives times energies are.
struct Data {
  int S, P;
  std::vector<double> A;  // row-major S x P
  std::vector<double> x;  // S
};
Data random_rows(int S, int P, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0), decade(-3.0, 1.0);
  Data d{S, P, std::vector<double>(std::size_t(S) * P), std::vector<double>(S)};
  for (auto& a : d.A) a = u(gen) * std::pow(10.0, decade(gen));
  for (auto& v : d.x) v = u(gen) * std::pow(10.0, decade(gen));
  return d;
}

// Rows [begin, end) of the data as device views.
Matrix matrix_rows(Data const& d, int begin, int end) {
  Matrix A("test::A", end - begin, d.P);
  auto h = Kokkos::create_mirror_view(A);
  for (int s = begin; s < end; ++s)
    for (int k = 0; k < d.P; ++k) h(s - begin, k) = d.A[std::size_t(s) * d.P + k];
  Kokkos::deep_copy(A, h);
  return A;
}
Vector vector_of(std::vector<double> const& v, int begin, int end) {
  Vector x("test::x", end - begin);
  auto h = Kokkos::create_mirror_view(x);
  for (int s = begin; s < end; ++s) h(s - begin) = v[s];
  Kokkos::deep_copy(x, h);
  return x;
}
template <class View>
auto host(View const& v) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
}

// Sum of terms in long double, smallest magnitude first.
long double sorted_sum(std::vector<long double> terms) {
  std::sort(terms.begin(), terms.end(),
            [](long double a, long double b) { return std::fabs(a) < std::fabs(b); });
  long double sum = 0;
  for (long double t : terms) sum += t;
  return sum;
}

// The fixed-point column sums of rows [begin, end), rounded per `block` rows.
std::vector<std::int64_t> projection(Data const& d, int begin, int end, double scale, int block = 1) {
  Sums out("test::sums", d.P);
  common::fixed_point_projection(Exec(), matrix_rows(d, begin, end), vector_of(d.x, begin, end), scale, out,
                                 block);
  auto h = host(out);
  return std::vector<std::int64_t>(h.data(), h.data() + d.P);
}

// y = A v, with the partial sums of each row's column blocks.
std::vector<double> row_products_of(Data const& d, std::vector<double> const& v, int begin, int end) {
  const auto A = matrix_rows(d, begin, end);
  Vector y("test::y", end - begin);
  Matrix partial("test::partial", end - begin, common::row_block_count(d.P));
  common::row_products(Exec(), A, vector_of(v, 0, d.P), y, partial);
  auto h = host(y);
  return std::vector<double>(h.data(), h.data() + (end - begin));
}

}  // namespace

TEST(Reductions, FixedPointProjectionMatchesLongDoubleReference) {
  const auto d = random_rows(1000, 37, 1);
  const double scale = 0x1p40;  // |sum| < 1000 * 100: far inside the int64 range
  const auto sums = projection(d, 0, d.S, scale);
  for (int k = 0; k < d.P; ++k) {
    // Exactly the sum of the rounded terms ...
    std::int64_t rounded = 0;
    std::vector<long double> terms;
    for (int s = 0; s < d.S; ++s) {
      const double v = d.A[std::size_t(s) * d.P + k] * d.x[s] * scale;
      rounded += static_cast<std::int64_t>(v >= 0 ? v + 0.5 : v - 0.5);
      terms.push_back((long double)d.A[std::size_t(s) * d.P + k] * d.x[s]);
    }
    EXPECT_EQ(sums[k], rounded) << "column " << k;
    // ... and within half a unit of 1/scale per term (plus the rounding of
    // the double product, |A x| 2^-53 <= 0.02 / scale) of the true sum.
    const long double exact = sorted_sum(terms);
    EXPECT_NEAR(double(sums[k]) / scale, double(exact), d.S * 0.52 / scale) << "column " << k;
  }
}

TEST(Reductions, FixedPointProjectionIsTheSameForAnySplitOfTheRows) {
  const auto d = random_rows(777, 19, 2);
  const double scale = 0x1p44;
  const auto whole = projection(d, 0, d.S, scale);
  // Uneven blocks (as ranks would hold), their sums added last block first.
  for (const std::vector<int> cuts :
       {std::vector<int>{0, 1, 300, 301, 777}, std::vector<int>{0, 259, 518, 777}}) {
    std::vector<std::int64_t> sum(d.P, 0);
    for (std::size_t b = cuts.size() - 1; b > 0; --b) {
      const auto part = projection(d, cuts[b - 1], cuts[b], scale);
      for (int k = 0; k < d.P; ++k) sum[k] += part[k];
    }
    EXPECT_EQ(sum, whole);
  }
}

// Blocks of rows (a chain's samples) are summed in double in row order and
// rounded once: exactly that, close to the true sum, and the same for any
// split of whole blocks over ranks.
TEST(Reductions, BlockedFixedPointProjection) {
  const int block = 8;
  const auto d = random_rows(8 * 97, 23, 3);
  const double scale = 0x1p44;
  const auto whole = projection(d, 0, d.S, scale, block);
  for (int k = 0; k < d.P; ++k) {
    std::int64_t rounded = 0;
    std::vector<long double> terms;
    for (int b = 0; b < d.S / block; ++b) {
      double partial = 0;
      for (int s = b * block; s < (b + 1) * block; ++s) {
        partial += d.A[std::size_t(s) * d.P + k] * d.x[s];
        terms.push_back((long double)d.A[std::size_t(s) * d.P + k] * d.x[s]);
      }
      const double v = partial * scale;
      rounded += static_cast<std::int64_t>(v >= 0 ? v + 0.5 : v - 0.5);
    }
    // The host reference adds each product in double; a GPU compiler fuses
    // multiply and add, which may move a block's sum by one unit after
    // rounding.  Either way the split test below is exact.
#ifdef KOKKOS_ENABLE_CUDA
    EXPECT_LE(std::llabs(whole[k] - rounded), d.S / block) << "column " << k;
#else
    EXPECT_EQ(whole[k], rounded) << "column " << k;
#endif
    // Half a unit per block plus the double sums' rounding (|terms| <= 100).
    EXPECT_NEAR(double(whole[k]) / scale, double(sorted_sum(terms)),
                d.S / block * 0.5 / scale + d.S * 100 * 0x1p-50)
        << "column " << k;
  }
  for (const std::vector<int> cuts : {std::vector<int>{0, 8, 400, 776}, std::vector<int>{0, 256, 512, 776}}) {
    std::vector<std::int64_t> sum(d.P, 0);
    for (std::size_t b = cuts.size() - 1; b > 0; --b) {
      const auto part = projection(d, cuts[b - 1], cuts[b], scale, block);
      for (int k = 0; k < d.P; ++k) sum[k] += part[k];
    }
    EXPECT_EQ(sum, whole);
  }
  Sums out("test::sums", d.P);
  EXPECT_THROW(
      common::fixed_point_projection(Exec(), matrix_rows(d, 0, 100), vector_of(d.x, 0, 100), scale, out, 8),
      std::invalid_argument);
}

TEST(Reductions, RowProductsMatchLongDoubleReference) {
  for (int P : {5, 64, 65, 1000, 9001}) {  // one block, block edges, many blocks, width > 64
    const auto d = random_rows(41, P, 3 + P);
    const auto v = random_rows(1, P, 4 + P).A;
    const auto y = row_products_of(d, v, 0, d.S);
    for (int s = 0; s < d.S; ++s) {
      std::vector<long double> terms;
      long double bound = 0;
      for (int k = 0; k < P; ++k) {
        terms.push_back((long double)d.A[std::size_t(s) * P + k] * v[k]);
        bound += std::fabs(terms.back());
      }
      EXPECT_NEAR(y[s], double(sorted_sum(terms)), double(bound) * P * 0x1p-52) << "P " << P << " row " << s;
    }
  }
}

TEST(Reductions, RowProductsAreTheSameForAnySplitOfTheRows) {
  const auto d = random_rows(300, 2000, 5);
  const auto v = random_rows(1, d.P, 6).A;
  const auto whole = row_products_of(d, v, 0, d.S);
  std::vector<double> pieces;
  for (auto [begin, end] : {std::pair{0, 1}, std::pair{1, 150}, std::pair{150, 300}}) {
    const auto part = row_products_of(d, v, begin, end);
    pieces.insert(pieces.end(), part.begin(), part.end());
  }
  ASSERT_EQ(pieces.size(), whole.size());
  for (std::size_t s = 0; s < whole.size(); ++s)  // bitwise, not within a tolerance
    EXPECT_EQ(std::bit_cast<std::uint64_t>(pieces[s]), std::bit_cast<std::uint64_t>(whole[s])) << "row " << s;
}

// A float matrix (nqs's sr_precision = "float") is read in double: its
// projections and row products have the bits of a double matrix holding
// the same rounded values, so every property above carries over to it.
TEST(Reductions, FloatMatrixGivesTheBitsOfItsValuesInDouble) {
  auto d = random_rows(96, 130, 8);
  for (auto& a : d.A) a = double(float(a));
  const auto wide = matrix_rows(d, 0, d.S);
  Kokkos::View<float**, Kokkos::LayoutLeft> narrow("test::A_float", d.S, d.P);
  Kokkos::deep_copy(narrow, wide);  // exact: the values are floats already
  const auto x = vector_of(d.x, 0, d.S);
  for (const bool squares : {false, true}) {
    Sums from_wide("test::wide", d.P), from_narrow("test::narrow", d.P);
    if (squares) {
      common::fixed_point_projection<true>(Exec(), wide, x, 0x1p40, from_wide, 8);
      common::fixed_point_projection<true>(Exec(), narrow, x, 0x1p40, from_narrow, 8);
    } else {
      common::fixed_point_projection(Exec(), wide, x, 0x1p40, from_wide, 8);
      common::fixed_point_projection(Exec(), narrow, x, 0x1p40, from_narrow, 8);
    }
    auto hw = host(from_wide), hn = host(from_narrow);
    for (int k = 0; k < d.P; ++k) EXPECT_EQ(hn(k), hw(k)) << (squares ? "squares, " : "") << "column " << k;
  }
  const auto v = vector_of(random_rows(1, d.P, 9).A, 0, d.P);
  Vector y_wide("test::y_wide", d.S), y_narrow("test::y_narrow", d.S);
  Matrix partial("test::partial", d.S, common::row_block_count(d.P));
  common::row_products(Exec(), wide, v, y_wide, partial);
  common::row_products(Exec(), narrow, v, y_narrow, partial);
  auto hw = host(y_wide), hn = host(y_narrow);
  for (int s = 0; s < d.S; ++s)
    EXPECT_EQ(std::bit_cast<std::uint64_t>(hn(s)), std::bit_cast<std::uint64_t>(hw(s))) << "row " << s;
}

TEST(Reductions, RowBlocksDependOnTheColumnCountOnly) {
  EXPECT_EQ(common::row_block(10), 64);
  EXPECT_EQ(common::row_block_count(10), 1);
  EXPECT_EQ(common::row_block_count(64), 1);
  EXPECT_EQ(common::row_block_count(65), 2);
  EXPECT_EQ(common::row_block(128 * 100), 100);
  EXPECT_EQ(common::row_block_count(128 * 100), 128);
  EXPECT_EQ(common::row_block(128 * 100 + 1), 101);
  EXPECT_EQ(common::row_block_count(128 * 100 + 1), 127);
}

TEST(Reductions, MaxAbsIsInfiniteForNaNAndInfinities) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto max_abs_of = [](std::vector<double> const& v) {
    return common::max_abs(Exec(), vector_of(v, 0, int(v.size())));
  };
  EXPECT_EQ(max_abs_of({}), 0.0);
  EXPECT_EQ(max_abs_of({0.0, -0.0}), 0.0);
  EXPECT_EQ(max_abs_of({1.5, -7.25, 3.0}), 7.25);
  EXPECT_EQ(max_abs_of({-std::numeric_limits<double>::max(), 1.0}), std::numeric_limits<double>::max());
  EXPECT_EQ(max_abs_of({1.0, nan, 2.0}), inf);
  EXPECT_EQ(max_abs_of({nan}), inf);
  EXPECT_EQ(max_abs_of({1.0, -inf}), inf);
  EXPECT_EQ(max_abs_of({inf, 2.0}), inf);
  std::vector<double> many(10000, 0.5);
  many[7777] = nan;  // wherever it sits in the reduction
  EXPECT_EQ(max_abs_of(many), inf);
}
