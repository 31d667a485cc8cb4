//! Scheduling over a [`Graph`]: which nodes may start (or stop) now, given what the caller
//! reported so far. There is no level-wide barrier: each node waits only for its own edges.

use std::collections::{BTreeMap, BTreeSet};

use super::{Condition, Edge, Graph};

/// Where a node stands in a [`StartScheduler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeState {
    /// Some dependency has not reached the state this node waits for.
    Waiting,
    /// May start now; not yet handed out by [`StartScheduler::take_ready`].
    Ready,
    /// Handed out by `take_ready`; nothing reported yet.
    Starting,
    Started,
    Healthy,
    /// Ran to completion with exit status 0.
    Completed,
    /// Failed itself, or cannot start because a required dependency failed.
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Ready,
    Taken,
}

#[derive(Debug, Clone)]
struct Node {
    edges: Vec<Edge>,
    dependents: Vec<String>,
    phase: Phase,
    started: bool,
    healthy: bool,
    completed: bool,
    failed: Option<String>,
}

/// What an edge's dependency means for the waiting node.
enum EdgeStatus {
    Met,
    Pending,
    /// Can never be met; the text says why (after "dependency `x` ").
    Unmeetable(String),
}

/// Answers "what can start now" while a project comes up.
///
/// Hand out the ready nodes with [`take_ready`](Self::take_ready), start them, and report
/// what happens with [`started`](Self::started), [`healthy`](Self::healthy),
/// [`completed_successfully`](Self::completed_successfully) and [`failed`](Self::failed). A
/// node becomes ready as soon as every one of its edges is met: `Started` by a dependency
/// that started (or became healthy, or completed), `Healthy` only by a healthy one,
/// `CompletedSuccessfully` only by one that exited 0. A required dependency that fails (or
/// can no longer reach the condition) fails its dependents, transitively; an optional one
/// stops blocking instead. Events for names not in the graph are ignored.
#[derive(Debug, Clone)]
pub struct StartScheduler {
    nodes: BTreeMap<String, Node>,
    ready: BTreeSet<String>,
    newly_failed: Vec<(String, String)>,
}

impl StartScheduler {
    pub fn new(graph: &Graph) -> StartScheduler {
        let nodes = graph
            .nodes()
            .map(|name| {
                let node = Node {
                    edges: graph.edges(name).into_iter().cloned().collect(),
                    dependents: graph
                        .dependents(name)
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                    phase: Phase::Waiting,
                    started: false,
                    healthy: false,
                    completed: false,
                    failed: None,
                };
                (name.to_string(), node)
            })
            .collect();
        let mut scheduler = StartScheduler {
            nodes,
            ready: BTreeSet::new(),
            newly_failed: Vec::new(),
        };
        let all: Vec<String> = scheduler.nodes.keys().cloned().collect();
        scheduler.evaluate(all);
        scheduler
    }

    /// The nodes that may start now and were not handed out before, sorted. They are
    /// `Starting` from now on.
    pub fn take_ready(&mut self) -> Vec<String> {
        let ready: Vec<String> = std::mem::take(&mut self.ready).into_iter().collect();
        for name in &ready {
            if let Some(node) = self.nodes.get_mut(name) {
                node.phase = Phase::Taken;
            }
        }
        ready
    }

