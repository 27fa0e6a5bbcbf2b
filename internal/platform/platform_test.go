package platform

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    v1.Platform
		wantErr bool
	}{
		{name: "os and arch", in: "linux/amd64", want: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{name: "variant", in: "linux/arm64/v8", want: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{name: "variant kept as written", in: "linux/arm", want: v1.Platform{OS: "linux", Architecture: "arm"}},
		{name: "windows", in: "windows/amd64", want: v1.Platform{OS: "windows", Architecture: "amd64"}},
		{name: "os only", in: "linux", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "empty os", in: "/amd64", wantErr: true},
		{name: "empty arch", in: "linux//v7", wantErr: true},
		{name: "empty variant", in: "linux/amd64/", wantErr: true},
		{name: "too many parts", in: "linux/arm/v7/x", wantErr: true},
		{name: "os.version", in: "windows/amd64:10.0.17763", wantErr: true},
		{name: "leading space", in: " linux/amd64", wantErr: true},
		{name: "inner space", in: "linux/ amd64", wantErr: true},
		{name: "tab", in: "linux/amd64\t", wantErr: true},
		{name: "newline", in: "linux/amd64\n", wantErr: true},
		{name: "NUL", in: "linux/amd\x0064", wantErr: true},
		{name: "comma", in: "linux/amd64,linux/arm64", wantErr: true},
		{name: "bracket", in: "linux/arm64]", wantErr: true},
		{name: "open bracket", in: "[linux/arm64", wantErr: true},
		{name: "dot-dot variant", in: "linux/amd64/..", wantErr: true},
		{name: "dot os", in: "./amd64", wantErr: true},
		{name: "backslash", in: `linux/amd64/x\..`, wantErr: true},
		{name: "non-ASCII", in: "linux/ärm64", wantErr: true},
		{name: "too long", in: "linux/" + strings.Repeat("a", MaxField+1), wantErr: true},
		{name: "dots inside a part", in: "linux/arm64/v8.2", want: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want an error", tt.in, got)
				}
				if want := "is not os/arch[/variant]"; !strings.Contains(err.Error(), want) {
					t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.in, err)
			}
			if !got.Equals(tt.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    v1.Platform
		want string
	}{
		{name: "os and arch", p: v1.Platform{OS: "linux", Architecture: "amd64"}, want: "linux/amd64"},
		{name: "variant", p: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, want: "linux/arm/v6"},
		{name: "os.version", p: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234"}, want: "windows/amd64:10.0.17763.1234"},
		{name: "variant and os.version", p: v1.Platform{OS: "windows", Architecture: "arm64", Variant: "v8", OSVersion: "10.0"}, want: "windows/arm64/v8:10.0"},
		{name: "os.features not shown", p: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"win32k"}}, want: "windows/amd64"},
		{name: "variant not implied", p: v1.Platform{OS: "linux", Architecture: "arm64"}, want: "linux/arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := String(tt.p); got != tt.want {
				t.Errorf("String(%+v) = %q, want %q", tt.p, got, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    v1.Platform
		want v1.Platform
	}{
		{name: "arm64 is v8", p: v1.Platform{OS: "linux", Architecture: "arm64"}, want: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{name: "arm is v7", p: v1.Platform{OS: "linux", Architecture: "arm"}, want: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{name: "explicit variant kept", p: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, want: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{name: "amd64 has none", p: v1.Platform{OS: "linux", Architecture: "amd64"}, want: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{name: "other fields kept", p: v1.Platform{OS: "windows", Architecture: "arm64", OSVersion: "10.0", OSFeatures: []string{"a"}},
			want: v1.Platform{OS: "windows", Architecture: "arm64", Variant: "v8", OSVersion: "10.0", OSFeatures: []string{"a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Normalize(tt.p); !got.Equals(tt.want) {
				t.Errorf("Normalize(%+v) = %+v, want %+v", tt.p, got, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	tests := []struct {
		name string
		a, b v1.Platform
		same bool
	}{
		{name: "arm64 is arm64/v8", a: arm64, b: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, same: true},
		{name: "arm is arm/v7", a: v1.Platform{OS: "linux", Architecture: "arm"}, b: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, same: true},
		{name: "arm is not arm/v6", a: v1.Platform{OS: "linux", Architecture: "arm"}, b: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{name: "os differs", a: arm64, b: v1.Platform{OS: "windows", Architecture: "arm64"}},
		{name: "arch differs", a: arm64, b: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{name: "os.version differs", a: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763"}, b: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348"}},
		{name: "os.version missing", a: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763"}, b: v1.Platform{OS: "windows", Architecture: "amd64"}},
		{name: "os.features in any order", a: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"b", "a"}}, b: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"a", "b"}}, same: true},
		{name: "os.features differ", a: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"a"}}, b: v1.Platform{OS: "windows", Architecture: "amd64"}},
		{name: "fields kept apart", a: v1.Platform{OS: "a|b", Architecture: "c"}, b: v1.Platform{OS: "a", Architecture: "b|c"}},
		{name: "os.features kept apart", a: v1.Platform{OS: "a", Architecture: "b", OSFeatures: []string{"c,d"}}, b: v1.Platform{OS: "a", Architecture: "b", OSFeatures: []string{"c", "d"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Key(tt.a) == Key(tt.b); got != tt.same {
				t.Errorf("Key(%+v) == Key(%+v) is %v, want %v (%q, %q)", tt.a, tt.b, got, tt.same, Key(tt.a), Key(tt.b))
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	arm64v8 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	arm64v9 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v9"}
	arm := v1.Platform{OS: "linux", Architecture: "arm"}
	armv6 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}
	armv7 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	win := v1.Platform{OS: "windows", Architecture: "amd64"}
	ltsc2019 := v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234"}
	tests := []struct {
		name       string
		want, have v1.Platform
		match      bool
	}{
		{name: "same", want: amd64, have: amd64, match: true},
		{name: "arm64 matches arm64/v8", want: arm64, have: arm64v8, match: true},
		{name: "arm64/v8 matches arm64", want: arm64v8, have: arm64, match: true},
		{name: "arm64 matches any variant", want: arm64, have: arm64v9, match: true},
		{name: "arm64/v8 does not match v9", want: arm64v8, have: arm64v9},
		{name: "arm/v7 matches arm", want: armv7, have: arm, match: true},
		{name: "arm matches arm/v6", want: arm, have: armv6, match: true},
		{name: "variant differs", want: armv7, have: armv6},
		{name: "arch differs", want: arm64, have: amd64},
		{name: "os differs", want: amd64, have: win},
		{name: "no os.version matches any", want: win, have: ltsc2019, match: true},
		{name: "os.version must be equal", want: ltsc2019, have: v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.1"}},
		{name: "os.version missing", want: ltsc2019, have: win},
		{name: "os.version equal", want: ltsc2019, have: ltsc2019, match: true},
		{name: "no os.features matches any", want: win, have: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"win32k"}}, match: true},
		{name: "os.features wanted are present", want: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"win32k"}},
			have: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"x", "win32k"}}, match: true},
		{name: "os.features wanted are missing", want: v1.Platform{OS: "windows", Architecture: "amd64", OSFeatures: []string{"win32k"}}, have: win},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Match(tt.want, tt.have); got != tt.match {
				t.Errorf("Match(%s, %s) = %v, want %v", String(tt.want), String(tt.have), got, tt.match)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "os and arch", in: "linux/amd64", want: "LINUX_AMD64"},
		{name: "variant", in: "linux/arm64/v8", want: "LINUX_ARM64_V8"},
		{name: "os.version", in: "windows/amd64:10.0.17763", want: "WINDOWS_AMD64_10_0_17763"},
		{name: "upper case kept", in: "Linux/AMD64", want: "LINUX_AMD64"},
		{name: "other characters", in: "a-b_c d", want: "A_B_C_D"},
		{name: "one _ per non-ASCII character", in: "linux/äx", want: "LINUX__X"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := EnvName(tt.in); got != tt.want {
				t.Errorf("EnvName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
