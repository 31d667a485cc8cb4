//! End-to-end tests that need root: they drive the `berth` binary against a private state root
//! and real kernel features (overlay mounts, namespaces). Each test skips itself, printing
//! "skipped: needs root", when not run as root; CI runs them as root.

mod support;

mod container;
mod image;
mod network;
mod runtime;
mod runtime_control;
mod runtime_isolation;
mod sec_dns;
mod sec_escape;
mod sec_image_trust;
mod sec_layers;
mod sec_mounts;
mod sec_seccomp;
mod sec_setup_hang;
mod sec_stdio;
mod sec_volume_copy;
mod volume;
