package cleanup

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pickCase is one case of Request.pick: the request, what Expand found,
// and the tags and kept lines wanted.
type pickCase struct {
	name       string
	req        func(t *testing.T) Request
	expanded   []string
	expandKept []Kept
	wantTags   []string
	wantKept   []string
}

func runPick(t *testing.T, tests []pickCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var expanded []name.Tag
			for _, s := range tt.expanded {
				expanded = append(expanded, mustTag(t, s))
			}
			tags, kept := tt.req(t).pick(expanded, tt.expandKept)
			var gotTags, gotKept []string
			for _, tag := range tags {
				gotTags = append(gotTags, tag.tag.String())
			}
			for _, k := range kept {
				gotKept = append(gotKept, k.String())
			}
			if !slices.Equal(gotTags, tt.wantTags) {
				t.Errorf("tags = %q, want %q", gotTags, tt.wantTags)
			}
			if !slices.Equal(gotKept, tt.wantKept) {
				t.Errorf("kept = %q, want %q", gotKept, tt.wantKept)
			}
		})
	}
}

// TestRequestPickSources covers delete-source-tags: registry sources by
// tag go, digest-only sources have nothing to delete, files and layouts
// are kept.
func TestRequestPickSources(t *testing.T) {
	t.Parallel()
	runPick(t, []pickCase{{
		name: "source tags in order, digest-only sources skipped",
		req: func(t *testing.T) Request {
			return Request{Sources: []Source{
				{Ref: "reg.example/o/app:tmp-amd64", Repo: mustRepo(t, "reg.example/o/app"), Tag: "tmp-amd64"},
				{Ref: "reg.example/o/app@sha256:abc", Repo: mustRepo(t, "reg.example/o/app")},
				{Ref: "reg.example/o/app:tmp-arm64", Repo: mustRepo(t, "reg.example/o/app"), Tag: "tmp-arm64"},
			}}
		},
		wantTags: []string{"reg.example/o/app:tmp-amd64", "reg.example/o/app:tmp-arm64"},
	}, {
		name: "files and layouts are kept with a reason",
		req: func(t *testing.T) Request {
			return Request{Sources: []Source{
				{Ref: "oci:build/amd64", Local: true},
				{Ref: "reg.example/o/app:tmp", Repo: mustRepo(t, "reg.example/o/app"), Tag: "tmp"},
				{Ref: "docker-archive:arm64.tar", Local: true},
			}}
		},
		wantTags: []string{"reg.example/o/app:tmp"},
		wantKept: []string{
			"oci:build/amd64 kept: only registry tags are deleted; remove the file or layout yourself",
			"docker-archive:arm64.tar kept: only registry tags are deleted; remove the file or layout yourself",
		},
	}})
}

// TestRequestPickPublished covers the tags this run published, which are
// never deleted, and one tag however it is spelled.
func TestRequestPickPublished(t *testing.T) {
	t.Parallel()
	digestKept := Kept{Ref: "reg.example/o/app@sha256:abc", Reason: "a digest", Fix: "a tag"}
	runPick(t, []pickCase{{
		name: "a published tag is never deleted, even when a glob matches it",
		req: func(t *testing.T) Request {
			return Request{
				Sources:   []Source{{Ref: "reg.example/o/app:latest", Repo: mustRepo(t, "reg.example/o/app"), Tag: "latest"}},
				Published: []name.Tag{mustTag(t, "reg.example/o/app:latest"), mustTag(t, "reg.example/o/app:tmp-keep")},
			}
		},
		expanded: []string{"reg.example/o/app:tmp-a", "reg.example/o/app:tmp-keep"},
		wantTags: []string{"reg.example/o/app:tmp-a"},
		wantKept: []string{
			"reg.example/o/app:latest kept: this run published it; remove it from delete-tags or tags",
			"reg.example/o/app:tmp-keep kept: this run published it; remove it from delete-tags or tags",
		},
	}, {
		name: "one tag however Docker Hub is spelled",
		req: func(t *testing.T) Request {
			return Request{
				Sources:   []Source{{Ref: "docker.io/o/app:tmp", Repo: mustRepo(t, "docker.io/o/app"), Tag: "tmp"}},
				Published: []name.Tag{mustTag(t, "docker.io/o/app:v1")},
			}
		},
		expanded: []string{"index.docker.io/o/app:tmp", "o/app:tmp", "index.docker.io/o/app:v1"},
		wantTags: []string{"index.docker.io/o/app:tmp"},
		wantKept: []string{"index.docker.io/o/app:v1 kept: this run published it; remove it from delete-tags or tags"},
	}, {
		name: "a published tag matched twice is kept once",
		req: func(t *testing.T) Request {
			return Request{Published: []name.Tag{mustTag(t, "reg.example/o/app:v1")}}
		},
		expanded: []string{"reg.example/o/app:v1", "reg.example/o/app:v1"},
		wantKept: []string{"reg.example/o/app:v1 kept: this run published it; remove it from delete-tags or tags"},
	}, {
		name: "expand's kept entries come after the sources', before the expanded tags'",
		req: func(t *testing.T) Request {
			return Request{
				Sources:   []Source{{Ref: "oci:x", Local: true}},
				Published: []name.Tag{mustTag(t, "reg.example/o/app:v1")},
			}
		},
		expanded:   []string{"reg.example/o/app:v1"},
		expandKept: []Kept{digestKept},
		wantKept: []string{
			"oci:x kept: only registry tags are deleted; remove the file or layout yourself",
			digestKept.String(),
			"reg.example/o/app:v1 kept: this run published it; remove it from delete-tags or tags",
		},
	}})
}

