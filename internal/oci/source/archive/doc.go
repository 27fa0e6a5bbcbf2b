// Package archive reads docker-archive sources (docker save, nix
// dockerTools): a tar, maybe gzipped, bounded in size, entries and names,
// whose layers are checked against the config's diffIDs as they are read,
// and whose uncompressed layers are compressed and staged once.
package archive
