# The image nix builds on each runner, for that runner's platform.
# streamLayeredImage does not write the image: its result is a script that
# streams a docker-archive (`docker save` format) to stdout, which
# oci-assemble reads as `docker-archive:FILE`, gzipped or not.
#
#   "$(nix-build examples/nix --no-out-link)" | gzip >hello.tar.gz
{ pkgs ? import <nixpkgs> { } }:

pkgs.dockerTools.streamLayeredImage {
  name = "hello";
  tag = "latest";
  contents = [ pkgs.hello ];
  config = {
    Entrypoint = [ "${pkgs.hello}/bin/hello" ];
    Labels = {
      "org.opencontainers.image.description" = "GNU hello, built by nix";
    };
  };
}
