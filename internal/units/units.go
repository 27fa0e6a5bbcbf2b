// Package units formats byte counts and transfer rates for people, in one
// unit system everywhere the program prints them: IEC binary prefixes
// (KiB, MiB, GiB; IEC 80000-13), the units registries and docker show
// layer sizes in.
package units

import (
	"fmt"
	"time"
)

// Bytes formats n as "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; (m >= unit || m <= -unit) && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Rate formats n bytes over d as "3.4 MiB/s"; "-" when d is not positive.
func Rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return Bytes(int64(float64(n)/d.Seconds())) + "/s"
}

// Percent is how much of total done is, 0 to 100; 0 for an unknown total.
func Percent(done, total int64) int {
	if total <= 0 {
		return 0
	}
	return int(min(done, total) * 100 / total)
}
