//! A dependency graph over named nodes (a project's services), with cycle detection that
//! names the cycle, and scheduling that answers "what can start now" as each node reaches the
//! state its dependents wait for (no level-wide barriers), and the reverse for stop.
//!
//! The graph knows nothing of stack files: the stack layer builds it from the canonical model
//! (`Project::dependency_graph`), where links, volumes_from and `network_mode: service:x`
//! already appear as depends_on entries.
//!
//! Edges point from a dependent to its dependency (`web -> db` means web depends on db), so
//! a cycle reads in the order the services wait on each other.

mod cycle;
mod schedule;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

pub use schedule::{NodeState, StartScheduler, StopScheduler};

/// What a dependent waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Condition::Started => "service_started",
            Condition::Healthy => "service_healthy",
            Condition::CompletedSuccessfully => "service_completed_successfully",
        })
    }
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
    #[error(
        "dependency cycle between services: {cycle}; remove one of these depends_on \
         (or links, volumes_from, network_mode: service:) entries"
    )]
    Cycle { cycle: String },
    #[error(
        "service `{from}` depends on undefined service `{to}`; define `{to}`, enable its \
         profile, or mark the dependency `required: false`"
    )]
    UndefinedNode { from: String, to: String },
    #[error("no such service: `{name}`")]
    UnknownNode { name: String },
}

/// An acyclic dependency graph; every edge's target is a node of the graph.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Node weights are the names; edges go from dependent to dependency.
    inner: DiGraph<String, Edge>,
    index: BTreeMap<String, NodeIndex>,
}

impl Graph {
    /// Builds the graph from `(node, dependencies)` pairs. A node listed twice gets the union
    /// of its edges. Required edges to missing nodes are an error; optional ones are dropped.
    pub fn new<I>(nodes: I) -> Result<Graph, GraphError>
    where
        I: IntoIterator<Item = (String, Vec<Edge>)>,
    {
        let mut lists: BTreeMap<String, Vec<Edge>> = BTreeMap::new();
        for (name, edges) in nodes {
            lists.entry(name).or_default().extend(edges);
        }
        let mut inner = DiGraph::new();
        let mut index = BTreeMap::new();
        for name in lists.keys() {
            index.insert(name.clone(), inner.add_node(name.clone()));
        }
        for (from, edges) in &lists {
            let mut edges = edges.clone();
            edges.sort_by(|a, b| a.to.cmp(&b.to).then(a.condition.cmp(&b.condition)));
            for edge in edges {
                match index.get(&edge.to) {
                    Some(&to) => {
                        inner.add_edge(index[from], to, edge);
                    }
                    None if edge.required => {
                        return Err(GraphError::UndefinedNode {
                            from: from.clone(),
                            to: edge.to,
                        })
                    }
                    None => {}
                }
            }
        }
        let graph = Graph { inner, index };
        if let Some(cycle) = cycle::find_cycle(&graph.inner) {
            return Err(GraphError::Cycle {
                cycle: cycle.join(" -> "),
            });
        }
        Ok(graph)
    }

    /// Node names, sorted.
    pub fn nodes(&self) -> impl Iterator<Item = &str> + '_ {
        self.index.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains(&self, node: &str) -> bool {
        self.index.contains_key(node)
    }

    /// The edges of `node` (to nodes of the graph), sorted by target; empty for an unknown node.
    pub fn edges(&self, node: &str) -> Vec<&Edge> {
        let Some(&ix) = self.index.get(node) else {
            return Vec::new();
        };
        let mut edges: Vec<&Edge> = self
            .inner
            .edges_directed(ix, Direction::Outgoing)
            .map(|e| e.weight())
            .collect();
        edges.sort_by(|a, b| a.to.cmp(&b.to).then(a.condition.cmp(&b.condition)));
        edges
    }

    /// The nodes `node` depends on directly, sorted.
    pub fn dependencies(&self, node: &str) -> Vec<&str> {
        self.neighbours(node, Direction::Outgoing)
    }

    /// The nodes that depend directly on `node`, sorted.
    pub fn dependents(&self, node: &str) -> Vec<&str> {
        self.neighbours(node, Direction::Incoming)
    }

    fn neighbours(&self, node: &str, dir: Direction) -> Vec<&str> {
        let Some(&ix) = self.index.get(node) else {
            return Vec::new();
        };
        let set: BTreeSet<&str> = self
            .inner
            .neighbors_directed(ix, dir)
            .map(|n| self.inner[n].as_str())
            .collect();
        set.into_iter().collect()
    }

