package test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/oci-assemble/oci-assemble/internal/registrytest"
)

// Fault injection: each run goes through proxies that fail a seeded 15%
// of requests in front of real registries. Runs may fail, rarely; what
// they leave behind must always be whole.
const (
	faultRuns = 20   // per mode, each with its own seed
	faultRate = 0.15 // of requests failed
	// faultMinSuccess is the share of runs that must succeed despite it.
	faultMinSuccess = 0.9
)

// faultEnv is what every run shares: two real registries, read directly
// for checks, and the source images pushed straight to A.
type faultEnv struct {
	a, b    *registrytest.Registry
	sources []faultSource
}

// faultSource is an image on A that runs read and must never lose.
type faultSource struct {
	repo, ref, digest string
}

// faultRun is one run: fresh proxies in front of A and B, seeded.
type faultRun struct {
	env    *faultEnv
	seed   int64
	pa, pb *registrytest.FaultProxy
}

// faultTarget is a tag a run may move.
type faultTarget struct {
	reg       *registrytest.Registry
	repo, tag string
	before    string // its digest before the run; "" when absent
}

// faultMode is one kind of job run through the proxies. A layer-mode job
// is another entry in faultModes with its own prepare.
type faultMode struct {
	name string
	// prepare seeds what the run starts from and returns the action's
	// inputs (without insecure-registries) and the tags it may move.
	prepare func(t *testing.T, r *faultRun) (map[string]string, []faultTarget)
}

func faultModes() []faultMode {
	return []faultMode{{name: "join", prepare: prepareJoin}, {name: "layer", prepare: prepareLayer}}
}

// prepareLayer builds onto a base read through the proxy: 2 MiB of
// incompressible files streamed as a new layer while faults hit the
// upload, published on A and copied to B (the base's layers cross
// registries through the faults too).
func prepareLayer(t *testing.T, r *faultRun) (map[string]string, []faultTarget) {
	t.Helper()
	data := make([]byte, 2<<20)
	rng := rand.NewChaCha8([32]byte{byte(r.seed)})
	_, _ = rng.Read(data)
	ws := workspace(t, map[string]string{"app/blob.bin": string(data), "app/VERSION": fmt.Sprint(r.seed)}, nil)
	out := fmt.Sprintf("o/layer-%d", r.seed)
	src := r.env.sources[0]
	return map[string]string{
			"base":   r.pa.Host + "/" + src.repo + "@" + src.digest,
			"layers": "- files: [\"" + ws + "/app/:/srv/app/\"]",
			"env":    "FAULT_SEED=" + fmt.Sprint(r.seed),
			"tags":   r.pa.Host + "/" + out + ":1\n" + r.pb.Host + "/mirror/layer-" + fmt.Sprint(r.seed) + ":1",
		}, []faultTarget{
			{reg: r.env.a, repo: out, tag: "1"},
			{reg: r.env.b, repo: "mirror/layer-" + fmt.Sprint(r.seed), tag: "1"},
		}
}

// prepareJoin joins two platform images from A into an index tagged on A
// (one tag moving off an older index, one new) and copied to B, so reads,
// mounts, cross-registry uploads, manifest and tag pushes all meet faults.
func prepareJoin(t *testing.T, r *faultRun) (map[string]string, []faultTarget) {
	t.Helper()
	out := fmt.Sprintf("o/out-%d", r.seed)
	old, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	before := pushIndex(t, r.env.a.Host+"/"+out+":1", old).String()
	amd, arm := r.env.sources[0], r.env.sources[1]
	return map[string]string{
			"images":      r.pa.Host + "/" + amd.repo + ":" + amd.ref + "\n" + r.pa.Host + "/" + arm.repo + "@" + arm.digest,
			"tags":        r.pa.Host + "/" + out + ":1," + r.pa.Host + "/" + out + ":latest\n" + r.pb.Host + "/mirror/out-" + fmt.Sprint(r.seed) + ":1",
			"annotations": fmt.Sprintf("index:org.opencontainers.image.description=fault run %d", r.seed),
		}, []faultTarget{
			{reg: r.env.a, repo: out, tag: "1", before: before},
			{reg: r.env.a, repo: out, tag: "latest"},
			{reg: r.env.b, repo: "mirror/out-" + fmt.Sprint(r.seed), tag: "1"},
		}
}

func TestFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the action 2 × 20 times through fault-injecting proxies: run without -short")
	}
	t.Parallel()
	env := &faultEnv{
		a: registrytest.Start(t, registrytest.WithVersion(registrytest.V3)),
		b: registrytest.Start(t, registrytest.WithVersion(registrytest.V3)),
	}
	amd := push(t, env.a.Host+"/o/src:amd64", platformImage(t, amd64))
	arm := push(t, env.a.Host+"/o/src:arm64", platformImage(t, arm64))
	env.sources = []faultSource{
		{repo: "o/src", ref: "amd64", digest: amd.String()},
		{repo: "o/src", ref: "arm64", digest: arm.String()},
	}

	for _, mode := range faultModes() {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu     sync.Mutex
				ok     int
				faults = map[registrytest.FaultKind]int{}
			)
			t.Run("runs", func(t *testing.T) {
				for i := range faultRuns {
					seed := int64(i + 1)
					t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
						t.Parallel()
						succeeded, counts := runWithFaults(t, env, mode, seed)
						mu.Lock()
						defer mu.Unlock()
						if succeeded {
							ok++
						}
						for k, n := range counts {
							faults[k] += n
						}
					})
				}
			})
			t.Logf("%d of %d runs succeeded; faults injected: %v", ok, faultRuns, faults)
			if float64(ok) < faultMinSuccess*faultRuns {
				t.Errorf("%d of %d runs succeeded at a %.0f%% fault rate, want at least %.0f%%", ok, faultRuns, faultRate*100, faultMinSuccess*100)
			}
			total := 0
			for _, n := range faults {
				total += n
			}
			if total < faultRuns {
				t.Errorf("only %d faults injected in %d runs: the proxies were not in the way", total, faultRuns)
			}
		})
	}
}

// runWithFaults runs one job through fresh proxies and checks what it
// left behind, whether or not it succeeded.
func runWithFaults(t *testing.T, env *faultEnv, mode faultMode, seed int64) (bool, map[registrytest.FaultKind]int) {
	t.Helper()
	r := &faultRun{env: env, seed: seed}
	r.pa = registrytest.NewFaultProxy(t, upstreamURL(t, env.a), registrytest.FaultConfig{Seed: seed, Rate: faultRate})
	r.pb = registrytest.NewFaultProxy(t, upstreamURL(t, env.b), registrytest.FaultConfig{Seed: seed + 1000, Rate: faultRate})
	inputs, targets := mode.prepare(t, r)
	inputs["insecure-registries"] = r.pa.Host + "," + r.pb.Host
	inputs["timeout"] = "40s" // a stuck run fails rather than stalling the suite

	res := runAction(t, inputs)
	counts := r.pa.Counts()
	for k, n := range r.pb.Counts() {
		counts[k] += n
	}
	t.Logf("exit %d with faults %v", res.code, counts)

	if res.code != 0 {
		t.Logf("failed run:\n%s", res.stdout)
		if last := lastLine(res.stdout); !strings.HasPrefix(last, "::error::") {
			t.Errorf("failed run (exit %d) ends with %q, want an ::error line\n%s", res.code, last, res.stdout)
		}
	} else if !strings.HasPrefix(res.outputs["digest"], "sha256:") {
		t.Errorf("digest output = %q", res.outputs["digest"])
	}
	for _, tg := range targets {
		checkTarget(t, tg, res)
	}
	for _, s := range env.sources {
		checkSource(t, env.a, s)
	}
	return res.code == 0, counts
}

// checkTarget reads a tag straight from its registry: absent or
// unchanged if the run failed, else pointing at a complete index — the
// run's own index when it succeeded.
func checkTarget(t *testing.T, tg faultTarget, res result) {
	t.Helper()
	m, status := tg.reg.TryManifest(t, tg.repo, tg.tag)
	switch {
	case status == http.StatusNotFound && tg.before == "" && res.code != 0:
		return // never written
	case status != http.StatusOK:
		t.Errorf("%s/%s:%s: status %d, want 200 (exit %d, before %q)", tg.reg.Host, tg.repo, tg.tag, status, res.code, tg.before)
		return
	case res.code == 0 && m.Digest != res.outputs["digest"]:
		t.Errorf("%s/%s:%s = %s after a successful run, want %s", tg.reg.Host, tg.repo, tg.tag, m.Digest, res.outputs["digest"])
	case res.code != 0 && m.Digest == tg.before:
		return // unchanged
	}
	// Every child manifest, config and layer must be readable there.
	readIndex(t, tg.reg, tg.repo, tg.tag)
}

// checkSource makes sure a source still reads as it was pushed, whole.
func checkSource(t *testing.T, reg *registrytest.Registry, s faultSource) {
	t.Helper()
	m := reg.GetManifest(t, s.repo, s.ref)
	if m.Digest != s.digest {
		t.Errorf("source %s:%s = %s, want %s", s.repo, s.ref, m.Digest, s.digest)
	}
	var mj manifestJSON
	if err := json.Unmarshal(m.Body, &mj); err != nil {
		t.Fatalf("source %s:%s: %v", s.repo, s.ref, err)
	}
	for _, d := range append([]string{mj.Config.Digest}, layerDigests(mj)...) {
		if got := reg.BlobStatus(t, s.repo, d); got != http.StatusOK {
			t.Errorf("source %s:%s blob %s: HEAD %d, want 200", s.repo, s.ref, d, got)
		}
	}
}

func upstreamURL(t *testing.T, r *registrytest.Registry) *url.URL {
	t.Helper()
	u, err := url.Parse(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
