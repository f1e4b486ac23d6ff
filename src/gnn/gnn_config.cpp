#include "gnn/gnn_config.hpp"

#include "core/deck.hpp"

namespace prism::gnn {

Config parse_config(Deck& deck) {
  Config c;
  const std::string s = "gnn";
  deck.only_with(s, {"md_steps", "md_dt", "md_temperature", "md_every"}, "mode = \"md\"");
  deck.only_with(s, {"forces"}, "mode = \"single_point\" (md always computes forces)");
  c.model = deck.get_path(s, "model", std::nullopt);
  c.structures = deck.get_path(s, "structures", std::nullopt);
  if (deck.has(s, "replicate")) {
    const auto r = deck.get_numbers(s, "replicate", "copies");
    if (r.size() != 3) deck.fail(s, "replicate", "must be three copy counts [na, nb, nc]");
    for (int a = 0; a < 3; ++a) {
      if (r[a] < 1 || r[a] > 1000 || r[a] != double(int(r[a])))
        deck.fail(s, "replicate", "copy counts must be whole numbers from 1 to 1000");
      c.replicate[a] = int(r[a]);
    }
  }
  c.single = deck.get_string(s, "precision", "double", {"double", "float"}) == "float";
  c.mode = deck.get_string(s, "mode", "single_point", {"single_point", "md"}) == "md" ? Mode::md
                                                                                      : Mode::single_point;
  c.forces = c.mode == Mode::md ? true : deck.get_bool(s, "forces", true);
  c.write_forces = deck.get_bool(s, "write_forces", true);
  c.min_distance = deck.get_double(s, "min_distance", 0.5, 0.0, 100.0);
  c.team_size = int(deck.get_int(s, "team_size", 0, 0, 1024));
  c.spatial = deck.get_string(s, "decompose", "structures", {"structures", "space"}) == "space";
  if (c.mode == Mode::md) {
    c.md_steps = deck.get_int(s, "md_steps", 1000, 1, 100'000'000);
    c.md_dt = deck.get_double(s, "md_dt", 0.5, 0.0, 100.0, true);
    c.md_temperature = deck.get_double(s, "md_temperature", 300.0, 0.0, 1e6);
    c.md_every = deck.get_int(s, "md_every", 10, 1, 100'000'000);
  }
  return c;
}

}  // namespace prism::gnn
