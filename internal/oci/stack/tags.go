package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrListTooLong is wrapped by the error of a listing that passed one of
// its bounds: a registry or API whose Link pages never end, or that
// answers more names or bytes than any real repository holds, must not
// run the job until its timeout or out of memory.
var ErrListTooLong = errors.New("list exceeds its bound")

// TagLimits bound one repository's tag list.
type TagLimits struct {
	// Pages is the most pages followed through Link headers.
	Pages int
	// Tags is the most names kept over all pages, valid or not.
	Tags int
	// PageBytes is the most bytes read for one page.
	PageBytes int64
	// PageSize is the n each page asks for; 0 leaves it to the registry.
	PageSize int
}

// DefaultTagLimits: a page of 1000 tags of 128 characters is about
// 140 KiB, and the largest repositories hold tens of thousands of tags.
var DefaultTagLimits = TagLimits{Pages: MaxPages, Tags: 100_000, PageBytes: 8 << 20, PageSize: 1000}

// tagPattern is a valid tag
// (https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests).
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// ValidTag reports whether s is a tag as the distribution spec defines
// one. A name from a tag list that is not (a newline, a "digest=" line)
// is the registry's text, never a tag to read, delete or report.
func ValidTag(s string) bool { return tagPattern.MatchString(s) }

// ListTags lists repo's tags through client, in the registry's order,
// following the Link header
// (https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-tags)
// only on the registry's own scheme and host (Pages), within lim. Names
// that are not valid tags are returned apart, in invalid. A repository
// the registry does not know (404 on the first page) has no tags. Past a
// bound the error wraps ErrListTooLong and the names read so far are
// returned with it; an answer that is not a tag list keeps its
// *transport.Error or says it is not the spec's JSON.
func ListTags(ctx context.Context, client *http.Client, repo name.Repository, lim TagLimits) (tags, invalid []string, err error) {
	first := repo.Scheme() + "://" + repo.RegistryStr() + "/v2/" + repo.RepositoryStr() + "/tags/list"
	if lim.PageSize > 0 {
		first += "?n=" + strconv.Itoa(lim.PageSize)
	}
	pages := 0
	err = Pages(ctx, first, lim.Pages, func(ctx context.Context, u string) (http.Header, error) {
		pages++
		names, h, err := tagPage(ctx, client, u, lim.PageBytes)
		if err != nil {
			return nil, err
		}
		for _, t := range names {
			if ValidTag(t) {
				tags = append(tags, t)
			} else {
				invalid = append(invalid, t)
			}
		}
		if len(tags)+len(invalid) > lim.Tags {
			return nil, fmt.Errorf("%w: the registry sent more than %d tags", ErrListTooLong, lim.Tags)
		}
		return h, nil
	})
	var te *transport.Error
	switch {
	case err == nil:
	case pages == 1 && errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return nil, nil, nil
	case errors.Is(err, ErrTooManyPages):
		err = fmt.Errorf("%w: %w", ErrListTooLong, err)
	}
	return tags, invalid, err
}

// tagPage GETs one page of a tag list, at most limit bytes of it.
func tagPage(ctx context.Context, client *http.Client, u string, limit int64) ([]string, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading a tag list page: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("%w: a tag list page is larger than %d bytes", ErrListTooLong, limit)
	}
	var page struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, nil, fmt.Errorf("the tag list is not the distribution spec's JSON: %w", err)
	}
	return page.Tags, resp.Header, nil
}
