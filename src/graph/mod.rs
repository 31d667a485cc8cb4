//! A dependency graph over named nodes (a project's services), with cycle detection that
//! names the cycle, and scheduling that answers "what can start now" as each node reaches the
//! state its dependents wait for (no level-wide barriers), and the reverse for stop.
//!
//! The graph knows nothing of stack files: the stack layer builds it from the canonical model
//! (`Project::dependency_graph`), where links, volumes_from and `network_mode: service:x`
//! already appear as depends_on entries. OWNER: helper H5 (stub).

/// What a dependent waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

/// `from` depends on `to`, waiting for `condition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub to: String,
    pub condition: Condition,
    /// `required: false` dependencies may be missing or fail without failing the dependent.
    pub required: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("dependency cycle between services: {cycle}")]
    Cycle { cycle: String },
    #[error("service `{from}` depends on undefined service `{to}`")]
    UndefinedNode { from: String, to: String },
}

#[derive(Debug, Clone)]
pub struct Graph {}

impl Graph {
    /// Builds the graph from `(node, dependencies)` pairs.
    pub fn new<I>(_nodes: I) -> Result<Graph, GraphError>
    where
        I: IntoIterator<Item = (String, Vec<Edge>)>,
    {
        Ok(Graph {})
    }
}