    /// `roots` and everything they depend on, transitively, sorted.
    pub fn with_dependencies(&self, roots: &[&str]) -> Result<BTreeSet<String>, GraphError> {
        self.closure(roots, Direction::Outgoing)
    }

    /// `roots` and everything that depends on them, transitively, sorted (`berth stop db`
    /// stops db's dependents first).
    pub fn with_dependents(&self, roots: &[&str]) -> Result<BTreeSet<String>, GraphError> {
        self.closure(roots, Direction::Incoming)
    }

    fn closure(&self, roots: &[&str], dir: Direction) -> Result<BTreeSet<String>, GraphError> {
        let mut seen = BTreeSet::new();
        let mut stack = Vec::new();
        for root in roots {
            let ix = self
                .index
                .get(*root)
                .ok_or_else(|| GraphError::UnknownNode {
                    name: root.to_string(),
                })?;
            stack.push(*ix);
        }
        while let Some(ix) = stack.pop() {
            if seen.insert(self.inner[ix].clone()) {
                stack.extend(self.inner.neighbors_directed(ix, dir));
            }
        }
        Ok(seen)
    }

    /// The graph restricted to `roots` and their transitive dependencies (`berth up web`
    /// starts web and what it needs). Errors with `UnknownNode` for a root not in the graph.
    pub fn subset(&self, roots: &[&str]) -> Result<Graph, GraphError> {
        let keep = self.with_dependencies(roots)?;
        Ok(self.restricted(&keep))
    }

    /// The graph restricted to `roots` and the nodes that depend on them, transitively.
    pub fn subset_with_dependents(&self, roots: &[&str]) -> Result<Graph, GraphError> {
        let keep = self.with_dependents(roots)?;
        Ok(self.restricted(&keep))
    }

    /// The graph restricted to the nodes in `keep` (edges leaving the set are dropped).
    fn restricted(&self, keep: &BTreeSet<String>) -> Graph {
        let mut inner = DiGraph::new();
        let mut index = BTreeMap::new();
        for name in keep {
            if self.index.contains_key(name) {
                index.insert(name.clone(), inner.add_node(name.clone()));
            }
        }
        for (name, &from_ix) in &index {
            for edge in self.edges(name) {
                if let Some(&target) = index.get(&edge.to) {
                    inner.add_edge(from_ix, target, edge.clone());
                }
            }
        }
        Graph { inner, index }
    }

    /// A deterministic start order: every node after all its dependencies; among the nodes
    /// that could go next, the alphabetically first.
    pub fn start_order(&self) -> Vec<String> {
        self.kahn(Direction::Outgoing)
    }

    /// A deterministic stop order: every node after all its dependents.
    pub fn stop_order(&self) -> Vec<String> {
        self.kahn(Direction::Incoming)
    }

    /// Kahn's algorithm; `waits_on` is the direction of the edges a node waits for.
    fn kahn(&self, waits_on: Direction) -> Vec<String> {
        let released_by = waits_on.opposite();
        let mut remaining: BTreeMap<NodeIndex, usize> = self
            .index
            .values()
            .map(|&ix| (ix, self.distinct(ix, waits_on).len()))
            .collect();
        let mut ready: BTreeSet<&str> = remaining
            .iter()
            .filter(|(_, &n)| n == 0)
            .map(|(&ix, _)| self.inner[ix].as_str())
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(name) = ready.pop_first() {
            order.push(name.to_string());
            for next in self.distinct(self.index[name], released_by) {
                if let Some(count) = remaining.get_mut(&next) {
                    *count -= 1;
                    if *count == 0 {
                        ready.insert(self.inner[next].as_str());
                    }
                }
            }
        }
        order
    }

    /// Distinct neighbours (a node may have two edges to the same target).
    fn distinct(&self, ix: NodeIndex, dir: Direction) -> BTreeSet<NodeIndex> {
        self.inner.neighbors_directed(ix, dir).collect()
    }

    /// A scheduler for starting every node of this graph.
    pub fn start_scheduler(&self) -> StartScheduler {
        StartScheduler::new(self)
    }

    /// A scheduler for stopping every node of this graph.
    pub fn stop_scheduler(&self) -> StopScheduler {
        StopScheduler::new(self)
    }
}
