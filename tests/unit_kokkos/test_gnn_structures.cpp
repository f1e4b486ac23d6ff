// gnn structure input: extended XYZ and HDF5 give the same structures (the
// reference files hold the same three), supercells, the element tables, and
// bad files rejected with their line and rule.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/h5_writer.hpp"
#include "gnn/structures.hpp"

namespace prism::gnn {
namespace {

const std::string reference_dir = std::string(PRISM_SOURCE_DIR) + "/tests/reference/gnn/";

// A fresh directory per test, removed with the object.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag)
      : path(std::filesystem::temp_directory_path() /
             ("prism-gnn-" + tag + "-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    const auto file = (path / name).string();
    std::ofstream(file) << text;
    return file;
  }
};

// The message of the error `f` throws, or "" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(GnnStructures, ExtxyzEqualsTheHdf5Reference) {
  const auto xyz = read_structures(reference_dir + "structures.xyz");
  const auto h5 = read_structures(reference_dir + "reference.h5");
  ASSERT_EQ(xyz.size(), 3u);
  ASSERT_EQ(h5.size(), 3u);
  // The xyz keeps file order; HDF5 lists groups by name.
  EXPECT_EQ(xyz[0].name, "cluster");
  EXPECT_EQ(xyz[1].name, "triclinic");
  EXPECT_EQ(xyz[2].name, "cubic");
  EXPECT_EQ(h5[0].name, "cluster");
  EXPECT_EQ(h5[1].name, "cubic");
  EXPECT_EQ(h5[2].name, "triclinic");
  std::map<std::string, const Structure*> by_name;
  for (const auto& s : h5) by_name[s.name] = &s;
  const std::map<std::string, std::int64_t> atoms = {{"cluster", 7}, {"triclinic", 5}, {"cubic", 24}};
  for (const auto& s : xyz) {
    SCOPED_TRACE(s.name);
    const Structure& r = *by_name.at(s.name);
    EXPECT_EQ(s.atoms(), atoms.at(s.name));
    EXPECT_EQ(s.atoms(), r.atoms());
    EXPECT_EQ(s.z, r.z);
    EXPECT_EQ(s.pos, r.pos);  // exact: the xyz has 17 significant digits
    EXPECT_EQ(s.cell, r.cell);
    EXPECT_EQ(s.pbc, r.pbc);
    const bool periodic = s.name != "cluster";
    EXPECT_EQ(s.pbc, (std::array<bool, 3>{periodic, periodic, periodic}));
  }
  EXPECT_EQ(xyz[0].cell, (std::array<double, 9>{}));
  EXPECT_EQ(xyz[1].cell, (std::array<double, 9>{3.1, 0, 0, 0.7, 3.4, 0, -0.4, 0.5, 3.6}));
  EXPECT_EQ(xyz[0].z, (std::vector<int>{1, 1, 1, 8, 8, 1, 8}));
}

TEST(GnnStructures, ReplicateOrdersImagesLikeAseRepeat) {
  const Structure s = read_extxyz(reference_dir + "structures.xyz").at(1);  // triclinic, 5 atoms
  const std::array<int, 3> n = {2, 1, 3};
  const Structure r = replicate(s, n);
  ASSERT_EQ(r.atoms(), 5 * 6);
  EXPECT_EQ(r.name, s.name);
  EXPECT_EQ(r.pbc, s.pbc);
  for (int k = 0; k < 9; ++k) EXPECT_EQ(r.cell[k], s.cell[k] * n[k / 3]);
  // Image (0,0,0) is the structure itself.
  for (int k = 0; k < 15; ++k) EXPECT_EQ(r.pos[k], s.pos[k]);
  // Atom 2 of image (1,0,2) is atom ((1*1 + 0)*3 + 2)*5 + 2 = 27, at pos_2 + a + 2c.
  const int i = 2, at = ((1 * n[1] + 0) * n[2] + 2) * 5 + i;
  EXPECT_EQ(r.z[at], s.z[i]);
  for (int d = 0; d < 3; ++d)
    EXPECT_NEAR(r.pos[3 * at + d], s.pos[3 * i + d] + s.cell[d] + 2 * s.cell[6 + d], 1e-13);
  // Image (0,0,1), atom 0 is atom 5: c varies fastest.
  for (int d = 0; d < 3; ++d) EXPECT_NEAR(r.pos[15 + d], s.pos[d] + s.cell[6 + d], 1e-13);

  const Structure cluster = read_extxyz(reference_dir + "structures.xyz").at(0);
  EXPECT_EQ(replicate(cluster, {1, 1, 1}).pos, cluster.pos);
  EXPECT_NE(error_of([&] {
              replicate(cluster, {1, 2, 1});
            }).find("cannot repeat along b"),
            std::string::npos);
  EXPECT_NE(error_of([&] { replicate(s, {1, 0, 1}); }).find("at least 1"), std::string::npos);
}

TEST(GnnStructures, ElementTables) {
  EXPECT_EQ(atomic_number("O"), 8);
  EXPECT_STREQ(element_symbol(26), "Fe");
  EXPECT_NEAR(atomic_mass(1), 1.008, 1e-9);
  EXPECT_NEAR(atomic_mass(8), 15.999, 1e-9);
  EXPECT_EQ(atomic_number("Og"), 118);
  for (int z = 1; z <= 118; ++z) {
    EXPECT_EQ(atomic_number(element_symbol(z)), z);
    EXPECT_GT(atomic_mass(z), 1.0);
    EXPECT_LT(atomic_mass(z), 300.0);
  }
  EXPECT_THROW(atomic_number("Xx"), std::runtime_error);
  EXPECT_THROW(atomic_number("o"), std::runtime_error);  // symbols are case-sensitive, as in ASE
  EXPECT_THROW(element_symbol(0), std::runtime_error);
  EXPECT_THROW(atomic_mass(119), std::runtime_error);
}

TEST(GnnExtxyz, ColumnsKeysAndDefaults) {
  TempDir dir("xyz-ok");
  // Frame 0: no Properties (default columns), no name, CRLF line ends.
  // Frame 1: atomic numbers from Z with extra columns around, lower-case keys,
  // a quoted value with spaces, Lattice without pbc (so periodic).
  // Frame 2: mixed pbc, one-value pbc spelled True.  Then blank lines.
  const auto file = dir.write("ok.xyz",
                              "2\r\ncomment with words\r\nH 0 0 0\r\nO 0.5 -1e-3 2\r\n"
                              "2\n"
                              "info=\"a b c\" lattice=\"2 0 0 0 3 0 0 0 4\" "
                              "properties=forces:R:3:pos:R:3:Z:I:1:tag:S:1 name=two\n"
                              "1 2 3 0.25 0.5 0.75 26 x\n"
                              "0 0 0 1.5 1.5 1.5 1 y\n"
                              "1\n"
                              "Lattice=\"2 0 0 0 3 0 0 0 4\" pbc=\"T F 1\"\n"
                              "He 1 1 1\n"
                              "1\n"
                              "Lattice=\"2 0 0 0 3 0 0 0 4\" pbc=True\n"
                              "He 1 1 1\n"
                              "\n\n");
  const auto f = read_extxyz(file);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].name, "frame0");
  EXPECT_EQ(f[0].z, (std::vector<int>{1, 8}));
  EXPECT_EQ(f[0].pos, (std::vector<double>{0, 0, 0, 0.5, -1e-3, 2}));
  EXPECT_EQ(f[0].pbc, (std::array<bool, 3>{false, false, false}));
  EXPECT_EQ(f[1].name, "two");
  EXPECT_EQ(f[1].z, (std::vector<int>{26, 1}));
  EXPECT_EQ(f[1].pos, (std::vector<double>{0.25, 0.5, 0.75, 1.5, 1.5, 1.5}));
  EXPECT_EQ(f[1].cell, (std::array<double, 9>{2, 0, 0, 0, 3, 0, 0, 0, 4}));
  EXPECT_EQ(f[1].pbc, (std::array<bool, 3>{true, true, true}));
  EXPECT_EQ(f[2].name, "frame2");
  EXPECT_EQ(f[2].pbc, (std::array<bool, 3>{true, false, true}));
  EXPECT_EQ(f[3].pbc, (std::array<bool, 3>{true, true, true}));
}

