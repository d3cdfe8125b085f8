# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a distroless, non-root base.
FROM golang:1.27.3 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tagihan-relay ./cmd/tagihan-relay

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tagihan-relay /usr/local/bin/tagihan-relay
# Everything the relay keeps lives in /data (relay.db, the dev secret).
VOLUME ["/data"]
ENV RELAY_DATA_DIR=/data \
    RELAY_LISTEN_ADDR=0.0.0.0:8080 \
    RELAY_ADMIN_ADDR=127.0.0.1:8081
EXPOSE 8080 8081
USER nonroot:nonroot
# Orchestrators can probe GET /healthz and /readyz on :8080 directly; the
# image also checks itself without a shell or curl.
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/tagihan-relay", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tagihan-relay"]
CMD ["serve"]
