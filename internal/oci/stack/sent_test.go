package stack

import (
	"net/http"
	"slices"
	"testing"
)

// TestSentCredentials: the credential part of each Authorization header
// a request carries is recorded, whatever its scheme; a request without
// one records nothing.
func TestSentCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header http.Header
		want   []string
	}{
		{"bearer", http.Header{"Authorization": {"Bearer tok-1"}}, []string{"tok-1"}},
		{"basic", http.Header{"Authorization": {"Basic cm9ib3Q6cHc="}}, []string{"cm9ib3Q6cHc="}},
		{"Docker Hub's JWT scheme", http.Header{"Authorization": {"JWT eyJ.x.y"}}, []string{"eyJ.x.y"}},
		{"proxy", http.Header{"Proxy-Authorization": {"Basic cHJveHk6cHc="}}, []string{"cHJveHk6cHc="}},
		{"none", http.Header{}, nil},
		{"a scheme alone", http.Header{"Authorization": {"Bearer "}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			rt := &sentCredentials{
				inner: roundTripFunc(func(*http.Request) (*http.Response, error) {
					return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
				}),
				record: func(s string) { got = append(got, s) },
			}
			req, err := http.NewRequest(http.MethodGet, "https://reg.example/v2/", http.NoBody)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if !slices.Equal(got, tt.want) {
				t.Errorf("recorded %q, want %q", got, tt.want)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
