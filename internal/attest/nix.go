package attest

import (
	"strings"
)

// NixStore is the store directory whose entries SBOMs turn into packages.
const NixStore = "/nix/store/"

// nixBase32 is the alphabet of store path hashes: digits and lower-case
// letters without e, o, u and t.
// https://nix.dev/manual/nix/latest/protocols/nix32
const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

// nixNameChars are the characters a store path name may hold.
// https://nix.dev/manual/nix/latest/store/store-path
const nixNameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._?="

// nixMaxName is the longest name nix accepts in a store path.
const nixMaxName = 211

// StorePath is a nix store entry: /nix/store/<Hash>-<Name>[-<Version>].
type StorePath struct {
	// Dir is the entry itself, /nix/store/<hash>-<name>.
	Dir string
	// Hash is the 32-character nix base32 hash.
	Hash string
	// Name and Version split the entry's name the way nix's
	// builtins.parseDrvName does; Version is empty when there is none.
	// A name parseDrvName leaves empty (-1.0) is kept whole as Name.
	Name, Version string
}

// ParseStorePath reports the store entry p lies in, for a path under
// /nix/store/<32-char hash>-<name> (the entry itself or anything below
// it). Any other path, or one whose hash or name nix would refuse, is not
// in a store entry.
func ParseStorePath(p string) (StorePath, bool) {
	rest, ok := strings.CutPrefix(p, NixStore)
	if !ok {
		return StorePath{}, false
	}
	base, _, _ := strings.Cut(rest, "/")
	if len(base) < 34 || base[32] != '-' {
		return StorePath{}, false
	}
	hash, full := base[:32], base[33:]
	if strings.Trim(hash, nixBase32) != "" || len(full) > nixMaxName ||
		strings.Trim(full, nixNameChars) != "" || full[0] == '.' {
		return StorePath{}, false
	}
	name, version := ParseDrvName(full)
	if name == "" {
		// -1.0 parses to no name; a package needs one.
		name, version = full, ""
	}
	return StorePath{Dir: NixStore + base, Hash: hash, Name: name, Version: version}, true
}

// ParseDrvName splits a derivation name as nix's builtins.parseDrvName
// does: the name is everything before the first dash that is not
// followed by an ASCII letter, the version everything after that dash.
// hello-2.12.1 is hello and 2.12.1; openssl-3.0.14-bin is openssl and
// 3.0.14-bin; xf86-video-i810-1.7.4 is xf86-video-i810 and 1.7.4.
// https://nix.dev/manual/nix/latest/language/builtins#builtins-parseDrvName
func ParseDrvName(s string) (name, version string) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '-' && !isASCIILetter(s[i+1]) {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func isASCIILetter(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// NixPURL is the package URL of a store entry: pkg:nix/<name>@<version>,
// or pkg:nix/<name> without a version.
func NixPURL(sp StorePath) string {
	u := "pkg:nix/" + purlEscape(sp.Name, "")
	if sp.Version != "" {
		u += "@" + purlEscape(sp.Version, "")
	}
	return u
}

// purlEscape percent-encodes s for a package URL component: everything
// but unreserved characters and those in keep, so + becomes %2B.
// https://github.com/package-url/purl-spec/blob/main/PURL-SPECIFICATION.rst
func purlEscape(s, keep string) string {
	const unreserved = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(unreserved, c) >= 0 || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex2(c)))
	}
	return b.String()
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
