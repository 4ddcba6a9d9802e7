#!/usr/bin/env bash
# System packages the build needs (librdkafka's build: a C toolchain, pkg-config, OpenSSL
# headers, python3; libFuzzer's: a C++ compiler; the stack: Java 17 + Maven; conformance
# tools: Node.js + npm).
# Installs what is missing with apt-get when run as root; otherwise says what to install.
set -euo pipefail
missing=()
command -v cc >/dev/null || missing+=(build-essential)
# libFuzzer (the fuzz targets, `make fuzz`) is C++.
command -v c++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
command -v python3 >/dev/null || missing+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v curl >/dev/null || missing+=(curl)
if ! command -v cargo >/dev/null; then
  echo "[deps] error: cargo (Rust) is not installed; install Rust 1.85+ (rustup) and re-run" >&2; exit 1
fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[deps] installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "[deps] error: missing system packages: ${missing[*]} (install them, e.g. with apt-get)" >&2
  exit 1
fi
