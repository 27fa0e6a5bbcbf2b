package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// mkArchive writes a docker archive laid out as nix's streamLayeredImage
// writes one: one uncompressed layer tar per group of the tree's
// top-level directories (-layers groups, in sorted order), then the
// config, then manifest.json; -gzip compresses the whole archive, as
// buildLayeredImage's .tar.gz. -replace DIR swaps the last group for the
// tree under DIR (a "next release" with the other layers unchanged).
func mkArchive(args []string) error {
	fl := flag.NewFlagSet("mkarchive", flag.ContinueOnError)
	tree := fl.String("tree", "", "tree whose top-level directories become the layers")
	replace := fl.String("replace", "", "tree for the last layer instead of the last group")
	n := fl.Int("layers", 4, "number of layers")
	out := fl.String("out", "", "archive to write")
	gz := fl.Bool("gzip", false, "gzip the archive")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *tree == "" || *out == "" || *n < 1 {
		return errors.New("need -tree, -out and -layers >= 1")
	}
	groups, err := layerGroups(*tree, *n, *replace)
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	var w io.Writer = f
	var zw *gzip.Writer
	if *gz {
		zw = gzip.NewWriter(f)
		w = zw
	}
	tw := tar.NewWriter(w)
	diffIDs, names, err := writeLayers(tw, filepath.Dir(*out), groups)
	if err != nil {
		return err
	}
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:01Z",
		"config": map[string]any{"Cmd": []string{"/bin/true"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return err
	}
	cs := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(cs[:]) + ".json"
	man, err := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"bench:latest"}, "Layers": names}})
	if err != nil {
		return err
	}
	for _, e := range []struct {
		name string
		b    []byte
	}{{cfgName, cfg}, {"manifest.json", man}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o444, Size: int64(len(e.b)), Typeflag: tar.TypeReg, ModTime: treeTime}); err != nil {
			return err
		}
		if _, err := tw.Write(e.b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d layers\n", *out, len(groups))
	return f.Close()
}

// layerGroups splits tree's top-level entries, in sorted order, into n
// groups, one per layer; replace, when set, is the last layer's tree.
func layerGroups(tree string, n int, replace string) ([][]string, error) {
	des, err := os.ReadDir(tree)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, de := range des {
		dirs = append(dirs, de.Name())
	}
	sort.Strings(dirs)
	if len(dirs) < n {
		return nil, fmt.Errorf("%s has %d top-level entries, fewer than %d layers", tree, len(dirs), n)
	}
	groups := make([][]string, n)
	for i, d := range dirs {
		g := i * n / len(dirs)
		groups[g] = append(groups[g], filepath.Join(tree, d))
	}
	if replace != "" {
		groups[n-1] = []string{replace}
	}
	return groups, nil
}

// writeLayers writes one uncompressed layer tar per group into the
// archive tw, named by its diffID as docker save names them, through a
// temporary file in dir (the archive entry's size comes first).
func writeLayers(tw *tar.Writer, dir string, groups [][]string) (diffIDs, names []string, err error) {
	tmp, err := os.CreateTemp(dir, ".layer-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	for i, g := range groups {
		if err := tmp.Truncate(0); err != nil {
			return nil, nil, err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, nil, err
		}
		h := sha256.New()
		if err := writeLayerTar(io.MultiWriter(tmp, h), g); err != nil {
			return nil, nil, err
		}
		size, err := tmp.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, nil, err
		}
		sum := hex.EncodeToString(h.Sum(nil))
		diffIDs = append(diffIDs, "sha256:"+sum)
		name := sum + ".tar"
		names = append(names, name)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: size, Typeflag: tar.TypeReg, ModTime: treeTime}); err != nil {
			return nil, nil, err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, nil, err
		}
		if _, err := io.CopyN(tw, tmp, size); err != nil {
			return nil, nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return diffIDs, names, nil
}

// writeLayerTar writes the trees under roots as one tar, each under its
// base name, in sorted order.
func writeLayerTar(w io.Writer, roots []string) error {
	tw := tar.NewWriter(w)
	for _, root := range roots {
		parent := filepath.Dir(root)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(parent, p)
			if err != nil {
				return err
			}
			hdr, err := tar.FileInfoHeader(fi, "")
			if err != nil {
				return err
			}
			hdr.Name = filepath.ToSlash(rel)
			if d.IsDir() {
				hdr.Name = strings.TrimSuffix(hdr.Name, "/") + "/"
			}
			hdr.ModTime, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = treeTime, 0, 0, "", ""
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				return nil
			}
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
			return err
		})
		if err != nil {
			return err
		}
	}
	return tw.Close()
}
