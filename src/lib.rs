//! berth: a compose-compatible, daemonless multi-container orchestrator for Linux.
//!
//! Layers, and the direction of their dependencies:
//! `cli -> reconcile -> (stack, graph, engine)`; the engine never imports stack, graph or
//! reconcile. `mount_rules` is a leaf both the stack front end and the engine check with.
#![deny(unsafe_code)]

pub mod cli;
pub mod engine;
pub mod graph;
pub mod mount_rules;
pub mod reconcile;
pub mod stack;
