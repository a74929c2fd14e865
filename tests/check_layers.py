# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""The include graph obeys the layers (docs/library.md).

    python3 tests/check_layers.py SOURCE_DIR [ENGINE_LINK_FILE]

Layers, from the bottom: engine (include/fluxpoints/*.hpp and math/, host/engine/, kernels/),
io (io/, models/, datasets/, estimator/), catalog (catalog/), then the program (host/cli/) and
the Python module (python/src/). Rules checked on every C++ file of the repository:
  1. nothing outside kernels/ includes a backend's private header (kernels/...); tests/ and
     bench/ are white-box and may;
  2. a backend includes no other backend's headers;
  3. public headers (include/fluxpoints/) include only public headers;
  4. a file includes headers of its own layer and of the layers below, never above;
  5. the engine includes no file-format, MPI or YAML library header;
  6. the libraries (engine, io, catalog) print nothing: no stdout/stderr, std::cout/cerr/clog,
     printf/puts or fmt::print; they report through exceptions, results and callbacks, and only
     the program (host/cli/) prints.
ENGINE_LINK_FILE (written by CMake): the libraries the engine target links; none may be a
file-format, compression, MPI or YAML library. Prints every violation; exit 1 if any.
"""
import pathlib
import re
import sys

ORDER = {"engine": 0, "io": 1, "catalog": 2, "cli": 3, "python": 3}
IO_SUBDIRS = ("io", "models", "datasets", "estimator")
# Third-party headers and libraries the engine must not use: HDF5, cfitsio, yaml-cpp, MPI, fmt,
# zlib (everything it needs is the C++ library, threads, Kokkos and CUDA).
ENGINE_FORBIDDEN_HEADER = re.compile(r"^(hdf5|H5|fitsio|longnam|yaml-cpp/|mpi\.h|fmt/|zlib\.h)")
ENGINE_FORBIDDEN_LIB = re.compile(r"(hdf5|cfitsio|yaml|mpi|fmt|(^|[/:])(lib)?z(\.|$)|ZLIB)",
                                  re.IGNORECASE)
PRINTS = re.compile(r"\b(stdout|stderr|std::cout|std::cerr|std::clog|printf|puts|fputs|"
                    r"perror|fmt::print)\b")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.MULTILINE)


def layer_of_public(rel):
    """Layer of a public header path relative to include/fluxpoints/ (or fluxpoints/...)."""
    parts = rel.split("/")
    if len(parts) == 1 or parts[0] == "math":
        return "engine"
    if parts[0] in IO_SUBDIRS:
        return "io"
    if parts[0] == "catalog":
        return "catalog"
    return None


def layer_of_file(path):
    """Layer of a repository file (a path relative to the root), None for tests/bench/tools."""
    p = path.as_posix()
    if p.startswith("include/fluxpoints/"):
        return layer_of_public(p[len("include/fluxpoints/"):])
    if p.startswith("kernels/") or p.startswith("host/engine/"):
        return "engine"
    for sub in IO_SUBDIRS:
        if p.startswith(f"host/{sub}/"):
            return "io"
    if p.startswith("host/catalog/"):
        return "catalog"
    if p.startswith("host/cli/"):
        return "cli"
    if p.startswith("python/src/"):
        return "python"
    return None


def layer_of_include(name):
    """Layer of an included project header ("fluxpoints/...", "host/...", "kernels/...")."""
    if name == "fluxpoints/config.hpp":
        return "engine"  # generated in the build tree
    if name.startswith("fluxpoints/"):
        return layer_of_public(name[len("fluxpoints/"):])
    if name.startswith("kernels/") or name.startswith("host/engine/"):
        return "engine"
    for sub in IO_SUBDIRS:
        if name.startswith(f"host/{sub}/"):
            return "io"
    if name.startswith("host/catalog/"):
        return "catalog"
    if name.startswith("host/cli/"):
        return "cli"
    return None


def check_file(root, path):
    rel = path.relative_to(root)
    p = rel.as_posix()
    layer = layer_of_file(rel)
    white_box = p.startswith("tests/") or p.startswith("bench/")
    problems = []
    text = path.read_text(errors="replace")
    if layer in ("engine", "io", "catalog"):
        for number, line in enumerate(text.splitlines(), 1):
            code = line.split("//")[0]
            if PRINTS.search(code):
                problems.append(f"{p}:{number}: library code prints ({code.strip()})")
    for kind, name in INCLUDE.findall(text):
        where = f"{p}: #include {kind}{name}{'>' if kind == '<' else chr(34)}"
        if kind == '"' and name.startswith("kernels/"):
            if not (p.startswith("kernels/") or white_box):
                problems.append(f"{where}: a backend's private header outside kernels/")
            elif p.startswith("kernels/") and p.count("/") >= 2:
                own = p.split("/")[1]
                if name.count("/") >= 2 and name.split("/")[1] != own:
                    problems.append(f"{where}: another backend's header")
        if p.startswith("include/fluxpoints/") and kind == '"' and not name.startswith(
                "fluxpoints/"):
            problems.append(f"{where}: a public header includes a private one")
        if layer is None:
            continue
        if kind == '"':
            target = layer_of_include(name)
            if target is not None and ORDER[target] > ORDER[layer]:
                problems.append(f"{where}: layer {layer} includes layer {target}")
        if layer == "engine" and ENGINE_FORBIDDEN_HEADER.match(name):
            problems.append(f"{where}: the engine includes a file-format/MPI/YAML library")
    return problems


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    root = pathlib.Path(sys.argv[1]).resolve()
    problems = []
    files = 0
    for folder in ("include", "host", "kernels", "python/src", "tests", "bench"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".hpp", ".cpp", ".cu", ".cuh", ".h", ".c") and path.is_file():
                files += 1
                problems += check_file(root, path)
    if len(sys.argv) == 3:
        libs = [x for x in pathlib.Path(sys.argv[2]).read_text().replace("\n", ";").split(";")
                if x.strip()]
        for lib in libs:
            if ENGINE_FORBIDDEN_LIB.search(lib):
                problems.append(f"fluxpoints_engine links {lib}: a file-format/MPI/YAML library")
        print(f"engine links: {', '.join(libs) or '(nothing)'}")
    for problem in problems:
        print(problem)
    print(f"check_layers: {files} files, {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
