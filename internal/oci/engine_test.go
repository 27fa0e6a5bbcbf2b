package oci

import "github.com/oci-assemble/oci-assemble/internal/oci/client"

// newAssembler is New on a client built from opts.
func newAssembler(opts ...client.Option) (*Assembler, error) {
	c, err := client.New(opts...)
	if err != nil {
		return nil, err
	}
	return New(c), nil
}
