# vcdc programs (vcdc-producer, vcdc-consumer, vcdc-gateway, vcdc-gen, vcdc)
# on Debian 12.
#
#   docker build -t vcdc:local .
#   docker run --rm vcdc:local vcdc-producer --help
#
# The build stage has the -dev packages of every library the Makefile's
# PKGS line names (pkg-config: rdkafka avro-c jansson libcurl libpq
# libmicrohttpd libcrypto); the
# runtime stage only their shared libraries. tests/integration/test_compose.py
# checks that the two lists keep up with the Makefile.

FROM debian:12-slim AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential \
        pkg-config \
        librdkafka-dev \
        libavro-dev \
        libjansson-dev \
        libcurl4-openssl-dev \
        libpq-dev \
        libmicrohttpd-dev \
        libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
RUN make -j"$(nproc)" all \
 && make install PREFIX=/usr/local DESTDIR=/out


FROM debian:12-slim AS runtime

# curl is for the healthchecks (GET /metrics); the rest are what the
# programs link.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates \
        curl \
        librdkafka1 \
        libavro23 \
        libjansson4 \
        libcurl4 \
        libpq5 \
        libmicrohttpd12 \
        libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin vcdc

COPY --from=build /out/usr/local/ /usr/local/

USER vcdc
WORKDIR /tmp
# Secrets (VCDC_PG_PASSWORD, VCDC_CHROMA_TOKEN or their *_FILE forms) come
# from the environment, never from the command line.
CMD ["vcdc-consumer", "--help"]
