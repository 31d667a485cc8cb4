//! The container engine: images, runtime, network, volumes, monitor and state.
//!
//! The engine knows containers, images, networks and volumes; it never imports the stack file,
//! the graph or the reconciler. Its parts arrive with their own issues.

pub mod container;
pub mod image;
pub mod monitor;
pub mod network;
pub mod runtime;
pub mod state;
pub mod volume;
