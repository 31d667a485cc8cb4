//! Finding a dependency cycle and naming it in the order the nodes wait on each other.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

/// A cycle as node names, first node repeated at the end (`a, b, c, a`), or `None` when the
/// graph is acyclic. Deterministic: among the cyclic strongly connected components the one
/// holding the alphabetically first node wins, the cycle starts at that node and is the
/// shortest way back to it, ties broken alphabetically.
pub(super) fn find_cycle<E>(graph: &DiGraph<String, E>) -> Option<Vec<String>> {
    let start = petgraph::algo::tarjan_scc(graph)
        .into_iter()
        .filter(|scc| scc.len() > 1 || graph.contains_edge(scc[0], scc[0]))
        .filter_map(|scc| {
            let first = scc
                .iter()
                .copied()
                .min_by(|a, b| graph[*a].cmp(&graph[*b]))?;
            Some((first, scc.into_iter().collect::<BTreeSet<_>>()))
        })
        .min_by(|(a, _), (b, _)| graph[*a].cmp(&graph[*b]))?;
    let (first, members) = start;
    Some(shortest_way_back(graph, first, &members))
}

/// Breadth-first search from `first` over `members` until an edge leads back to `first`.
fn shortest_way_back<E>(
    graph: &DiGraph<String, E>,
    first: NodeIndex,
    members: &BTreeSet<NodeIndex>,
) -> Vec<String> {
    let sorted_next = |ix: NodeIndex| {
        let mut next: Vec<NodeIndex> = graph
            .neighbors_directed(ix, Direction::Outgoing)
            .filter(|n| members.contains(n))
            .collect();
        next.sort_by(|a, b| graph[*a].cmp(&graph[*b]));
        next.dedup();
        next
    };
    let mut parent: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
    let mut queue = VecDeque::from([first]);
    let mut last = None;
    'search: while let Some(ix) = queue.pop_front() {
        for next in sorted_next(ix) {
            if next == first {
                last = Some(ix);
                break 'search;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = parent.entry(next) {
                e.insert(ix);
                queue.push_back(next);
            }
        }
    }
    // Every member of a cyclic component reaches `first`, so `last` is always found; walk
    // the parents back from it.
    let mut path = vec![graph[first].clone()];
    let mut at = last.unwrap_or(first);
    while at != first {
        path.push(graph[at].clone());
        at = parent.get(&at).copied().unwrap_or(first);
    }
    path.push(graph[first].clone());
    let end = path.len() - 1;
    path[1..end].reverse();
    path
}
