//! Desired state (the stack model) versus actual state (the engine's records) -> plan -> execute.
//!
//! The planner and executor arrive with the compose `up`/`down` issue; the stack front end and
//! the graph they build on are in place.
