# The image `uses: ./` builds: one static binary and CA certificates, nothing
# else. Workflows in this repository run the action through it, so they test
# the code of their own commit. Releases do not use this file: release.yml
# builds the published image with oci-assemble itself and points the released
# action.yml at it (docs/release.md).
#
# No "# syntax=" line: the Dockerfile frontend built into BuildKit is enough,
# and the directive would pull docker/dockerfile from Docker Hub on each build.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/oci-assemble ./cmd/action

# scratch: nothing to pull, nothing to patch. Go reads the CA bundle from
# /etc/ssl/certs/ca-certificates.crt (SSL_CERT_FILE names another one).
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/oci-assemble /usr/local/bin/oci-assemble
ENTRYPOINT ["/usr/local/bin/oci-assemble"]
