package registrytest

import (
	"io"
	"net/http"
	"strings"
)

// TagDeleteDeletesManifest answers a DELETE of a tag by deleting the
// manifest it points at, by digest, and so every other tag on that
// manifest, as Harbor before 2.0 did: its tag delete called the
// registry's manifest delete (goharbor/harbor#2663, #5421, #6994; "If
// multiple tags refer to the same image, then deleting one tag results in
// the deletion of all tags for that image",
// https://goharbor.io/docs/2.0.0/working-with-projects/working-with-images/pulling-pushing-images/).
// The registry behind the proxy must allow deletes.
func TagDeleteDeletesManifest() Quirk {
	const name = "tag-delete-deletes-manifest"
	return Quirk{Name: name, serve: func(p *QuirkProxy, w http.ResponseWriter, r *http.Request) bool {
		repo, ref, ok := quirkRepo(r.URL.Path, "manifests")
		if !ok || r.Method != http.MethodDelete || strings.Contains(ref, ":") {
			return false
		}
		head, err := http.NewRequestWithContext(r.Context(), http.MethodHead, p.upstream.String()+r.URL.Path, http.NoBody)
		if err != nil {
			return false
		}
		head.Header.Set("Authorization", r.Header.Get("Authorization"))
		head.Header.Set("Accept", Accept)
		resp, err := p.transport.RoundTrip(head)
		if err != nil {
			return false
		}
		resp.Body.Close()
		digest := resp.Header.Get("Docker-Content-Digest")
		if resp.StatusCode != http.StatusOK || digest == "" {
			return false
		}
		del, err := http.NewRequestWithContext(r.Context(), http.MethodDelete, p.upstream.String()+"/v2/"+repo+"/manifests/"+digest, http.NoBody)
		if err != nil {
			return false
		}
		del.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err = p.transport.RoundTrip(del)
		if err != nil {
			http.Error(w, "quirk proxy: "+err.Error(), http.StatusBadGateway)
			return true
		}
		defer resp.Body.Close()
		p.count(name)
		copyHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return true
	}}
}
