package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/auth"
	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci/assembly"
	"github.com/oci-assemble/oci-assemble/internal/oci/cleanup"
	"github.com/oci-assemble/oci-assemble/internal/oci/client"
	"github.com/oci-assemble/oci-assemble/internal/oci/plan"
)

// cleanup deletes the temp tags once the index is published and verified
// (or, in a dry run, lists what it would delete). It never fails the run:
// a tag it cannot delete is a warning naming the reason and the fix. Which
// tags go and which stay is cleanup.Request's policy.
func (u *ui) cleanup(ctx context.Context, spec *inputs.Spec, kc *auth.Keychain, rc *client.Client, as *assembly.Assembly) cleanup.Result {
	if !spec.DeleteSourceTags && len(spec.DeleteTags) == 0 {
		return cleanup.Result{}
	}
	u.group("Deleting temp tags")
	defer u.endGroup()

	d, err := cleanup.New(u.cleanupOptions(spec, kc, rc)...)
	if err != nil {
		u.warn(fmt.Sprintf("kept %s: no deletion was tried, the cleanup could not start: %v; fix that setting and re-run", cleanupTargets(spec), err))
		return cleanup.Result{}
	}
	digests, err := as.Digests()
	if err != nil {
		u.warn(fmt.Sprintf("kept %s: no deletion was tried, reading the published digests failed: %v; re-run the job", cleanupTargets(spec), err))
		return cleanup.Result{}
	}
	res, err := d.Clean(ctx, cleanupRequest(spec, digests, as.SourceDigests))
	if err != nil {
		u.warn(fmt.Sprintf("delete-tags: %v", err))
	}
	// The deleter logs each deleted tag, and how, as it goes; a kept tag
	// is one warning with its reason, said here once.
	for _, n := range unmatchedNotes(res.Unmatched) {
		u.annotate("notice", n)
	}
	for _, k := range res.Kept {
		u.warn("tag " + k.String())
	}
	return res
}

// cleanupOptions configures the deleter from the spec: the run's registry
// client, the token the keychain settled on for GitHub's
// API, and GitLab's API in a GitLab CI job.
func (u *ui) cleanupOptions(spec *inputs.Spec, kc *auth.Keychain, rc *client.Client) []cleanup.Option {
	opts := []cleanup.Option{
		cleanup.WithClient(rc),
		cleanup.WithDryRun(!spec.Push),
		cleanup.WithGitHubAPI(spec.GitHubAPI, kc.GitHubToken()),
		cleanup.WithGitHubServer(spec.GitHubServer),
	}
	if gl := spec.GitLab; gl != nil {
		u.mask(gl.JobToken)
		opts = append(opts, cleanup.WithGitLab(gl.Registry, gl.APIURL, gl.ProjectID, gl.JobToken))
	}
	return opts
}

// cleanupRequest translates the spec into a cleanup request: the sources
// (when delete-source-tags is set) with the digest each was read at
// (read, by index of spec.Images), the delete-tags entries, the registry
// tags this run published and the digests it published.
func cleanupRequest(spec *inputs.Spec, protected, read []v1.Hash) cleanup.Request {
	req := cleanup.Request{Patterns: spec.DeleteTags, Protected: protected}
	for _, t := range spec.Tags {
		if t.Transport == plan.Registry && t.Tag != "" {
			req.Published = append(req.Published, t.Repo.Tag(t.Tag))
		}
	}
	if spec.DeleteSourceTags {
		for i, r := range spec.Images {
			s := cleanup.Source{Ref: r.String(), Local: r.Transport != plan.Registry, Repo: r.Repo, Tag: r.Tag}
			if i < len(read) {
				s.Digest = read[i]
			}
			req.Sources = append(req.Sources, s)
		}
	}
	return req
}

// cleanupTargets names what a cleanup that could not start leaves behind:
// the delete-tags entries and, with delete-source-tags, the sources.
func cleanupTargets(spec *inputs.Spec) string {
	names := slices.Clone(spec.DeleteTags)
	if spec.DeleteSourceTags {
		for _, r := range spec.Images {
			names = append(names, r.String())
		}
	}
	return strings.Join(names, ", ")
}

// warn is a ::warning annotation in GitHub, "warning: ..." elsewhere.
func (u *ui) warn(msg string) { u.annotate("warning", msg) }
