package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// MaxPages is the page count Pages is meant to be called with where a
// listing has no bound of its own: a thousand pages of a hundred entries
// is more tags or versions than any repository a release touches holds,
// and a registry that pages on past it is not listing anything.
const MaxPages = 1000

// ErrTooManyPages is returned by Pages for a listing that has a next page
// past its bound, or that links back to a page it already sent.
var ErrTooManyPages = errors.New("the listing has more pages than the bound")

// Pages walks a listing paginated with Link headers (RFC 8288; the
// distribution spec's tag and referrer lists, and the GitHub, GitLab and
// Docker Hub APIs). It calls page with the URL of each page, from first,
// and follows the rel="next" link of the header page returns, resolved
// against that page's URL. It ends without error at a page that has no
// next, and with an error at a link that leaves first's scheme and host
// (see NextLink), at a page it has fetched already, after maxPages pages
// that still have a next (ErrTooManyPages), or when ctx is done.
func Pages(ctx context.Context, first string, maxPages int, page func(ctx context.Context, u string) (http.Header, error)) error {
	start, err := url.Parse(first)
	if err != nil {
		return fmt.Errorf("parsing the listing's URL: %w", err)
	}
	base := start.Scheme + "://" + start.Host
	seen := map[string]bool{}
	for u, n := first, 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		seen[u] = true
		h, err := page(ctx, u)
		if err != nil {
			return err
		}
		cur, err := url.Parse(u)
		if err != nil {
			return err
		}
		next, err := NextLink(h.Get("Link"), cur, base)
		switch {
		case err != nil:
			return err
		case next == "":
			return nil
		case seen[next]:
			// A loop is a listing without end, like one past maxPages.
			return fmt.Errorf("%w: page %d of %s links back to %s", ErrTooManyPages, n, withoutQuery(start), withoutQuery(cur))
		case n >= maxPages:
			return fmt.Errorf("%w: %s has more than %d pages", ErrTooManyPages, withoutQuery(start), maxPages)
		}
		u = next
	}
}

// NextLink returns the rel="next" target of an RFC 8288 Link header,
// resolved against the request URL. It returns "" when there is none, and
// an error when the target leaves base's scheme and host: pages are fetched
// with a token (a vendor API's, a registry's), which must not be sent
// anywhere else. It serves every paginated listing: the GitHub, GitLab and
// Docker Hub APIs and the registry's referrers list.
func NextLink(header string, request *url.URL, base string) (string, error) {
	for _, part := range splitLinks(header) {
		part = strings.TrimSpace(part)
		if !strings.HasPrefix(part, "<") {
			continue
		}
		end := strings.IndexByte(part, '>')
		if end < 0 {
			continue
		}
		target, params := part[1:end], part[end+1:]
		if !hasRelNext(params) {
			continue
		}
		u, err := url.Parse(target)
		if err != nil {
			return "", fmt.Errorf("parsing Link target %q: %w", target, err)
		}
		if request != nil {
			u = request.ResolveReference(u)
		}
		b, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("parsing API base %q: %w", base, err)
		}
		if u.Scheme != b.Scheme || !strings.EqualFold(u.Host, b.Host) {
			return "", fmt.Errorf("next page %s is not on %s://%s; refusing to send the token there", withoutQuery(u), b.Scheme, b.Host)
		}
		return u.String(), nil
	}
	return "", nil
}

// splitLinks splits a Link header on the commas between links, not the ones
// inside <...> targets or quoted parameters.
func splitLinks(h string) []string {
	var parts []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '"' && depth == 0:
			quoted = !quoted
		case c == '<' && !quoted:
			depth++
		case c == '>' && !quoted && depth > 0:
			depth--
		case c == ',' && depth == 0 && !quoted:
			parts = append(parts, h[start:i])
			start = i + 1
		}
	}
	return append(parts, h[start:])
}

func hasRelNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}

// withoutQuery renders u without its query, which some APIs accept tokens
// in.
func withoutQuery(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	return c.String()
}
