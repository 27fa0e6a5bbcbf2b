package cleanup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// GitLab 16.4 and later (with the container registry metadata database)
// delete tags with the OCI tag DELETE. Older instances refuse it; there the
// GitLab REST API deletes the tag
// (https://docs.gitlab.com/api/container_registry/):
//
//   - GET /projects/:id/registry/repositories, paginated with per_page and a
//     Link header (https://docs.gitlab.com/api/rest/#pagination), to find
//     the repository whose path is the image's;
//   - DELETE /projects/:id/registry/repositories/:repository_id/tags/:tag_name
//     (https://docs.gitlab.com/api/container_registry/#delete-a-registry-repository-tag).
//
// Requests carry the CI job token in the JOB-TOKEN header
// (https://docs.gitlab.com/ci/jobs/ci_job_token/). Current GitLab removes
// only the named tag (long ago it deleted the manifest and every tag on it,
// gitlab-org/gitlab#34510); should a published manifest vanish anyway,
// ensureSurvived puts it back by digest.

func (d *Deleter) gitlabHeader() http.Header {
	return http.Header{"JOB-TOKEN": {d.o.gitlabJobToken}, "Accept": {"application/json"}}
}

func (d *Deleter) gitlabProjectURL() string {
	return d.o.gitlabAPI + "/projects/" + url.PathEscape(d.o.gitlabProject)
}

// gitlabFallback runs once the registry refused the OCI tag DELETE (its
// answer is refusal): the GitLab API deletes the tag and, when the API
// cannot be called (WithGitLab without a usable API URL, project or job
// token) or fails (unreachable from the job, the job token refused), the
// registry's own way is tried too: the tombstone, which GitLab's registry
// allows where manifest deletes are enabled. A tag is kept only when
// every way failed, and its reason names each way tried and why it
// failed.
func (d *Deleter) gitlabFallback(ctx context.Context, tag name.Tag, desc *remote.Descriptor, protected map[v1.Hash]bool, refusal string) (string, error) {
	var (
		apiFailed *keptError
		apiWhy    string
	)
	if len(d.o.gitlabUnusable) == 0 {
		err := d.gitlabDeleteTag(ctx, tag, desc.Digest)
		if err == nil {
			return "GitLab API", nil
		}
		apiFailed, _ = asKept(err)
		if errors.Is(err, ErrTagMoved) || ctx.Err() != nil {
			return "", err
		}
		apiWhy = "the GitLab API failed: " + apiFailed.reason
		d.o.logger.Debug("GitLab API failed; trying the tombstone", "ref", tag.String(), "err", err)
	} else {
		apiWhy = "the GitLab API was not tried (" + strings.Join(d.o.gitlabUnusable, ", ") + ")"
	}
	err := d.viaTombstone(ctx, tag, desc, protected, refusal, func(ctx context.Context, h v1.Hash) error {
		return d.deleteByDigest(ctx, tag.Context(), h)
	})
	if err == nil {
		return "tombstone; " + apiWhy, nil
	}
	ke, _ := asKept(err)
	if apiFailed == nil {
		return "", keep(ke.err, ke.reason+"; "+apiWhy,
			"run the cleanup in a GitLab CI job, which sets CI_API_V4_URL, CI_PROJECT_ID and CI_JOB_TOKEN, or "+gitlabUpgrade)
	}
	if errors.Is(err, ErrTagMoved) {
		return "", err
	}
	return "", keep(errors.Join(apiFailed.err, ke.err), ke.reason+"; "+apiWhy, apiFailed.fix)
}

const gitlabUpgrade = "upgrade GitLab to 16.4 or later with the registry metadata database (OCI tag delete), or let a cleanup policy remove the tag"

// gitlabDeleteTag deletes tag through the GitLab API, if it still points
// at read; a failure is a *keptError.
func (d *Deleter) gitlabDeleteTag(ctx context.Context, tag name.Tag, read v1.Hash) error {
	id, err := d.gitlabRepositoryID(ctx, tag.Context())
	if err != nil {
		return gitlabRefusal(err, "list the project's registry repositories")
	}
	if err := d.checkUnmoved(ctx, tag, read); err != nil {
		return err
	}
	_, _, err = d.do(ctx, apiCall{
		service: "GitLab",
		method:  http.MethodDelete,
		url: d.gitlabProjectURL() + "/registry/repositories/" + strconv.FormatInt(id, 10) +
			"/tags/" + url.PathEscape(tag.TagStr()),
		header: d.gitlabHeader(),
		want:   []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent},
	})
	if err != nil {
		return gitlabRefusal(err, "delete the tag")
	}
	return nil
}

// gitlabRepositoryID finds the project's registry repository for repo.
func (d *Deleter) gitlabRepositoryID(ctx context.Context, repo name.Repository) (int64, error) {
	type repository struct {
		ID   int64  `json:"id"`
		Path string `json:"path"`
	}
	r, found, err := findPaged(ctx, d, "GitLab", "registry repositories", d.gitlabProjectURL()+"/registry/repositories?per_page=100",
		d.gitlabHeader(), func(r repository) bool { return strings.EqualFold(r.Path, repo.RepositoryStr()) })
	if err != nil || found {
		return r.ID, err
	}
	return 0, keep(nil, fmt.Sprintf("GitLab project %s has no registry repository %s", d.o.gitlabProject, repo.RepositoryStr()),
		"check that the image belongs to the project in CI_PROJECT_ID")
}

func gitlabRefusal(err error, op string) error {
	switch s := statusOf(err); {
	case s == http.StatusUnauthorized:
		return keep(err, fmt.Sprintf("GitLab rejected the job token (401) trying to %s", op), "pass this job's CI_JOB_TOKEN")
	case s == http.StatusForbidden:
		return keep(err, fmt.Sprintf("GitLab refused to %s (%d): this instance does not let the CI job token manage registry tags", op, s), gitlabUpgrade)
	case s == http.StatusNotFound:
		return keep(err, fmt.Sprintf("GitLab API found no such project, repository or tag trying to %s (404)", op), "check CI_PROJECT_ID and the delete-tags entry")
	case s != 0:
		return keep(err, fmt.Sprintf("GitLab failed to %s (%s)", op, describe(err)), "re-run the cleanup later")
	}
	if _, ok := asKept(err); ok {
		return err
	}
	return keep(err, "the GitLab API could not be reached to "+op+" ("+oneLineMax(err.Error(), maxErrorText)+")",
		"check that CI_API_V4_URL is reachable from the job, or re-run the cleanup later")
}
