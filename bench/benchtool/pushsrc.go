package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// benchPlatforms are the join benchmark's eight platforms; the tag of each
// source image is the platform with slashes removed (linux/arm/v7: armv7).
var benchPlatforms = []string{
	"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6",
	"linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64",
}

// pushSources pushes one single-platform OCI image per benchPlatforms entry
// to REGISTRY/REPO:TAG over plain HTTP, each with one layer holding one file
// of seeded random bytes (so each layer is about -bytes, gzip cannot shrink
// it), and prints the references separated by commas.
func pushSources(args []string) error {
	fl := flag.NewFlagSet("pushsrc", flag.ContinueOnError)
	registry := fl.String("registry", "", "host:port (plain HTTP)")
	repo := fl.String("repo", "src", "repository")
	size := fl.Int("bytes", 8<<20, "bytes of random content per layer")
	seed := fl.Uint64("seed", 1, "seed")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *registry == "" {
		return errors.New("need -registry")
	}
	imgs := map[name.Reference]remote.Taggable{}
	var refs []string
	for i, p := range benchPlatforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return err
		}
		img, err := sourceImage(*plat, *size, *seed+uint64(i))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		tag := strings.ReplaceAll(strings.TrimPrefix(p, "linux/"), "/", "")
		ref, err := name.NewTag(fmt.Sprintf("%s/%s:%s", *registry, *repo, tag), name.Insecure)
		if err != nil {
			return err
		}
		imgs[ref] = img
		refs = append(refs, ref.String())
	}
	if err := remote.MultiWrite(imgs); err != nil {
		return fmt.Errorf("pushing to %s: %w", *registry, err)
	}
	fmt.Println(strings.Join(refs, ","))
	return nil
}

func sourceImage(p v1.Platform, size int, seed uint64) (v1.Image, error) {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	content := make([]byte, size)
	_, _ = rand.NewChaCha8(s).Read(content) // ChaCha8.Read never fails
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	hdr := &tar.Header{Name: "payload.bin", Mode: 0o644, Size: int64(size), ModTime: treeTime, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(
		func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb.Bytes())), nil },
		tarball.WithCompressionLevel(gzip.BestSpeed),
		tarball.WithMediaType(types.OCILayer),
	)
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: treeTime}
	return mutate.ConfigFile(img, cf)
}
