// Package source reads what a run joins. A Source reads itself into an
// image or index and lists the signatures, SBOMs and attestations that
// refer to an image in it; this package holds that interface, the
// registry reader (through the run's client) and the referrer finder, and
// the bounds every reader applies to what it is given (Walk, CheckSize,
// the verifying reader). The docker-archive reader is source/archive; the
// OCI layout reader is package layout.
package source
