package cleanup

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// GHCR answers 405 to every registry DELETE, so the tombstone is removed as
// a package version through the GitHub REST API:
//
//   - https://docs.github.com/rest/packages/packages#list-package-versions-for-a-package-owned-by-an-organization
//     GET /orgs/{org}/packages/{package_type}/{package_name}/versions
//   - https://docs.github.com/rest/packages/packages#delete-package-version-for-an-organization
//     DELETE /orgs/{org}/packages/{package_type}/{package_name}/versions/{package_version_id} (204)
//   - https://docs.github.com/rest/packages/packages#list-package-versions-for-a-package-owned-by-the-authenticated-user
//     GET /user/packages/{package_type}/{package_name}/versions
//   - https://docs.github.com/rest/packages/packages#delete-a-package-version-for-the-authenticated-user
//     DELETE /user/packages/{package_type}/{package_name}/versions/{package_version_id} (204)
//
// A container version's name is its manifest digest. Lists are paginated
// with per_page (at most 100) and a Link header
// (https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api).
// Deleting needs a token with packages: write (delete:packages for classic
// tokens) and admin on the package; GitHub answers 404 as well as 403 when
// the token may not see or change the package.

const (
	githubAccept     = "application/vnd.github+json"
	githubAPIVersion = "2022-11-28"
)

// ghcrPackage splits a GHCR repository into its owner and URL-escaped
// package name: ghcr.io/o/app/sub is owner o, package app%2Fsub.
func ghcrPackage(repo name.Repository) (owner, pkg string, err error) {
	owner, rest, ok := strings.Cut(repo.RepositoryStr(), "/")
	if !ok || owner == "" || rest == "" {
		return "", "", fmt.Errorf("GHCR repository %s has no package name after its owner", repo)
	}
	return owner, url.PathEscape(rest), nil
}

// ghcrDeleteVersion deletes the package version named by digest h, looking
// in the owner's organization first and in the authenticated user's
// packages when the owner is not an organization.
func (d *Deleter) ghcrDeleteVersion(ctx context.Context, repo name.Repository, h v1.Hash) error {
	if err := d.ghcrReady(repo); err != nil {
		return err
	}
	owner, pkg, err := ghcrPackage(repo)
	if err != nil {
		return err
	}
	var (
		versions string
		id       int64
	)
	scopes := []string{"/orgs/" + url.PathEscape(owner), "/user"}
	for i, scope := range scopes {
		versions = d.o.githubURL + scope + "/packages/container/" + pkg + "/versions"
		id, err = d.findVersion(ctx, versions, h)
		if statusOf(err) != http.StatusNotFound || i == len(scopes)-1 {
			break
		}
		d.o.logger.Debug("not an organization package; trying the authenticated user's", "owner", owner, "package", pkg)
	}
	if err != nil {
		return githubRefusal(err, "list package versions", owner, pkg)
	}
	_, _, err = d.do(ctx, apiCall{
		service: "GitHub",
		method:  http.MethodDelete,
		url:     versions + "/" + strconv.FormatInt(id, 10),
		header:  d.githubHeader(),
		want:    []int{http.StatusNoContent, http.StatusOK, http.StatusAccepted},
	})
	if err != nil {
		return githubRefusal(err, "delete package version", owner, pkg)
	}
	return nil
}

// ghcrReady checks, before a tombstone is pushed, that its package version
// could be deleted at all.
func (d *Deleter) ghcrReady(repo name.Repository) error {
	if d.o.githubToken == "" {
		return keep(nil, "no GitHub token to delete a tombstone's package version",
			"pass a GitHub token with packages: write (set permissions: packages: write)")
	}
	if _, _, err := ghcrPackage(repo); err != nil {
		return keep(err, "cannot name the GitHub package", "use a ghcr.io/OWNER/PACKAGE reference")
	}
	return nil
}

func (d *Deleter) githubHeader() http.Header {
	return http.Header{
		"Accept":               {githubAccept},
		"X-Github-Api-Version": {githubAPIVersion},
		"Authorization":        {"Bearer " + d.o.githubToken},
	}
}

// findVersion lists versions until one is named h, retrying a few times:
// a just-pushed manifest can take a moment to show up as a version.
func (d *Deleter) findVersion(ctx context.Context, versions string, h v1.Hash) (int64, error) {
	for try := 0; ; try++ {
		id, found, err := d.scanVersions(ctx, versions, h)
		if err != nil || found {
			return id, err
		}
		if try+1 >= d.o.pollTries {
			return 0, keep(nil, fmt.Sprintf("the tombstone %s did not show up among the GitHub package versions", h),
				"re-run the cleanup; GitHub may be slow to index new versions")
		}
		if err := sleep(ctx, d.o.pollEvery); err != nil {
			return 0, err
		}
	}
}

func (d *Deleter) scanVersions(ctx context.Context, versions string, h v1.Hash) (int64, bool, error) {
	type version struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	v, found, err := findPaged(ctx, d, "GitHub", "package versions", versions+"?per_page=100", d.githubHeader(),
		func(v version) bool { return v.Name == h.String() })
	return v.ID, found, err
}

// githubRefusal turns a GitHub API failure into the reason and fix a user
// can act on.
func githubRefusal(err error, op, owner, pkg string) error {
	const fix = "set permissions: packages: write for the job, and give this repository the Admin role under the package's settings (Manage Actions access), or use a token with delete:packages"
	pkgName, _ := url.PathUnescape(pkg)
	switch s := statusOf(err); s {
	case http.StatusUnauthorized:
		return keep(err, "GitHub rejected the token (401) trying to "+op, "pass a valid GitHub token")
	case http.StatusForbidden:
		return keep(err, "GitHub refused to "+op+" (403): the token needs packages: write and admin on the package", fix)
	case http.StatusNotFound:
		return keep(err, fmt.Sprintf("GitHub found no package %s owned by %s or by the token's user (404): the token cannot see it, or lacks packages: write and admin on the package", pkgName, owner), fix)
	case 0:
		if _, ok := asKept(err); ok {
			return err
		}
		return keep(err, "calling the GitHub API to "+op+" failed ("+oneLineMax(err.Error(), maxErrorText)+")", "re-run the cleanup later")
	default:
		return keep(err, fmt.Sprintf("GitHub failed to %s (%s)", op, describe(err)), "re-run the cleanup later")
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
