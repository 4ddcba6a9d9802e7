# syntax=docker/dockerfile:1
#
# One image with every smsflow binary: the five services (ingest, router, dispatcher,
# dlr-ingester, analytics), the operator CLI (smsflow) and the carrier simulator
# (carrier-sim). The Helm chart picks the binary with the container's `command`.
#
#   docker build -t registry.example.com/smsflow:0.1.0 .
#
# Needs BuildKit (the default builder of current Docker and buildx) for the cache mounts.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
# librdkafka is built from source by rdkafka-sys (its ./configure + make, not cmake):
# a C/C++ toolchain, make, pkg-config, OpenSSL (feature "ssl") and zlib headers. Package
# versions are those of the base image's Debian release (not pinned one by one).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config libssl-dev zlib1g-dev python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The target directory is a cache mount, so the binaries are copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
      --bin ingest --bin router --bin dispatcher --bin dlr-ingester --bin analytics \
      --bin smsflow --bin carrier-sim \
 && mkdir -p /out \
 && for b in ingest router dispatcher dlr-ingester analytics smsflow carrier-sim; do \
      cp "target/release/$b" /out/; \
    done

FROM ${RUNTIME_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 smsflow \
 && useradd --system --uid 10001 --gid smsflow --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin smsflow
COPY --from=builder /out/ /usr/local/bin/
USER 10001:10001
# No default command: the chart (or `docker run IMAGE <binary> --config FILE`) chooses one.
CMD ["smsflow", "--help"]
