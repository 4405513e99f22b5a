# syntax=docker/dockerfile:1
#
# agentledger in a container: one static binary (modernc.org/sqlite is pure
# Go, so CGO_ENABLED=0) on a distroless base with no shell, run as a non-root
# user, with the database and its key file on the /data volume.
#
#   docker build -t agentledger .
#   docker run --rm -v agentledger-data:/data agentledger init
#   docker run -d --name agentledger -p 127.0.0.1:8765:8765 -v agentledger-data:/data agentledger
#
# The build context has no .git (see .dockerignore), so name the build with
#   --build-arg VERSION=$(git describe --tags --always --dirty) --build-arg REVISION=$(git rev-parse HEAD)
# or 'agentledger version' says "dev".

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG REVISION=""
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
        -o /out/agentledger ./cmd/agentledger \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/agentledger /agentledger
# The volume's mount point, owned by the image's user: a new named volume
# takes its ownership, so the server can create the database and key there.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# The key file is derived from the database path: /data/agentledger.key.
# It seals the card numbers in the database: back it up, separately.
ENV AGENTLEDGER_DB=/data/agentledger.db \
    AGENTLEDGER_HEALTH_URL=http://127.0.0.1:8765/healthz
VOLUME ["/data"]
EXPOSE 8765
# No curl or wget in the image: agentledger asks its own /healthz, at
# $AGENTLEDGER_HEALTH_URL (set it to https://127.0.0.1:PORT/healthz when the
# container serves TLS or another port).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/agentledger", "healthz"]
ENTRYPOINT ["/agentledger"]
# Plain HTTP on every interface of the container: TLS is expected to be
# terminated by a reverse proxy in front of it (--insecure-http says so; give
# --tls-cert and --tls-key instead to serve HTTPS directly).
CMD ["serve", "--http", "0.0.0.0:8765", "--insecure-http"]
