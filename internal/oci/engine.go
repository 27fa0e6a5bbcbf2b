package oci

import "github.com/oci-assemble/oci-assemble/internal/oci/client"

// Assembler joins images into an index and publishes it, through one
// registry client.
type Assembler struct {
	c *client.Client
}

// New returns an Assembler that reads and writes through c.
func New(c *client.Client) *Assembler { return &Assembler{c: c} }
