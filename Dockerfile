# The Utpost image: utpostd (every role), utpost-inspect and utpostctl on
# Debian 12, and a second target for the provider simulator.
#
#   docker build -t utpost .                  # target runtime (the default)
#   docker build --target sim -t utpost-sim .
#
# Everything comes from Debian's archive. BASE names the Debian 12 image
# (a mirror's, or one made with debootstrap). BINARIES picks where the
# programs come from: "build" compiles them in the build stage; "prebuilt"
# copies them from the context's build/ folder (a host build on Debian 12,
# scripts/build.sh), which is what the image test does to stay fast.
ARG BASE=debian:bookworm
ARG BINARIES=build

# ---- build: the -dev packages and the compiler, never shipped ----
FROM ${BASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ ninja-build pkg-config ca-certificates \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev \
      libgtest-dev libgmock-dev librabbitmq-dev libsqlite3-dev libpq-dev \
      libcurl4-openssl-dev libssl-dev libqpdf-dev libseccomp-dev libcpp-httplib-dev \
      libspdlog-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev \
      libhpdf-dev libzip-dev libxml2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the programs the images ship, not the tests.
RUN cmake -S . -B /src/build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /src/build --target utpostd utpost-inspect utpostctl utpost-sim \
 && mkdir -p /out/bin \
 && install -m 0755 -s /src/build/gateway/utpostd /src/build/gateway/utpost-inspect \
      /src/build/cli/utpostctl /src/build/sim/utpost-sim /out/bin/

# ---- prebuilt: the same programs from a host build (build/ in the context) ----
FROM ${BASE} AS prebuilt
COPY build/gateway/utpostd build/gateway/utpost-inspect build/cli/utpostctl \
     build/sim/utpost-sim /out/bin/

FROM ${BINARIES} AS binaries

# ---- runtime-base: runtime libraries only, and the user utpost ----
FROM ${BASE} AS runtime-base
# The shared libraries the programs link (the -dev packages' runtime
# halves), the font and colour profile of print cover pages and evidence
# summaries, CA certificates for the providers, time zones.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libssl3 libxml2 libcurl4 \
      libsqlite3-0 libpq5 librabbitmq4 libqpdf29 libhpdf-2.3.0 libspdlog1.10 libfmt9 \
      libyaml-cpp0.7 libzip4 libseccomp2 libcpp-httplib0.11 \
      ca-certificates fonts-dejavu-core icc-profiles-free tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 utpost \
 && useradd --system --uid 10001 --gid utpost --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin utpost
ENV PATH=/opt/utpost/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---- sim: utpost-sim, the providers' simulator, for staging and demos ----
# Its defaults name sim/data/ and certs-dev/ relative to the working
# folder: the data is in the image, the certificates are not (mount them at
# /opt/utpost/certs-dev, or give --cert, --key, --sender-cert, --token-ca).
FROM runtime-base AS sim
COPY --from=binaries /out/bin/utpost-sim /opt/utpost/bin/
COPY sim/data/ /opt/utpost/sim/data/
WORKDIR /opt/utpost
USER 10001:10001
EXPOSE 8443
ENTRYPOINT ["/opt/utpost/bin/utpost-sim"]
CMD ["--listen", "0.0.0.0:8443"]

# ---- runtime: utpostd for every role (--role api|worker|all), utpostctl ----
FROM runtime-base AS runtime
# utpostd starts utpost-inspect from its own folder.
COPY --from=binaries /out/bin/utpostd /out/bin/utpost-inspect /out/bin/utpostctl /opt/utpost/bin/
USER 10001:10001
# gRPC API (mTLS), metrics (HTTP), health (plain gRPC).
EXPOSE 7443 9464 8081
ENTRYPOINT ["/opt/utpost/bin/utpostd"]
CMD ["--config", "/etc/utpost/config/utpostd.yaml"]
