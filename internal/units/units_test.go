package units

import (
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		got, want string
	}{
		{"bytes", Bytes(512), "512 B"},
		{"zero", Bytes(0), "0 B"},
		{"kibibytes", Bytes(1536), "1.5 KiB"},
		{"mebibytes", Bytes(12 << 20), "12.0 MiB"},
		{"gibibytes", Bytes(3 << 30), "3.0 GiB"},
		{"exbibytes", Bytes(1 << 62), "4.0 EiB"},
		{"rate", Rate(10<<20, 2*time.Second), "5.0 MiB/s"},
		{"rate without time", Rate(10<<20, 0), "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		done, total, want int64
	}{
		{"half", 50, 100, 50},
		{"unknown total", 50, 0, 0},
		{"over", 150, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Percent(tt.done, tt.total); int64(got) != tt.want {
				t.Errorf("Percent(%d, %d) = %d, want %d", tt.done, tt.total, got, tt.want)
			}
		})
	}
}
