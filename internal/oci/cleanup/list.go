package cleanup

import (
	"context"
	"fmt"
	"net/http"
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
var ErrListTooLong = stack.ErrListTooLong

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

// listTags lists every tag of repo in sorted order; a repository that does
// not exist has none. stack.ListTags follows the Link header only on the
// registry's own scheme and host, within d.o.list's bounds. Names that are
// not valid tags are skipped with one warning.
func (d *Deleter) listTags(ctx context.Context, repo name.Repository) ([]string, error) {
	rt, err := d.readTransport(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	n := d.o.pageSize
	if n <= 0 {
		n = defaultPageSize
	}
	lim := stack.TagLimits{Pages: d.o.list.pages, Tags: d.o.list.tags, PageBytes: d.o.list.body, PageSize: n}
	all, invalid, err := stack.ListTags(ctx, &http.Client{Transport: rt}, repo, lim)
	if err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	if len(invalid) > 0 {
		d.o.logger.Warn("the registry listed names that are not valid tags; skipped them",
			"repository", repo.String(), "count", len(invalid), "first", quoteShort(invalid[0]))
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// readTransport authenticates for reading repo with the keychain's
// credentials for its registry.
func (d *Deleter) readTransport(ctx context.Context, repo name.Repository) (http.RoundTripper, error) {
	if d.o.client != nil {
		cl, err := d.o.client.Pull(ctx, repo)
		if err != nil {
			return nil, err
		}
		return cl.Transport, nil
	}
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
