package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/oci-assemble/oci-assemble/internal/auth"
	"github.com/oci-assemble/oci-assemble/internal/inputs"
	"github.com/oci-assemble/oci-assemble/internal/oci"
	"github.com/oci-assemble/oci-assemble/internal/oci/cleanup"
)

// cleaned is what cleanup did, for the outputs.
type cleaned struct {
	Deleted     []string
	WouldDelete []string
	Kept        []cleanup.Kept
}

// cleanup deletes the temp tags once the index is published and verified
// (or, in a dry run, lists what it would delete). It never fails the run:
// a tag it cannot delete is a warning naming the reason and the fix.
func (u *ui) cleanup(ctx context.Context, spec *inputs.Spec, kc *auth.Keychain, asm *oci.Assembler, as *oci.Assembly) cleaned {
	var out cleaned
	if !spec.DeleteSourceTags && len(spec.DeleteTags) == 0 {
		return out
	}
	u.group("Deleting temp tags")
	defer u.endGroup()

	opts := []cleanup.Option{
		cleanup.WithKeychain(kc),
		cleanup.WithTransport(asm.Transport()),
		cleanup.WithRemoteOptions(asm.RetryOptions()...),
		cleanup.WithLogger(u.logger),
		cleanup.WithDryRun(!spec.Push),
		cleanup.WithInsecureRegistries(spec.InsecureRegistries),
		cleanup.WithGitHubServer(u.e.getenv("GITHUB_SERVER_URL")),
	}
	api := u.e.getenv("GITHUB_API_URL")
	if api == "" {
		api = "https://api.github.com"
	}
	opts = append(opts, cleanup.WithGitHubAPI(api, spec.GitHubToken))
	if reg := u.e.getenv("CI_REGISTRY"); reg != "" && u.e.getenv("CI_API_V4_URL") != "" {
		u.mask(u.e.getenv("CI_JOB_TOKEN"))
		opts = append(opts, cleanup.WithGitLab(reg, u.e.getenv("CI_API_V4_URL"), u.e.getenv("CI_PROJECT_ID"), u.e.getenv("CI_JOB_TOKEN")))
	}
	d, err := cleanup.New(opts...)
	if err != nil {
		u.warn(fmt.Sprintf("cleanup skipped: %v", err))
		return out
	}

	// Tags this run published are never deleted, even when a glob in
	// delete-tags matches them.
	published := map[string]bool{}
	for _, t := range spec.Tags {
		if t.Transport == oci.Registry && t.Tag != "" {
			published[tagKey(t.Repo.Tag(t.Tag))] = true
		}
	}
	var tags []name.Tag
	seen := map[string]bool{}
	add := func(t name.Tag) {
		switch k := tagKey(t); {
		case seen[k]:
		case published[k]:
			seen[k] = true
			out.Kept = append(out.Kept, cleanup.Kept{Ref: t.String(), Reason: "this run published it", Fix: "remove it from delete-tags or tags"})
		default:
			seen[k] = true
			tags = append(tags, t)
		}
	}
	if spec.DeleteSourceTags {
		for _, r := range spec.Images {
			switch {
			case r.Transport != oci.Registry:
				out.Kept = append(out.Kept, cleanup.Kept{Ref: r.String(), Reason: "only registry tags are deleted", Fix: "remove the file or layout yourself"})
			case r.Tag != "":
				add(r.Repo.Tag(r.Tag))
			}
		}
	}
	if len(spec.DeleteTags) > 0 {
		expanded, kept, err := d.Expand(ctx, spec.DeleteTags)
		if err != nil {
			u.warn(fmt.Sprintf("delete-tags: %v", err))
		}
		out.Kept = append(out.Kept, kept...)
		for _, t := range expanded {
			add(t)
		}
	}

	digests, err := as.Digests()
	if err != nil {
		u.warn(fmt.Sprintf("cleanup skipped: %v", err))
		return out
	}
	protected := map[v1.Hash]bool{}
	for _, h := range digests {
		protected[h] = true
	}
	res := d.Delete(ctx, tags, protected)
	out.Deleted, out.WouldDelete = res.Deleted, res.WouldDelete
	out.Kept = append(out.Kept, res.Kept...)
	for _, t := range out.Deleted {
		u.logger.Info("deleted", "tag", t)
	}
	for _, t := range out.WouldDelete {
		u.logger.Info("dry run: would delete", "tag", t)
	}
	for _, k := range out.Kept {
		u.warn("tag " + k.String())
	}
	return out
}

// tagKey identifies a tag across spellings (docker.io and index.docker.io).
func tagKey(t name.Tag) string {
	return t.RegistryStr() + "/" + t.RepositoryStr() + ":" + t.TagStr()
}

// warn is a ::warning annotation in GitHub, "warning: ..." elsewhere.
func (u *ui) warn(msg string) {
	if u.github {
		u.gha.Warningf("%s", msg)
		return
	}
	fmt.Fprintf(u.e.stderr, "warning: %s\n", msg)
}
