#!/usr/bin/env bash
# Checks that the container image can run the given binaries: every shared library they link
# (ldd) must come from a Debian package that the runtime stage of deploy/Dockerfile installs with
# apt-get, or from one that its base image, debian:12-slim, already contains. Prints each
# library -> package; fails on a library ldd cannot find, one that no package owns, or one whose
# package the image would not have.
#
#   tests/deploy/check_runtime_libraries.sh build/release/gateway/codearts-gateway ...
#
# DOCKERFILE=path overrides the Dockerfile to read.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dockerfile="${DOCKERFILE:-$here/../../deploy/Dockerfile}"
expected_base="debian:12-slim"

# Library packages of debian:12-slim, which is built with only the Essential packages, apt and
# what they depend on, so these are in every image built from it. Derived on Debian 12 from
# `apt-cache depends --recurse` of the Essential packages (dropping alternatives such as
# libelogind0), plus libstdc++6, which apt needs. A library from any other package must be
# installed by the Dockerfile itself.
base_packages=(
  libacl1 libattr1 libaudit1 libblkid1 libbz2-1.0 libc6 libcap-ng0 libcap2 libcrypt1 libdb5.3
  libgcc-s1 libgcrypt20 libgmp10 libgpg-error0 liblz4-1 liblzma5 libmd0 libmount1 libpam0g
  libpcre2-8-0 libselinux1 libsmartcols1 libstdc++6 libsystemd0 libtinfo6 libudev1 libuuid1
  libzstd1 zlib1g
)

if (($# == 0)); then
  echo "usage: $0 BINARY..." >&2
  exit 2
fi
[[ -f "$dockerfile" ]] || { echo "no Dockerfile at $dockerfile" >&2; exit 2; }

# The final stage is the runtime stage: its base image (an ARG's default when it is `${ARG}`), and
# its lines with comments dropped and `\` continuations joined.
base_image="$(awk '
  toupper($1) == "ARG" && index($2, "=") { split($2, kv, "="); defaults[kv[1]] = kv[2] }
  toupper($1) == "FROM" {
    for (i = 2; i <= NF && $i ~ /^--/; i++) {}
    image = $i
    if (image ~ /^\$\{.*\}$/) image = defaults[substr(image, 3, length(image) - 3)]
  }
  END { print image }' "$dockerfile")"
runtime_stage() {
  awk '
    /^[[:space:]]*#/ { next }
    toupper($1) == "FROM" { stage = ""; logical = ""; next }
    {
      text = $0
      continued = sub(/\\[[:space:]]*$/, "", text)
      logical = logical " " text
      if (!continued) { stage = stage logical "\n"; logical = "" }
    }
    END { printf "%s", stage }
  ' "$dockerfile"
}
if [[ "${base_image%%@*}" != "$expected_base" ]]; then
  echo "FAIL: the runtime stage is FROM $base_image, but this check knows the packages of" \
    "$expected_base only: update base_packages in $0" >&2
  exit 1
fi

# Package names after `apt-get install` / `apt install` in the runtime stage, `=version` dropped.
mapfile -t runtime_packages < <(
  runtime_stage | sed -e 's/&&/\n/g' -e 's/||/\n/g' -e 's/;/\n/g' | awk '
    {
      apt = 0
      installing = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^(.*\/)?apt(-get)?$/) { apt = 1; continue }
        if (apt && !installing && $i == "install") { installing = 1; continue }
        if (!installing) continue
        if ($i == "-o" || $i == "-t") { i++; continue }
        if ($i ~ /^-/) continue
        sub(/=.*/, "", $i)
        print $i
      }
    }' | sort -u)
if ((${#runtime_packages[@]} == 0)); then
  echo "FAIL: found no apt-get install in the runtime stage of $dockerfile" >&2
  exit 1
fi
echo "runtime stage (FROM $base_image) installs: ${runtime_packages[*]}"

declare -A source_of=()
for package in "${base_packages[@]}"; do source_of[$package]="base image"; done
for package in "${runtime_packages[@]}"; do source_of[$package]="runtime stage"; done

# Debian 12 has merged /usr: /lib is a symlink to /usr/lib, and dpkg knows each file under the
# name its package ships it with, which can be either. Tries the path ldd printed, the file it
# resolves to, and both under the other prefix.
candidates() {
  local path resolved
  resolved="$(readlink -f "$1")"
  for path in "$1" "$resolved"; do
    echo "$path"
    case "$path" in
      /usr/*) echo "${path#/usr}" ;;
      /*) echo "/usr$path" ;;
    esac
  done
}

status=0
fail() {
  echo "FAIL: $*"
  status=1
}

for binary in "$@"; do
  echo "$binary:"
  if ! ldd_output="$(ldd "$binary" 2>&1)"; then
    fail "$binary: ldd failed: $ldd_output"
    continue
  fi
  if grep -q "statically linked" <<<"$ldd_output"; then
    echo "  statically linked"
    continue
  fi

  names=()
  paths=()
  while read -r line; do
    case "$line" in
      linux-vdso.so.* | linux-gate.so.*) ;;  # provided by the kernel
      *"not found"*) fail "$binary: ldd: $line" ;;
      *" => "*)
        names+=("${line%% => *}")
        rest="${line#* => }"
        paths+=("${rest%% (*}")
        ;;
      /*)
        names+=("${line%% (*}")
        paths+=("${line%% (*}")
        ;;
      *) fail "$binary: unexpected ldd line: $line" ;;
    esac
  done <<<"$ldd_output"

  # One dpkg-query call for all the paths: `pkg[:arch][, pkg[:arch]]...: /path` lines.
  declare -A owners=()
  mapfile -t all_candidates < <(for path in "${paths[@]}"; do candidates "$path"; done | sort -u)
  while IFS= read -r line; do
    [[ "$line" == diversion* ]] && continue
    packages=""
    for package in ${line%%: *}; do
      package="${package%,}"
      packages+="${package%%:*} "
    done
    owners["${line#*: }"]="${packages% }"
  done < <(dpkg-query -S "${all_candidates[@]}" 2>/dev/null || true)

  for i in "${!paths[@]}"; do
    packages=""
    while read -r candidate; do
      if [[ -n "${owners[$candidate]:-}" ]]; then
        packages="${owners[$candidate]}"
        break
      fi
    done < <(candidates "${paths[$i]}")
    if [[ -z "$packages" ]]; then
      fail "${names[$i]} (${paths[$i]}): no Debian package owns it"
      continue
    fi
    found=""
    for package in $packages; do
      if [[ -n "${source_of[$package]:-}" ]]; then
        found="$package (${source_of[$package]})"
        break
      fi
    done
    if [[ -n "$found" ]]; then
      echo "  ${names[$i]} -> $found"
    else
      fail "${names[$i]} -> $packages: not in the image (add it to the apt-get install of" \
        "the Dockerfile's runtime stage)"
    fi
  done
  unset owners
done

if ((status != 0)); then
  echo "some libraries would be missing from the image"
  exit 1
fi
echo "every library is in the image"
