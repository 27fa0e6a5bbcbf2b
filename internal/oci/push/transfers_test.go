package push

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"golang.org/x/sync/errgroup"
)

// TestTransfersBoundTheRun: blob uploads to three repositories at once,
// four blobs each, never have more than WithTransfers in flight, however
// the callers nest their goroutines; without the bound they do.
func TestTransfersBoundTheRun(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		opts  []Option
		limit int64 // the most in flight allowed; 0 checks it goes above 2
	}{
		{name: "bounded", opts: []Option{WithTransfers(2)}, limit: 2},
		{name: "unbounded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var inFlight, most atomic.Int64
			reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Method != http.MethodGet {
					n := inFlight.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(20 * time.Millisecond)
					defer inFlight.Add(-1)
				}
				reg.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			p, err := New(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var g errgroup.Group
			for _, repo := range []string{"a", "b", "c"} {
				r, _ := name.NewRepository(host+"/"+repo, name.Insecure)
				w, err := p.Writer(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				for range 4 {
					l, err := random.Layer(2*SmallBlob, "application/vnd.oci.image.layer.v1.tar+gzip")
					if err != nil {
						t.Fatal(err)
					}
					g.Go(func() error { return w.WriteBlob(ctx, l) })
				}
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			switch got := most.Load(); {
			case tt.limit > 0 && got > tt.limit:
				t.Errorf("%d upload requests in flight at once, want at most %d", got, tt.limit)
			case tt.limit == 0 && got <= 2:
				t.Errorf("without a bound, at most %d upload requests in flight: the test cannot tell", got)
			}
		})
	}
}
