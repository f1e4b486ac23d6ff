// Deck parsing and validation: every error names the file, the line, the key
// and the rule.
#include <gtest/gtest.h>

#include "core/deck.hpp"
#include "core/run_config.hpp"
#include "thermo/thermo_config.hpp"

namespace prism {
namespace {

const char* kGood = R"([run]
seed = 3
[thermo]
model = "ising2d"
L = 32
temperatures = [2.0, 2.5]
sweeps = 100
)";

std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    auto deck = Deck::from_string(text, "deck.toml");
    for (const auto& s : sets) deck.apply_override(s);
    parse_run_config(deck, "");
    thermo::parse_config(deck);
    deck.check_unknown({"run", "thermo"});
  } catch (const DeckError& e) {
    return e.what();
  }
  return "";
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(Deck, GoodDeckParses) {
  auto deck = Deck::from_string(kGood, "inputs/good.toml");
  const auto run = parse_run_config(deck, "");
  const auto cfg = thermo::parse_config(deck);
  deck.check_unknown({"run", "thermo"});
  EXPECT_EQ(run.seed, 3u);
  EXPECT_EQ(run.output, "good.h5");
  EXPECT_EQ(cfg.L, 32);
  EXPECT_EQ(cfg.temperatures.size(), 2u);
  EXPECT_EQ(cfg.thermalization, 1000);  // default
  EXPECT_TRUE(cfg.use_multispin());
}

TEST(Deck, GeometricTemperatureTable) {
  auto deck = Deck::from_string(replace(kGood, "[2.0, 2.5]", "{min = 1.0, max = 4.0, count = 3}"), "d.toml");
  const auto cfg = thermo::parse_config(deck);
  ASSERT_EQ(cfg.temperatures.size(), 3u);
  EXPECT_DOUBLE_EQ(cfg.temperatures[1], 2.0);
  EXPECT_DOUBLE_EQ(cfg.temperatures[2], 4.0);
}

TEST(Deck, ErrorsNameFileLineKeyAndRule) {
  EXPECT_EQ(error_of(replace(kGood, "L = 32", "L = 31")),
            "deck.toml:5: key 'thermo.L': must be even (checkerboard updates on a periodic lattice)");
  EXPECT_EQ(error_of(replace(kGood, "L = 32", "L = \"big\"")),
            "deck.toml:5: key 'thermo.L': must be an integer");
  EXPECT_EQ(error_of(replace(kGood, "L = 32", "L = 2")),
            "deck.toml:5: key 'thermo.L': must be in [4, 65536], got 2");
  EXPECT_EQ(error_of(replace(kGood, "L = 32\n", "")), "deck.toml:3: key 'thermo.L': required key is missing");
  EXPECT_EQ(error_of(replace(kGood, "sweeps = 100", "sweeps = 100\nsweps = 4")),
            "deck.toml:8: key 'thermo.sweps': unknown key");
  EXPECT_EQ(error_of(replace(kGood, "\"ising2d\"", "\"potts\"")),
            "deck.toml:4: key 'thermo.model': must be one of ising2d | ising3d | ea3d, got 'potts'");
  EXPECT_EQ(error_of(replace(kGood, "[2.0, 2.5]", "[2.5, 2.0]")),
            "deck.toml:6: key 'thermo.temperatures': temperatures must be strictly increasing");
  EXPECT_EQ(error_of(replace(kGood, "[2.0, 2.5]", "[0.0, 2.0]")),
            "deck.toml:6: key 'thermo.temperatures': every temperature must be finite and > 0");
  EXPECT_EQ(error_of(replace(kGood, "seed = 3", "seed = -1")),
            "deck.toml:2: key 'run.seed': must be in [0, 9223372036854775807], got -1");
  EXPECT_EQ(error_of(replace(kGood, "[run]", "[rnu]")),
            "deck.toml:1: section 'rnu': unknown section (known: run, thermo)");
  EXPECT_EQ(error_of(replace(kGood, "L = 32", "L = 48\nkernel = \"multispin\"")),
            "deck.toml:6: key 'thermo.kernel': multispin needs L a multiple of 32");
  EXPECT_NE(error_of("[thermo\nL=3"), "");
  EXPECT_EQ(error_of("[thermo\nL=3").rfind("deck.toml:1: TOML syntax error", 0), 0u);
}

TEST(Deck, OverridesWinAndAreNamedInErrors) {
  auto deck = Deck::from_string(kGood, "d.toml");
  deck.apply_override("thermo.L=64");
  deck.apply_override("thermo.model=ising3d");
  const auto cfg = thermo::parse_config(deck);
  EXPECT_EQ(cfg.L, 64);
  EXPECT_EQ(cfg.model, thermo::Model::ising3d);
  EXPECT_EQ(error_of(kGood, {"thermo.L=33"}),
            "--set thermo.L: key 'thermo.L': must be even (checkerboard updates on a periodic lattice)");
  EXPECT_THROW(deck.apply_override("nodot=3"), DeckError);
}

TEST(Deck, CliOutputOverridesDeck) {
  auto deck = Deck::from_string(replace(kGood, "seed = 3", "seed = 3\noutput = \"a.h5\""), "d.toml");
  EXPECT_EQ(parse_run_config(deck, "b.h5").output, "b.h5");
}

TEST(Deck, MissingFileIsAnError) {
  EXPECT_THROW(Deck::from_file("/nonexistent/deck.toml"), DeckError);
}

}  // namespace
}  // namespace prism

namespace prism {
namespace {

// Non-ASCII characters outside strings and comments (which make toml++ 3.3
// reach undefined behaviour) and NUL bytes are refused with the line; inside
// strings and comments they are fine.
TEST(Deck, NonAsciiOutsideStringsIsRefusedWithTheLine) {
  EXPECT_NE(error_of("[run]\nseed = 3\xc3\xa9\n").find("deck.toml:2: a non-ASCII character"),
            std::string::npos);
  EXPECT_NE(error_of("[run]\n\xc3\xbf = 3\n").find("deck.toml:2: a non-ASCII character"), std::string::npos);
  EXPECT_NE(error_of(std::string("[run]\nseed = 3\0\n", 15)).find("deck.toml:2: the deck holds a NUL byte"),
            std::string::npos);
  EXPECT_NE(error_of(kGood, {"run.seed=3\xc3\xa9"}).find("non-ASCII"), std::string::npos);
  // In a comment, a basic string, a literal string and a multi-line string.
  const std::string ok = std::string(kGood) +
                         "# caf\xc3\xa9\n[x]\na = \"caf\xc3\xa9 \\\" # \xc3\xbf\"\nb = 'caf\xc3\xa9'\n"
                         "c = \"\"\"\ncaf\xc3\xa9\n\"\"\"\n";
  const auto deck = Deck::from_string(ok, "deck.toml");
  EXPECT_TRUE(deck.has_section("x"));
}

}  // namespace
}  // namespace prism
