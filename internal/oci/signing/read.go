package signing

import (
	"fmt"
	"io"
)

// maxConfig bounds the config blob of a referrer made here: "{}".
const maxConfig = 1 << 10

func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxConfig+1))
	if err == nil && len(b) > maxConfig {
		err = fmt.Errorf("config over %d bytes", maxConfig)
	}
	return b, err
}
