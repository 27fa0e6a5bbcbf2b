package cleanup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Docker Hub's registry does not delete tags, so they are deleted through
// the Hub API (https://docs.docker.com/reference/api/hub/latest/):
//
//   - POST /v2/auth/token {"identifier","secret"} -> {"access_token"}
//     https://docs.docker.com/reference/api/hub/latest/operations/AuthCreateAccessToken/
//     (the secret is a password or a personal access token, which is
//     required when SSO is enforced; the token lives 10 minutes; it
//     replaces the deprecated POST /v2/users/login);
//   - DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/ with
//     "Authorization: Bearer <token>", 204 on success: the Hub's own tag
//     delete, the one its web UI and docker/hub-tool use.
//
// Deleting a tag on Hub leaves the manifest, so the index's children stay.

// hubTokens caches one Hub login per user for one Delete call.
type hubTokens struct {
	mu     sync.Mutex
	byUser map[string]hubLogin
}

type hubLogin struct {
	token string
	err   error
}

func (d *Deleter) hubToken(ctx context.Context, s *session, user, password string) (string, error) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if l, ok := s.hub.byUser[user]; ok {
		return l.token, l.err
	}
	token, err := d.hubLogin(ctx, user, password)
	if s.hub.byUser == nil {
		s.hub.byUser = map[string]hubLogin{}
	}
	s.hub.byUser[user] = hubLogin{token: token, err: err}
	return token, err
}

func (d *Deleter) hubLogin(ctx context.Context, user, password string) (string, error) {
	body, err := json.Marshal(map[string]string{"identifier": user, "secret": password})
	if err != nil {
		return "", fmt.Errorf("encoding Docker Hub login: %w", err)
	}
	_, answer, err := d.do(ctx, apiCall{
		service: "Docker Hub",
		method:  http.MethodPost,
		url:     d.o.hubURL + "/v2/auth/token",
		header:  http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}},
		body:    bytes.NewReader(body),
		want:    []int{http.StatusOK},
	})
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(answer, &tok); err != nil {
		return "", fmt.Errorf("decoding Docker Hub login answer: %w", err)
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("docker Hub login answered without an access token")
	}
	return tok.AccessToken, nil
}

// hubDeleteTag deletes tag through the Hub API with the keychain's Docker
// Hub credentials, if it still points at read.
func (d *Deleter) hubDeleteTag(ctx context.Context, s *session, tag name.Tag, read v1.Hash) error {
	const fix = "docker login to Docker Hub with a personal access token that has Read, Write, Delete scope, as an account that may delete tags in the repository"
	auth, err := authn.Resolve(ctx, d.o.keychain, tag.Context().Registry)
	if err != nil {
		return keep(err, "resolving Docker Hub credentials failed", fix)
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return keep(err, "reading Docker Hub credentials failed", fix)
	}
	if cfg.Username == "" || cfg.Password == "" {
		return keep(nil, "no Docker Hub username and password (or access token) in the keychain for the Hub API", fix)
	}
	token, err := d.hubToken(ctx, s, cfg.Username, cfg.Password)
	if err != nil {
		if statusOf(err) != 0 {
			return keep(err, "Docker Hub login failed ("+describe(err)+")", fix)
		}
		return keep(err, "Docker Hub login failed ("+oneLineMax(err.Error(), maxErrorText)+")", "re-run the cleanup later")
	}
	namespace, repo, ok := strings.Cut(tag.Context().RepositoryStr(), "/")
	if !ok {
		return keep(nil, "cannot split "+tag.Context().RepositoryStr()+" into a Docker Hub namespace and repository", "use a NAMESPACE/REPOSITORY reference")
	}
	if err := d.checkUnmoved(ctx, tag, read); err != nil {
		return err
	}
	_, _, err = d.do(ctx, apiCall{
		service: "Docker Hub",
		method:  http.MethodDelete,
		url: d.o.hubURL + "/v2/repositories/" + url.PathEscape(namespace) + "/" + url.PathEscape(repo) +
			"/tags/" + url.PathEscape(tag.TagStr()) + "/",
		header: http.Header{"Authorization": {"Bearer " + token}, "Accept": {"application/json"}},
		want:   []int{http.StatusNoContent, http.StatusOK, http.StatusAccepted},
	})
	switch s := statusOf(err); {
	case err == nil:
		return nil
	case s == http.StatusUnauthorized:
		return keep(err, "Docker Hub rejected the login token (401) deleting the tag", fix)
	case s == http.StatusForbidden:
		return keep(err, "Docker Hub refused to delete the tag (403): the account or token may not delete tags in "+namespace+"/"+repo, fix)
	case s == http.StatusNotFound:
		return keep(err, "Docker Hub API has no such tag (404)", "check the delete-tags entry")
	case s != 0:
		return keep(err, "Docker Hub failed to delete the tag ("+describe(err)+")", "re-run the cleanup later")
	default:
		return keep(err, "calling the Docker Hub API failed ("+oneLineMax(err.Error(), maxErrorText)+")", "re-run the cleanup later")
	}
}
