package cleanup

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/oci-assemble/oci-assemble/internal/hosts"
)

// ErrInvalidPattern is wrapped by Expand's error for a delete-tags entry
// that is neither a reference with a tag nor a tag glob.
var ErrInvalidPattern = errors.New("invalid delete-tags entry")

// pattern is one parsed delete-tags entry.
type pattern struct {
	raw    string
	repo   name.Repository
	tag    name.Tag // when literal
	glob   string   // when the tag part is a path.Match pattern
	digest bool     // REPOSITORY@DIGEST: never deleted
}

// globChars are the path.Match metacharacters allowed in a tag pattern, on
// top of the tag characters [A-Za-z0-9_.-].
const globChars = `*?[]^\`

// parsePattern parses "REPOSITORY:TAG", "REPOSITORY:GLOB" (path.Match
// syntax in the tag part) or "REPOSITORY@DIGEST". A missing tag is an
// error rather than "latest": cleanup must never guess what to delete.
// References on an insecure host are marked for plain HTTP, as the images
// and tags inputs are: without that, go-containerregistry would list and
// delete over HTTPS on a registry named by DNS.
func parsePattern(raw string, insecure hosts.Insecure) (pattern, error) {
	s := strings.TrimSpace(raw)
	bad := func(format string, args ...any) (pattern, error) {
		return pattern{}, fmt.Errorf("%w %q: %s", ErrInvalidPattern, raw, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return bad("empty")
	}
	if strings.Contains(s, "@") {
		d, err := name.NewDigest(s)
		if err != nil {
			return bad("%v", err)
		}
		return pattern{raw: s, repo: insecure.Repository(d.Context()), digest: true}, nil
	}
	colon := strings.LastIndexByte(s, ':')
	if colon <= strings.LastIndexByte(s, '/') {
		return bad("no tag; write REPOSITORY:TAG (a glob such as app:tmp-* is allowed in the tag)")
	}
	repoPart, tagPart := s[:colon], s[colon+1:]
	repo, err := name.NewRepository(repoPart)
	if err != nil {
		return bad("%v", err)
	}
	repo = insecure.Repository(repo)
	if !strings.ContainsAny(tagPart, globChars) {
		tag, err := name.NewTag(s)
		if err != nil {
			return bad("%v", err)
		}
		return pattern{raw: s, repo: repo, tag: insecure.Tag(tag)}, nil
	}
	if len(tagPart) > 128 {
		return bad("tag pattern longer than 128 characters")
	}
	for _, c := range tagPart {
		if !isTagChar(c) && !strings.ContainsRune(globChars, c) {
			return bad("character %q cannot appear in a tag or tag pattern", c)
		}
	}
	if _, err := path.Match(tagPart, ""); err != nil {
		return bad("tag pattern: %v", err)
	}
	return pattern{raw: s, repo: repo, glob: tagPart}, nil
}

func isTagChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// Expand turns delete-tags entries into tags. Every entry is validated
// before the first network call; an invalid one fails Expand with an error
// wrapping ErrInvalidPattern. Globs in the tag part (path.Match syntax,
// "reg/o/app:tmp-*") are matched against the repository's tag list,
// following the registry's Link pagination within bounds (listTags). Digest references and
// repositories whose tags cannot be listed come back as Kept. The tags are
// in entry order, without duplicates.
func (d *Deleter) Expand(ctx context.Context, patterns []string) ([]name.Tag, []Kept, error) {
	e, err := d.expand(ctx, patterns)
	return e.tags, e.kept, err
}

// expansion is what expand found: the tags, the entries kept, and the
// globs that matched no tag (a typo in a pattern would otherwise delete
// nothing, silently).
type expansion struct {
	tags      []name.Tag
	kept      []Kept
	unmatched []string
}

func (d *Deleter) expand(ctx context.Context, patterns []string) (expansion, error) {
	parsed := make([]pattern, 0, len(patterns))
	var errs []error
	for _, raw := range patterns {
		p, err := parsePattern(raw, d.o.insecure)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		parsed = append(parsed, p)
	}
	if err := errors.Join(errs...); err != nil {
		return expansion{}, err
	}

	var (
		tags      []name.Tag
		kept      []Kept
		unmatched []string
		seen      = map[string]bool{}
		list      = map[string][]string{} // repository -> tags, listed once
	)
	add := func(t name.Tag) {
		if !seen[t.Name()] {
			seen[t.Name()] = true
			tags = append(tags, t)
		}
	}
	for _, p := range parsed {
		switch {
		case p.digest:
			kept = append(kept, Kept{
				Ref:    p.raw,
				Reason: "a digest reference is never deleted: that would delete the manifest for every tag and index using it",
				Fix:    "list the temporary tag (REPOSITORY:TAG) instead",
			})
		case p.glob == "" && isReferrerTag(p.tag.TagStr()):
			kept = append(kept, Kept{
				Ref:    p.raw,
				Reason: "a referrers tag (the signatures, SBOMs and attestations of an image) is never deleted",
				Fix:    "remove it from delete-tags",
			})
		case p.glob == "":
			add(p.tag)
		default:
			all, ok := list[p.repo.String()]
			if !ok {
				var err error
				all, err = d.listTags(ctx, p.repo)
				if err != nil {
					kept = append(kept, Kept{
						Ref:    p.raw,
						Reason: "listing the tags of " + p.repo.String() + " failed (" + describe(err) + ")",
						Fix:    fixFor(err, p.repo),
					})
					continue
				}
				list[p.repo.String()] = all
			}
			n := 0
			for _, t := range all {
				if isReferrerTag(t) {
					continue // never deleted: see isReferrerTag
				}
				if ok, _ := path.Match(p.glob, t); ok {
					add(p.repo.Tag(t))
					n++
				}
			}
			d.o.logger.Info("expanded tag pattern", "pattern", p.raw, "matches", n)
			if n == 0 {
				unmatched = append(unmatched, p.raw)
			}
		}
	}
	return expansion{tags: tags, kept: kept, unmatched: unmatched}, nil
}

// CheckPattern validates one delete-tags entry without any network call,
// so input checks can reject it before anything is written.
func CheckPattern(raw string) error {
	_, err := parsePattern(raw, hosts.Insecure{})
	return err
}
