// Package assembly turns the platform images read from sources, or built
// from a base and files in layer mode, into one annotated index: members
// flattened and merged, annotations applied, Docker's format when asked,
// and the referrers that still name their manifest. Its only I/O is the
// sources' and the layer builder's.
package assembly
