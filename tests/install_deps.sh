#!/usr/bin/env bash
# Installs everything the gateway needs to build, test and run its demo, from Debian 12's
# packages only. Idempotent; run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  prometheus-cpp-dev clang-format clang-tidy clang libclang-rt-14-dev
)

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
