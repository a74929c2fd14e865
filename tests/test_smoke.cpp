#include <gtest/gtest.h>
#include "fluxpoints/backend.hpp"
#include "fluxpoints/examples.hpp"
TEST(Smoke, SpecExampleCash) {
  auto b = fluxpoints::make_backend("cpu");
  fluxpoints::SolveOptions o; o.set_selection("all");
  auto r = b->solve(fluxpoints::examples::synthetic_spectrum_batch(), o);
  EXPECT_NEAR(r.norm[0], 1.606972, 1e-6);
}