    /// Nodes that failed because of a failed dependency since the last call, with the
    /// reason (naming the dependency), in the order they failed.
    pub fn take_failed(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.newly_failed)
    }

    pub fn started(&mut self, node: &str) {
        self.report(node, |n| n.started = true);
    }

    pub fn healthy(&mut self, node: &str) {
        self.report(node, |n| {
            n.started = true;
            n.healthy = true;
        });
    }

    pub fn completed_successfully(&mut self, node: &str) {
        self.report(node, |n| {
            n.started = true;
            n.completed = true;
        });
    }

    /// The node failed to start, exited non-zero, or became unhealthy.
    pub fn failed(&mut self, node: &str, reason: impl Into<String>) {
        let reason = reason.into();
        self.report(node, |n| n.failed = Some(reason));
    }

    fn report(&mut self, name: &str, apply: impl FnOnce(&mut Node)) {
        let Some(node) = self.nodes.get_mut(name) else {
            return;
        };
        apply(node);
        // A node reported on without being handed out (already running, say) is not
        // handed out later.
        node.phase = Phase::Taken;
        self.ready.remove(name);
        let dependents = node.dependents.clone();
        self.evaluate(dependents);
    }

    /// Re-examines waiting nodes, following failures to their dependents.
    fn evaluate(&mut self, mut work: Vec<String>) {
        while let Some(name) = work.pop() {
            let Some(node) = self.nodes.get(&name) else {
                continue;
            };
            if node.phase != Phase::Waiting || node.failed.is_some() {
                continue;
            }
            let mut pending = false;
            let mut failure = None;
            for edge in &node.edges {
                match self.edge_status(edge) {
                    EdgeStatus::Met => {}
                    EdgeStatus::Pending => pending = true,
                    EdgeStatus::Unmeetable(why) if edge.required => {
                        failure = Some(format!("required dependency `{}` {why}", edge.to));
                        break;
                    }
                    EdgeStatus::Unmeetable(_) => {}
                }
            }
            let Some(node) = self.nodes.get_mut(&name) else {
                continue;
            };
            if let Some(reason) = failure {
                node.failed = Some(reason.clone());
                work.extend(node.dependents.iter().cloned());
                self.newly_failed.push((name, reason));
            } else if !pending {
                node.phase = Phase::Ready;
                self.ready.insert(name);
            }
        }
    }

    fn edge_status(&self, edge: &Edge) -> EdgeStatus {
        let Some(dep) = self.nodes.get(&edge.to) else {
            return EdgeStatus::Met;
        };
        let met = match edge.condition {
            Condition::Started => dep.started || dep.healthy || dep.completed,
            Condition::Healthy => dep.healthy,
            Condition::CompletedSuccessfully => dep.completed,
        };
        if met {
            EdgeStatus::Met
        } else if let Some(reason) = &dep.failed {
            EdgeStatus::Unmeetable(format!("failed: {reason}"))
        } else if dep.completed && edge.condition == Condition::Healthy {
            EdgeStatus::Unmeetable("exited before it became healthy".to_string())
        } else {
            EdgeStatus::Pending
        }
    }

    /// The state of `node`, or `None` when it is not in the graph.
    pub fn state(&self, node: &str) -> Option<NodeState> {
        let n = self.nodes.get(node)?;
        Some(if let Some(reason) = &n.failed {
            NodeState::Failed {
                reason: reason.clone(),
            }
        } else if n.completed {
            NodeState::Completed
        } else if n.healthy {
            NodeState::Healthy
        } else if n.started {
            NodeState::Started
        } else {
            match n.phase {
                Phase::Waiting => NodeState::Waiting,
                Phase::Ready => NodeState::Ready,
                Phase::Taken => NodeState::Starting,
            }
        })
    }

    /// Nodes still waiting for a dependency, sorted.
    pub fn waiting(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.phase == Phase::Waiting && n.failed.is_none())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Every node has been handed out or has failed: nothing is left to start.
    pub fn is_settled(&self) -> bool {
        self.nodes
            .values()
            .all(|n| n.phase == Phase::Taken || n.failed.is_some())
    }

    /// Every failed node with its reason, sorted by name.
    pub fn failures(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .filter_map(|(name, n)| Some((name.clone(), n.failed.clone()?)))
            .collect()
    }
}

/// The reverse of [`StartScheduler`]: a node may stop once every node that depends on it
/// has stopped.
#[derive(Debug, Clone)]
pub struct StopScheduler {
    /// Per node: its dependencies, and the dependents that have not stopped yet.
    nodes: BTreeMap<String, (Vec<String>, BTreeSet<String>)>,
    taken: BTreeSet<String>,
    stopped: BTreeSet<String>,
}

impl StopScheduler {
    pub fn new(graph: &Graph) -> StopScheduler {
        let nodes = graph
            .nodes()
            .map(|name| {
                let deps = graph
                    .dependencies(name)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                let dependents = graph
                    .dependents(name)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                (name.to_string(), (deps, dependents))
            })
            .collect();
        StopScheduler {
            nodes,
            taken: BTreeSet::new(),
            stopped: BTreeSet::new(),
        }
    }

    /// The nodes that may stop now and were not handed out before, sorted.
    pub fn take_ready(&mut self) -> Vec<String> {
        let ready: Vec<String> = self
            .nodes
            .iter()
            .filter(|(name, (_, waiting))| waiting.is_empty() && !self.taken.contains(*name))
            .map(|(name, _)| name.clone())
            .collect();
        self.taken.extend(ready.iter().cloned());
        ready
    }

    /// `node` has stopped (or was already gone); its dependencies may follow.
    pub fn stopped(&mut self, node: &str) {
        let Some((deps, _)) = self.nodes.get(node) else {
            return;
        };
        let deps = deps.clone();
        self.taken.insert(node.to_string());
        self.stopped.insert(node.to_string());
        for dep in deps {
            if let Some((_, waiting)) = self.nodes.get_mut(&dep) {
                waiting.remove(node);
            }
        }
    }

    /// Every node has stopped.
    pub fn is_done(&self) -> bool {
        self.stopped.len() == self.nodes.len()
    }
}