// TestClean runs a whole request against ggcr's registry: the source tags
// and a glob's matches are deleted, the tag this run published survives
// though the glob matches it, and no protected digest is deleted.
func TestClean(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, nil)
	p := publish(t, reg.host, "o/app")
	if err := remoteTag(p.tmpTags[0], p.repo.Tag("tmp-extra")); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	d, err := New(WithTransport(rec), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	req := Request{
		Sources: []Source{
			{Ref: p.tmpTags[0].String(), Repo: p.repo, Tag: "tmp-amd64"},
			{Ref: "oci:out", Local: true},
		},
		Patterns:  []string{reg.host + "/o/app:tmp-*", reg.host + "/o/app:latest"},
		Published: []name.Tag{p.repo.Tag("latest")},
	}
	for h := range p.protected() {
		req.Protected = append(req.Protected, h)
	}
	res, err := d.Clean(context.Background(), req)
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	want := []string{p.tmpTags[0].String(), p.tmpTags[1].String(), p.repo.Tag("tmp-extra").String()}
	if got := res.Deleted; !slices.Equal(got, want) {
		t.Errorf("Deleted = %v, want %v", got, want)
	}
	var kept []string
	for _, k := range res.Kept {
		kept = append(kept, k.String())
	}
	wantKept := []string{
		"oci:out kept: only registry tags are deleted; remove the file or layout yourself",
		p.repo.Tag("latest").String() + " kept: this run published it; remove it from delete-tags or tags",
	}
	if !slices.Equal(kept, wantKept) {
		t.Errorf("Kept = %q, want %q", kept, wantKept)
	}
	if code, _ := reg.get(t, "o/app", "latest"); code != 200 {
		t.Errorf("GET latest = %d, want 200", code)
	}
	assertNoProtectedDeleted(t, rec, p.protected())
}

// TestCleanDryRun lists what a request would delete and writes nothing.
func TestCleanDryRun(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, nil)
	p := publish(t, reg.host, "o/dry")
	rec := newRecorder()
	d, err := New(WithTransport(rec), WithDryRun(true), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Clean(context.Background(), Request{Patterns: []string{reg.host + "/o/dry:tmp-*"}})
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	if got, want := res.WouldDelete, tagStrings(p.tmpTags); !slices.Equal(got, want) {
		t.Errorf("WouldDelete = %v, want %v", got, want)
	}
	if n := writes(rec); n != 0 {
		t.Errorf("dry run sent %d writing requests, want 0", n)
	}
}

// TestCleanBadPattern still deletes the sources' tags when a delete-tags
// entry is invalid, and returns the entry's error.
func TestCleanBadPattern(t *testing.T) {
	t.Parallel()
	reg := newMemRegistry(t, nil)
	p := publish(t, reg.host, "o/bad")
	d, err := New(WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Clean(context.Background(), Request{
		Sources:  []Source{{Ref: p.tmpTags[0].String(), Repo: p.repo, Tag: "tmp-amd64"}},
		Patterns: []string{reg.host + "/o/bad"},
	})
	if !errors.Is(err, ErrInvalidPattern) {
		t.Errorf("Clean error = %v, want ErrInvalidPattern", err)
	}
	if got, want := res.Deleted, []string{p.tmpTags[0].String()}; !slices.Equal(got, want) {
		t.Errorf("Deleted = %v, want %v", got, want)
	}
}
