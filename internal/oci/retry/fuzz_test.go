package retry

import (
	"net/http"
	"testing"
	"time"
)

// FuzzRetryAfter feeds the parser what a registry or proxy may send in
// Retry-After: it must never panic or ask for a negative wait.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, seed := range []string{
		"0", "1", "120", "-1", "1.5", " 7 ", "99999999999999999999",
		now.Add(time.Minute).Format(http.TimeFormat),
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Fri, 31 Dec 9999 23:59:59 GMT", "", "soon",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		d, ok := retryAfter(h, now)
		if d < 0 {
			t.Errorf("retryAfter(%q) = %v, want no negative wait", h, d)
		}
		if !ok && d != 0 {
			t.Errorf("retryAfter(%q) = %v, false; want 0 when unparsed", h, d)
		}
	})
}
