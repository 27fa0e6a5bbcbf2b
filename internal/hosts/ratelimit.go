package hosts

import "strings"

// RateLimited reports whether the body of a registry's 403 says it is a
// rate limit rather than an access denial. GHCR has answered GitHub's
// secondary rate limits with 403 and "You have exceeded a secondary rate
// limit" (perminder-klair/subwave#1377, markrussinovich/refchecker#67);
// such a 403 is "not now", to be waited out, where any other 403 is "no".
func RateLimited(body string) bool {
	b := strings.ToLower(body)
	return strings.Contains(b, "rate limit") || strings.Contains(b, "toomanyrequests")
}
