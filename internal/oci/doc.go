// Package oci does the registry work of oci-assemble on
// go-containerregistry: it resolves source images from registries, OCI
// layouts and docker archives, joins their platform manifests into one
// annotated index, and publishes it to registries and layouts — every blob
// and manifest by digest first, tags after, each tag read back.
//
// It takes a Plan and an authn.Keychain and never speaks a CI system's
// protocol; outputs, masks and summaries belong to the caller.
//
// Each target kind is one destination (dest_registry.go, dest_layout.go);
// every write goes through package push, every request through the
// transport of package stack; package convert describes images with OCI
// media types, package layer builds layers from files, package cleanup
// deletes temporary tags afterwards.
package oci
