#!/usr/bin/env bash
# Installs everything the gateway needs to build, test and run its demo, from Debian 12's
# packages only. Idempotent; run as root.
#   bash tests/install_deps.sh               # build + tests + lint + demo
#   bash tests/install_deps.sh --build-only  # just what building the binaries needs (Dockerfile)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libabsl-dev prometheus-cpp-dev libmimalloc-dev
)
if [[ "${1:-}" != "--build-only" ]]; then
  packages+=(
    libgtest-dev libgmock-dev libbenchmark-dev
    clang-format clang-tidy clang libclang-rt-14-dev
    yamllint
  )
  # The manifest checks (tests/deploy) need Node.js and npm. CI machines have a newer Node.js
  # preinstalled (with its own npm); elsewhere Debian's packages do.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
