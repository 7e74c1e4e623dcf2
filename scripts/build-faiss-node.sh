#!/usr/bin/env bash
# Makes `faiss-node` loadable from this repository's node_modules.
#
# faiss-node's own install step downloads a prebuilt binary (or clones FAISS) from GitHub. Where that is
# not reachable, this script builds the addon against the system FAISS instead (Debian/Ubuntu:
# libfaiss-dev, FAISS 1.7.3 with a CMake package config). It differs from faiss-node 0.5.1's own build
# in three places:
#   1. its CMakeLists does add_subdirectory(deps/faiss) and copies vendored shared libraries around; we
#      use a CMakeLists that calls find_package(OpenMP) + find_package(faiss) and links the imported
#      targets instead;
#   2. FAISS 1.7.3 names the id type faiss::Index::idx_t where faiss-node writes faiss::idx_t;
#   3. IDSelectorArray is constructed with (n, ids) rather than braces.
#
# It never runs inside `npm ci` (so an offline install cannot fail on it): call it after installing.
# With a working prebuilt binary it does nothing. Usage: scripts/build-faiss-node.sh [--force]
# FAISS_NODE_INTO=/path/to/project installs the built package into that project's node_modules instead of
# this repository's (e.g. your app, after `npm i faiss-node --ignore-scripts` there).
set -euo pipefail

ROOT="$(cd "${FAISS_NODE_INTO:-$(dirname "$0")/..}" && pwd)"
VERSION="${FAISS_NODE_VERSION:-0.5.1}"
TARGET="$ROOT/node_modules/faiss-node"

loads() { node -e "require(process.argv[1]).IndexFlatL2" "$TARGET" >/dev/null 2>&1; }

if [ "${1:-}" != "--force" ] && loads; then
  echo "faiss-node: already loads from $TARGET"
  exit 0
fi

# System packages: the FAISS headers + CMake config, a compiler and CMake.
missing=()
[ -f /usr/include/faiss/Index.h ] || missing+=(libfaiss-dev)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "faiss-node: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "faiss-node: missing ${missing[*]}; install them (e.g. apt-get install libfaiss-dev cmake g++)" >&2
    exit 1
  fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/faiss-node-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "faiss-node: building $VERSION against the system FAISS in $WORK"
(
  cd "$WORK"
  echo '{"name":"faiss-node-build","private":true}' >package.json
  npm install --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error \
    "faiss-node@$VERSION" "cmake-js@7" >/dev/null
)
SRC="$WORK/node_modules/faiss-node"
ADDON_API="$(cd "$WORK" && node -p "require('node-addon-api').include_dir")"
case "$ADDON_API" in /*) ;; *) ADDON_API="$WORK/$ADDON_API" ;; esac

# (1) A CMakeLists that links the system FAISS.
cat >"$SRC/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.17 FATAL_ERROR)
cmake_policy(SET CMP0091 NEW)
cmake_policy(SET CMP0042 NEW)
project(faiss-node LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
add_definitions(-DNAPI_VERSION=6)
find_package(OpenMP REQUIRED)
find_package(faiss REQUIRED)
include_directories(${CMAKE_JS_INC})
file(GLOB SOURCE_FILES "src/*.cc" "src/*.h")
add_library(${PROJECT_NAME} SHARED ${SOURCE_FILES} ${CMAKE_JS_SRC})
set_target_properties(${PROJECT_NAME} PROPERTIES PREFIX "" SUFFIX ".node")
target_include_directories(${PROJECT_NAME} PRIVATE "${NODE_ADDON_API_DIR}")
target_link_libraries(${PROJECT_NAME} ${CMAKE_JS_LIB} faiss OpenMP::OpenMP_CXX)
CMAKE
# (2) and (3): the FAISS 1.7.3 spellings.
sed -i \
  -e 's/using idx_t = faiss::idx_t;/using idx_t = faiss::Index::idx_t;/' \
  -e 's/faiss::IDSelectorArray{length, xb}/faiss::IDSelectorArray(length, xb)/' \
  "$SRC/src/faiss.cc"

(cd "$SRC" && "$WORK/node_modules/.bin/cmake-js" compile --log-level warn \
  --CDNODE_ADDON_API_DIR="$ADDON_API" >"$WORK/build.log" 2>&1) || {
  tail -40 "$WORK/build.log" >&2
  echo "faiss-node: build failed" >&2
  exit 1
}

# Install the built package (and its runtime dependency `bindings`) into the repository.
mkdir -p "$ROOT/node_modules"
rm -rf "$TARGET"
mkdir -p "$TARGET"
cp -R "$SRC/package.json" "$SRC/lib" "$SRC/LICENSE" "$SRC/README.md" "$TARGET/"
mkdir -p "$TARGET/build/Release"
cp "$SRC/build/Release/faiss-node.node" "$TARGET/build/Release/"
for dep in bindings file-uri-to-path; do
  [ -d "$ROOT/node_modules/$dep" ] || cp -R "$WORK/node_modules/$dep" "$ROOT/node_modules/$dep"
done

if loads; then
  echo "faiss-node: built and installed into $TARGET"
else
  echo "faiss-node: built, but it does not load" >&2
  node -e "require(process.argv[1])" "$TARGET" || true
  exit 1
fi
