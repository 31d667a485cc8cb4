//! berth: a compose-compatible, daemonless multi-container orchestrator for Linux.
//!
//! Layers, and the direction of their dependencies:
//! `cli -> reconcile -> (stack, graph, engine)`; the engine never imports stack, graph or
//! reconcile.
#![deny(unsafe_code)]

pub mod cli;
pub mod engine;
pub mod graph;
pub mod reconcile;
pub mod stack;
