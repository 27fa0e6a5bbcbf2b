# syntax=docker/dockerfile:1
# The image the action runs: one static binary and CA certificates.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/oci-assemble ./cmd/action

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/oci-assemble /usr/local/bin/oci-assemble
ENTRYPOINT ["/usr/local/bin/oci-assemble"]
