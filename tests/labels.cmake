# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# CTest labels of the GoogleTest cases, by test name. ctest includes this file after the list of
# discovered tests (tests/CMakeLists.txt), so a new test that matches a pattern gets its label
# without reconfiguring. Labels (docs/testing.md):
#   gammapy      runs the gammapy Python (tests/test_environment.hpp: FLUXPOINTS_NEEDS_GAMMAPY)
#   shared-data  reads ../shared/data beside the repository (FLUXPOINTS_NEEDS_SHARED_DATA)
#   gpu          needs a CUDA device (skips without one, also under FLUXPOINTS_REQUIRE_ALL_TESTS)
# A test that calls FLUXPOINTS_NEEDS_GAMMAPY or FLUXPOINTS_NEEDS_SHARED_DATA without the label
# fails under ctest, naming the pattern to extend here. Names of parameterised tests look like
# "Backends/Suite.Test/cuda  # GetParam() = ...".
# One regular expression per line; a test gets the label when its name matches any of them.
set(fluxpoints_label_gammapy
    "^(GammapyInterop|GammapyLive)\\."
    "^CatalogConvert\\.GammapyConverterStoresTheSameDatasets$"
    "^FluxPointsIo\\.AstropyAndGammapyReadOurFiles$"
    "^OutputsAndFaults\\.GammapyReadsFitsGz$"
    "^ModelsYaml\\.RoundTripThroughWriterAndGammapy$")
set(fluxpoints_label_shared-data
    "^(CliEstimate|CliShow|EstimatorHess|GoldenGammapy|CatalogConvert)\\."
    "^DatasetFolding\\.(NpredMatchesGammapyForAllJointCrabInstruments|HessObs23523Contents)$"
    "^FluxPointsIo\\.ReadsGammapyCrabFile$"
    "^KinkRuleRealData\\."
    "^ModelsYaml\\.CrabModelFileParses$"
    "^OgipIo\\.HessRunSurvivesRewrite$")
set(fluxpoints_label_gpu
    "^(CudaEquivalence|CudaNoDevice|CudaFold|CudaKernelImage|CudaDevice)\\."
    "^NuisanceSolver\\.CudaMatchesCpu$"
    "^NuisanceBackendCuda\\."
    "/cuda( |$)")
foreach(fluxpoints_label gammapy shared-data gpu)
  list(JOIN fluxpoints_label_${fluxpoints_label} "|" fluxpoints_label_${fluxpoints_label})
endforeach()

foreach(fluxpoints_test IN LISTS fluxpoints_tests_TESTS)
  set(fluxpoints_labels "")
  foreach(fluxpoints_label gammapy shared-data gpu)
    if(fluxpoints_test MATCHES "${fluxpoints_label_${fluxpoints_label}}")
      list(APPEND fluxpoints_labels ${fluxpoints_label})
    endif()
  endforeach()
  # The test checks its own labels against what it needs (comma-separated: no list quoting).
  string(REPLACE ";" "," fluxpoints_label_env "${fluxpoints_labels}")
  set_tests_properties("${fluxpoints_test}" PROPERTIES
                       ENVIRONMENT "FLUXPOINTS_TEST_LABELS=${fluxpoints_label_env}")
  if(fluxpoints_labels)
    set_tests_properties("${fluxpoints_test}" PROPERTIES LABELS "${fluxpoints_labels}")
  endif()
endforeach()