TEST(GnnExtxyz, BadFilesNameTheLineAndRule) {
  TempDir dir("xyz-bad");
  const std::string good = "1\nProperties=species:S:1:pos:R:3\nH 0 0 0\n";  // lines 1-3
  struct Case {
    const char* name;
    std::string text;
    int line;
    const char* rule;
  };
  const std::vector<Case> cases = {
      // 3 atoms announced on line 4, 2 given: the file ends where line 8 should be.
      {"count_large", good + "3\n\nH 0 0 0\nH 1 0 0\n", 8,
       "the file ends after 2 of the 3 atoms line 4 announces"},
      // 1 atom announced, 2 given: the second is read as the next count.
      {"count_small", good + "1\n\nH 0 0 0\nH 1 0 0\n", 7, "expected a frame's atom count"},
      {"count_word", "two\n\nH 0 0 0\n", 1, "expected a frame's atom count"},
      {"symbol", good + "2\n\nH 0 0 0\nXx 1 0 0\n", 7, "unknown element symbol 'Xx'"},
      {"lattice_8", good + "1\nLattice=\"1 0 0 0 1 0 0 0\"\nH 0 0 0\n", 5,
       "Lattice must be 9 numbers, found 8"},
      {"lattice_word", good + "1\nLattice=\"1 0 0 0 1 0 0 0 x\"\nH 0 0 0\n", 5,
       "Lattice must be 9 finite numbers"},
      {"lattice_flat", good + "1\nLattice=\"1 0 0 1 0 0 0 0 1\"\nH 0 0 0\n", 5, "no volume"},
      {"few_columns", good + "2\n\nH 0 0 0\nH 1 0\n", 7, "too few columns: 3 where Properties gives 4"},
      {"many_columns", good + "1\n\nH 0 0 0 0\n", 6, "too many columns: 5 where Properties gives 4"},
      {"nan", good + "1\n\nH 0 nan 0\n", 6, "coordinate y is not finite"},
      {"inf", good + "1\n\nH 0 0 1e999\n", 6, "coordinate z is not finite"},
      {"not_number", good + "1\n\nH 0 0 1.0.0\n", 6, "coordinate z is not a number"},
      {"pbc_no_lattice", good + "1\npbc=\"F T F\"\nH 0 0 0\n", 5,
       "pbc is true along b but there is no Lattice"},
      {"pbc_word", good + "1\nLattice=\"1 0 0 0 1 0 0 0 1\" pbc=\"T T maybe\"\nH 0 0 0\n", 5, "pbc must be"},
      {"pbc_two", good + "1\nLattice=\"1 0 0 0 1 0 0 0 1\" pbc=\"T T\"\nH 0 0 0\n", 5, "pbc must be"},
      {"no_pos", good + "1\nProperties=species:S:1:forces:R:3\nH 0 0 0\n", 5, "has no pos:R:3 entry"},
      {"bad_pos", good + "1\nProperties=species:S:1:pos:R:2\nH 0 0\n", 5, "it must be pos:R:3"},
      {"no_species", good + "1\nProperties=pos:R:3\n0 0 0\n", 5, "has neither species:S:1 nor Z:I:1"},
      {"triplets", good + "1\nProperties=species:S:1:pos:R\nH 0 0 0\n", 5,
       "is not name:type:columns triplets"},
      {"bad_z", good + "1\nProperties=Z:I:1:pos:R:3\n119 0 0 0\n", 6, "atomic number '119'"},
      {"quote", good + "1\nname=\"open\nH 0 0 0\n", 5, "unterminated quote"},
      {"no_comment", good + "1\n", 5, "the file ends before the comment line"},
      {"gap", good + "\n1\n\nH 0 0 0\n", 5, "text after the blank line 4"},
      {"twice", good + "1\nLattice=\"1 0 0 0 1 0 0 0 1\" lattice=\"1 0 0 0 1 0 0 0 1\"\nH 0 0 0\n", 5,
       "gives lattice twice"},
      {"empty", "\n\n", 1, "holds no frames"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto file = dir.write(std::string(c.name) + ".xyz", c.text);
    const std::string msg = error_of([&] { read_extxyz(file); });
    EXPECT_EQ(msg.rfind(file + ":" + std::to_string(c.line) + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.rule), std::string::npos) << msg;
  }
  EXPECT_NE(error_of([&] { read_extxyz((dir.path / "missing.xyz").string()); }).find("cannot open"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { read_structures(dir.write("a.cif", "")); }).find("a.cif: unknown structure file type"),
      std::string::npos);
}

// A one-atom structure /structures/<name> written by prism's own writer.
void write_structure(H5Writer& out, const std::string& name, std::vector<double> pos,
                     std::vector<std::int64_t> z, std::vector<double> cell) {
  const std::string g = "/structures/" + name;
  out.group(g);
  out.write(g + "/pos", pos, {pos.size() / 3, 3});
  out.write(g + "/z", z);
  if (!cell.empty()) out.write(g + "/cell", cell, {3, 3});
}

TEST(GnnStructuresH5, PbcArraysNameOrderAndBadFiles) {
  TempDir dir("h5");
  const std::vector<double> cube = {2, 0, 0, 0, 2, 0, 0, 0, 2};
  const auto good = (dir.path / "good.h5").string();
  {
    H5Writer out(good);
    // Created out of name order; read back by name.
    write_structure(out, "b", {0, 0, 0}, {1}, cube);
    write_structure(out, "B", {1, 1, 1}, {8}, {});
    write_structure(out, "a", {0.5, 0.5, 0.5}, {26}, cube);
    out.attribute("/structures/B", "pbc", std::int64_t(0));
    out.attribute("/structures/b", "pbc", std::int64_t(1));
    out.commit(true);
  }
  {
    // An array of 3 for "a" (H5Writer writes scalars only).
    const hid_t f = H5Fopen(good.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hsize_t three = 3;
    const int pbc[3] = {1, 0, 1};
    const hid_t space = H5Screate_simple(1, &three, nullptr);
    const hid_t a = H5Acreate_by_name(f, "/structures/a", "pbc", H5T_STD_I32LE, space, H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(a, 0);
    EXPECT_GE(H5Awrite(a, H5T_NATIVE_INT, pbc), 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Fclose(f);
  }
  const auto s = read_structures(good);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].name, "B");  // byte-wise name order
  EXPECT_EQ(s[1].name, "a");
  EXPECT_EQ(s[2].name, "b");
  EXPECT_EQ(s[0].pbc, (std::array<bool, 3>{false, false, false}));
  EXPECT_EQ(s[0].cell, (std::array<double, 9>{}));
  EXPECT_EQ(s[1].pbc, (std::array<bool, 3>{true, false, true}));
  EXPECT_EQ(s[1].z, std::vector<int>{26});
  EXPECT_EQ(s[2].pbc, (std::array<bool, 3>{true, true, true}));

  struct Case {
    const char* name;
    std::vector<double> pos;
    std::vector<std::int64_t> z;
    std::vector<double> cell;
    std::int64_t pbc;
    const char* rule;
  };
  const std::vector<Case> cases = {
      {"no_cell", {0, 0, 0}, {1}, {}, 1, "/structures/x/cell: missing dataset, needed because pbc is set"},
      {"bad_z", {0, 0, 0}, {0}, cube, 1, "/structures/x/z: atom 0 has atomic number 0"},
      {"z_count", {0, 0, 0}, {1, 1}, cube, 1, "/structures/x/z: shape must be [1] like pos, found [2]"},
      {"pos_shape", {0, 0, 0, 0}, {1}, cube, 1, "/structures/x/pos: shape must be [N][3], found [1][4]"},
      {"nan", {0, std::nan(""), 0}, {1}, cube, 1, "/structures/x/pos: atom 0 coordinate y is not finite"},
      {"pbc_2", {0, 0, 0}, {1}, cube, 2, "/structures/x: attribute pbc must be 0 or 1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto file = (dir.path / (std::string(c.name) + ".h5")).string();
    {
      H5Writer out(file);
      if (std::string(c.name) == "pos_shape") {
        out.group("/structures/x");
        out.write("/structures/x/pos", c.pos, {1, 4});
        out.write("/structures/x/z", c.z);
        out.write("/structures/x/cell", c.cell, {3, 3});
      } else {
        write_structure(out, "x", c.pos, c.z, c.cell);
      }
      out.attribute("/structures/x", "pbc", c.pbc);
      out.commit(true);
    }
    const std::string msg = error_of([&] { read_structures_h5(file); });
    EXPECT_EQ(msg.rfind(file + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.rule), std::string::npos) << msg;
  }
  const auto no_root = (dir.path / "no_root.h5").string();
  {
    H5Writer out(no_root);
    out.group("/other");
    out.commit(true);
  }
  EXPECT_NE(error_of([&] { read_structures_h5(no_root); }).find(no_root + ": /structures: missing"),
            std::string::npos);
}

}  // namespace
}  // namespace prism::gnn
