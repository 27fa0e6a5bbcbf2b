// Package plan holds what a run is asked to do, shared by every step of
// the flow: references to sources and targets, annotations, the layer-mode
// build spec, and the errors that describe a reference or a registry's
// answer to a person. It does no I/O.
package plan
