//! The image store: an OCI content store (sha256 blobs, image-layout form), Docker-style
//! references, layers unpacked once and shared, and the archive formats (`docker save`
//! archives, OCI image layouts, plain rootfs tarballs).
//!
//! - [`unpack`]: one layer tar stream -> one directory, safely (every path resolved inside the
//!   layer root), whiteouts turned into overlay whiteouts.
//! - [`reference`]: `name[:tag]`, `registry:port/ns/name`, `@sha256:` normalised as Docker does.
//! - [`store`]: blobs, manifests/configs (oci-spec types), tags, layers, lower dirs, removal.
//! - [`archive`]: import (rootfs tar), load (docker-archive, OCI layout tar), save.

pub mod archive;
pub mod mount;
pub mod reference;
pub mod store;
pub mod unpack;
