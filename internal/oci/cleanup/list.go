package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/oci-assemble/oci-assemble/internal/oci/stack"
)

// ErrListTooLong is wrapped by the error of a listing (a tag list, a
// vendor API's paginated list) that passed one of its bounds: a registry
// or API whose Link pages never end, or that answers more items or bytes
// than any real repository holds, must not run the job until its timeout
// or out of memory.
var ErrListTooLong = errors.New("list exceeds its bound")

// listLimits bound one repository's tag listing.
type listLimits struct {
	// pages is the most pages followed through Link headers.
	pages int
	// tags is the most tag names kept over all pages.
	tags int
	// body is the most bytes read for one page.
	body int64
	// apiPages is the most pages of a vendor API listing (GitHub package
	// versions, GitLab registry repositories) followed; each page's body
	// is bounded by maxAPIBody and its items are not kept.
	apiPages int
}

// defaultListLimits: a page of 1000 tags of 128 characters is about
// 140 KiB, and the largest repositories hold tens of thousands of tags.
var defaultListLimits = listLimits{pages: 1000, tags: 100_000, body: 8 << 20, apiPages: 1000}

// defaultPageSize is the n a listing asks for without WithPageSize, as
// go-containerregistry does.
const defaultPageSize = 1000

// tagPattern is a valid tag
// (https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests):
// a name from a tag list that is not one (a newline, a "digest=" line) is
// the registry's text, not a tag, and is never deleted or reported.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// listTags lists every tag of repo in sorted order; a repository that does
// not exist has none. It follows the Link header
// (https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-tags)
// only on the registry's own scheme and host, within d.o.list's bounds.
// Names that are not valid tags are skipped with one warning.
func (d *Deleter) listTags(ctx context.Context, repo name.Repository) ([]string, error) {
	rt, err := d.readTransport(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	base := repo.Scheme() + "://" + repo.RegistryStr()
	n := d.o.pageSize
	if n <= 0 {
		n = defaultPageSize
	}
	next := base + "/v2/" + repo.RepositoryStr() + "/tags/list?n=" + strconv.Itoa(n)
	var all, invalid []string
	lim := d.o.list
	for page := 0; next != ""; page++ {
		if page == lim.pages {
			return nil, fmt.Errorf("listing tags of %s: %w: the registry sent more than %d pages", repo, ErrListTooLong, lim.pages)
		}
		var tags []string
		tags, next, err = d.listPage(ctx, rt, repo, next, base)
		if err != nil {
			if page == 0 && statusOf(err) == http.StatusNotFound {
				return nil, nil
			}
			return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
		}
		for _, t := range tags {
			if !tagPattern.MatchString(t) {
				invalid = append(invalid, t)
				continue
			}
			all = append(all, t)
		}
		if len(all)+len(invalid) > lim.tags {
			return nil, fmt.Errorf("listing tags of %s: %w: the registry sent more than %d tags", repo, ErrListTooLong, lim.tags)
		}
	}
	if len(invalid) > 0 {
		d.o.logger.Warn("the registry listed names that are not valid tags; skipped them",
			"repository", repo.String(), "count", len(invalid), "first", quoteShort(invalid[0]))
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// listPage GETs one page and returns its tags and the next page's URL.
func (d *Deleter) listPage(ctx context.Context, rt http.RoundTripper, repo name.Repository, u, base string) ([]string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, "", err
	}
	limit := d.o.list.body
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading tag list page: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, "", fmt.Errorf("%w: a page is larger than %d bytes", ErrListTooLong, limit)
	}
	var page struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, "", fmt.Errorf("the tag list is not the distribution spec's JSON: %w", err)
	}
	next, err := stack.NextLink(resp.Header.Get("Link"), req.URL, base)
	if err != nil {
		return nil, "", err
	}
	return page.Tags, next, nil
}

// readTransport authenticates for reading repo with the keychain's
// credentials for its registry.
func (d *Deleter) readTransport(ctx context.Context, repo name.Repository) (http.RoundTripper, error) {
	auth, err := authn.Resolve(ctx, d.o.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("resolving credentials for %s: %w", repo.RegistryStr(), err)
	}
	return transport.NewWithContext(ctx, repo.Registry, auth, d.o.transport, []string{repo.Scope(transport.PullScope)})
}

// quoteShort renders registry text for a log line: at most 64 bytes,
// quoted with every control and non-ASCII character escaped.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.QuoteToASCII(s)
}
