use super::*;

fn dep(to: &str, condition: Condition) -> Edge {
    Edge {
        to: to.to_string(),
        condition,
        required: true,
    }
}

fn optional(to: &str, condition: Condition) -> Edge {
    Edge {
        required: false,
        ..dep(to, condition)
    }
}

fn started(to: &str) -> Edge {
    dep(to, Condition::Started)
}

fn graph(nodes: &[(&str, Vec<Edge>)]) -> Result<Graph, GraphError> {
    Graph::new(nodes.iter().map(|(n, e)| (n.to_string(), e.clone())))
}

fn ok(nodes: &[(&str, Vec<Edge>)]) -> Graph {
    match graph(nodes) {
        Ok(g) => g,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn cycle_of(nodes: &[(&str, Vec<Edge>)]) -> String {
    match graph(nodes) {
        Err(GraphError::Cycle { cycle }) => cycle,
        other => panic!("expected a cycle, got {other:?}"),
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// web -> (api, cache) -> db: the diamond.
fn diamond() -> Graph {
    ok(&[
        ("web", vec![started("api"), started("cache")]),
        ("api", vec![started("db")]),
        ("cache", vec![started("db")]),
        ("db", vec![]),
    ])
}

#[test]
fn empty_graph() {
    let g = ok(&[]);
    assert!(g.is_empty());
    assert!(g.start_order().is_empty());
    let mut sched = g.start_scheduler();
    assert!(sched.take_ready().is_empty());
    assert!(sched.is_settled());
    assert!(g.stop_scheduler().is_done());
}

#[test]
fn required_edge_to_missing_node_is_an_error_naming_both() {
    let err = graph(&[("web", vec![started("db")])]).unwrap_err();
    assert_eq!(
        err,
        GraphError::UndefinedNode {
            from: "web".into(),
            to: "db".into()
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("`web`") && msg.contains("`db`"), "{msg}");
    assert!(msg.contains("required: false"), "{msg}");
}

#[test]
fn optional_edge_to_missing_node_is_dropped() {
    let g = ok(&[("web", vec![optional("db", Condition::Healthy)])]);
    assert!(g.dependencies("web").is_empty());
    assert!(g.edges("web").is_empty());
    assert_eq!(g.start_scheduler().take_ready(), s(&["web"]));
}

#[test]
fn self_dependency_is_a_cycle_of_one() {
    assert_eq!(cycle_of(&[("a", vec![started("a")])]), "a -> a");
}

#[test]
fn cycle_of_two() {
    let cycle = cycle_of(&[("b", vec![started("a")]), ("a", vec![started("b")])]);
    assert_eq!(cycle, "a -> b -> a");
}

#[test]
fn cycle_of_three_in_waiting_order() {
    let nodes = [
        ("c", vec![started("a")]),
        ("a", vec![started("b")]),
        ("b", vec![started("c")]),
        ("z", vec![started("a")]),
    ];
    assert_eq!(cycle_of(&nodes), "a -> b -> c -> a");
    let err = graph(&nodes).unwrap_err().to_string();
    assert!(err.contains("dependency cycle"), "{err}");
    assert!(err.contains("a -> b -> c -> a"), "{err}");
}

#[test]
fn cycle_not_through_first_node_starts_at_its_own_first() {
    // x is fine; the cycle is q -> r -> q.
    let cycle = cycle_of(&[
        ("x", vec![started("q")]),
        ("r", vec![started("q")]),
        ("q", vec![started("r")]),
    ]);
    assert_eq!(cycle, "q -> r -> q");
}

#[test]
fn cycle_is_the_shortest_way_back_and_deterministic() {
    // a -> b -> c -> a and a -> c -> a: the shorter one is named.
    let nodes = [
        ("a", vec![started("b"), started("c")]),
        ("b", vec![started("c")]),
        ("c", vec![started("a")]),
    ];
    for _ in 0..5 {
        assert_eq!(cycle_of(&nodes), "a -> c -> a");
    }
}

#[test]
fn optional_edges_count_for_cycles() {
    let cycle = cycle_of(&[
        ("a", vec![optional("b", Condition::Started)]),
        ("b", vec![started("a")]),
    ]);
    assert_eq!(cycle, "a -> b -> a");
}

#[test]
fn dependencies_and_dependents() {
    let g = diamond();
    assert_eq!(g.dependencies("web"), vec!["api", "cache"]);
    assert_eq!(g.dependents("db"), vec!["api", "cache"]);
    assert!(g.dependencies("db").is_empty());
    assert!(g.dependents("nope").is_empty());
    assert_eq!(
        g.nodes().collect::<Vec<_>>(),
        vec!["api", "cache", "db", "web"]
    );
    assert!(g.contains("db") && !g.contains("nope"));
}

#[test]
fn duplicate_node_entries_union_their_edges() {
    let g = ok(&[
        ("web", vec![started("db")]),
        ("web", vec![started("cache")]),
        ("db", vec![]),
        ("cache", vec![]),
    ]);
    assert_eq!(g.dependencies("web"), vec!["cache", "db"]);
}

#[test]
fn start_and_stop_order_of_a_diamond() {
    let g = diamond();
    assert_eq!(g.start_order(), s(&["db", "api", "cache", "web"]));
    assert_eq!(g.stop_order(), s(&["web", "api", "cache", "db"]));
}

#[test]
fn start_order_of_a_chain_and_independent_branches() {
    let g = ok(&[
        ("c", vec![started("b")]),
        ("b", vec![started("a")]),
        ("a", vec![]),
        ("z", vec![started("y")]),
        ("y", vec![]),
    ]);
    assert_eq!(g.start_order(), s(&["a", "b", "c", "y", "z"]));
    assert_eq!(g.stop_order(), s(&["c", "b", "a", "z", "y"]));
}

#[test]
fn subset_keeps_transitive_dependencies_only() {
    let g = ok(&[
        ("web", vec![started("api")]),
        ("api", vec![started("db")]),
        ("db", vec![]),
        ("worker", vec![started("db")]),
        ("adminer", vec![]),
    ]);
    let sub = g.subset(&["web"]).unwrap();
    assert_eq!(sub.nodes().collect::<Vec<_>>(), vec!["api", "db", "web"]);
    assert_eq!(sub.start_order(), s(&["db", "api", "web"]));
    assert!(sub.dependents("db") == vec!["api"], "worker left out");

    let down = g.subset_with_dependents(&["db"]).unwrap();
    assert_eq!(
        down.nodes().collect::<Vec<_>>(),
        vec!["api", "db", "web", "worker"]
    );
    assert_eq!(down.stop_order(), s(&["web", "api", "worker", "db"]));

    let err = g.subset(&["web", "nope"]).unwrap_err();
    assert_eq!(
        err,
        GraphError::UnknownNode {
            name: "nope".into()
        }
    );
    assert!(err.to_string().contains("nope"));
}

#[test]
fn scheduler_starts_with_nodes_without_dependencies() {
    let g = ok(&[
        ("web", vec![started("db")]),
        ("db", vec![]),
        ("cache", vec![]),
    ]);
    let mut sched = g.start_scheduler();
    assert_eq!(sched.state("web"), Some(NodeState::Waiting));
    assert_eq!(sched.take_ready(), s(&["cache", "db"]));
    assert!(sched.take_ready().is_empty(), "handed out only once");
    assert_eq!(sched.state("db"), Some(NodeState::Starting));
    sched.started("db");
    assert_eq!(sched.state("db"), Some(NodeState::Started));
    assert_eq!(sched.take_ready(), s(&["web"]));
    assert!(sched.is_settled());
    assert_eq!(sched.state("nope"), None);
}

#[test]
fn diamond_waits_for_both_branches() {
    let g = diamond();
    let mut sched = g.start_scheduler();
    assert_eq!(sched.take_ready(), s(&["db"]));
    sched.started("db");
    assert_eq!(sched.take_ready(), s(&["api", "cache"]));
    sched.started("api");
    assert!(sched.take_ready().is_empty(), "web still waits for cache");
    assert_eq!(sched.waiting(), s(&["web"]));
    sched.started("cache");
    assert_eq!(sched.take_ready(), s(&["web"]));
}

#[test]
fn slow_health_check_delays_only_its_dependents() {
    // app waits for db healthy; ui waits for cache started; no level barrier between them.
    let g = ok(&[
        ("db", vec![]),
        ("cache", vec![]),
        ("app", vec![dep("db", Condition::Healthy)]),
        ("ui", vec![started("cache")]),
        ("edge", vec![started("ui")]),
    ]);
    let mut sched = g.start_scheduler();
    assert_eq!(sched.take_ready(), s(&["cache", "db"]));
    sched.started("db");
    sched.started("cache");
    assert_eq!(sched.take_ready(), s(&["ui"]), "app waits for health");
    sched.started("ui");
    assert_eq!(
        sched.take_ready(),
        s(&["edge"]),
        "edge does not wait for db"
    );
    assert_eq!(sched.waiting(), s(&["app"]));
    sched.healthy("db");
    assert_eq!(sched.take_ready(), s(&["app"]));
}

#[test]
fn conditions_are_met_only_by_their_events() {
    let g = ok(&[
        ("init", vec![]),
        ("db", vec![]),
        (
            "migrate",
            vec![dep("init", Condition::CompletedSuccessfully)],
        ),
        ("app", vec![dep("db", Condition::Healthy)]),
        ("log", vec![started("init")]),
    ]);
    let mut sched = g.start_scheduler();
    sched.take_ready();
    sched.started("init");
    sched.started("db");
    assert_eq!(sched.take_ready(), s(&["log"]));
    sched.healthy("init");
    assert!(sched.take_ready().is_empty(), "healthy is not completed");
    sched.completed_successfully("init");
    assert_eq!(sched.take_ready(), s(&["migrate"]));
    assert_eq!(sched.state("init"), Some(NodeState::Completed));
    sched.healthy("db");
    assert_eq!(sched.take_ready(), s(&["app"]));
}

#[test]
fn started_edge_is_met_by_healthy_or_completed_alone() {
    let g = ok(&[
        ("a", vec![]),
        ("b", vec![]),
        ("x", vec![started("a")]),
        ("y", vec![started("b")]),
    ]);
    let mut sched = g.start_scheduler();
    sched.take_ready();
    sched.healthy("a");
    sched.completed_successfully("b");
    assert_eq!(sched.take_ready(), s(&["x", "y"]));
}

#[test]
fn failed_required_dependency_fails_dependents_transitively() {
    let g = ok(&[
        ("db", vec![]),
        ("api", vec![dep("db", Condition::Healthy)]),
        ("web", vec![started("api")]),
        ("other", vec![]),
    ]);
    let mut sched = g.start_scheduler();
    assert_eq!(sched.take_ready(), s(&["db", "other"]));
    sched.started("db");
    sched.failed("db", "container exited with status 1");
    assert!(sched.take_ready().is_empty());
    let failed = sched.take_failed();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].0, "api");
    assert!(failed[0].1.contains("`db`"), "{}", failed[0].1);
    assert!(
        failed[0].1.contains("exited with status 1"),
        "{}",
        failed[0].1
    );
    assert_eq!(failed[1].0, "web");
    assert!(failed[1].1.contains("`api`"), "{}", failed[1].1);
    assert!(
        failed[1].1.contains("`db`"),
        "root cause kept: {}",
        failed[1].1
    );
    assert!(sched.take_failed().is_empty());
    assert!(sched.is_settled());
    assert_eq!(
        sched.failures().keys().cloned().collect::<Vec<_>>(),
        s(&["api", "db", "web"])
    );
    assert!(matches!(sched.state("web"), Some(NodeState::Failed { .. })));
}

#[test]
fn failure_after_started_edge_was_met_does_not_fail_dependents() {
    let g = ok(&[("db", vec![]), ("web", vec![started("db")])]);
    let mut sched = g.start_scheduler();
    sched.take_ready();
    sched.started("db");
    sched.failed("db", "crashed");
    assert_eq!(sched.take_ready(), s(&["web"]));
    assert!(sched.take_failed().is_empty());
}

#[test]
fn exit_before_healthy_fails_a_healthy_dependent() {
    let g = ok(&[("db", vec![]), ("web", vec![dep("db", Condition::Healthy)])]);
    let mut sched = g.start_scheduler();
    sched.take_ready();
    sched.completed_successfully("db");
    let failed = sched.take_failed();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].1.contains("before it became healthy"),
        "{}",
        failed[0].1
    );
}

#[test]
fn failed_optional_dependency_does_not_block() {
    let g = ok(&[
        ("metrics", vec![]),
        ("db", vec![]),
        (
            "web",
            vec![
                optional("metrics", Condition::Healthy),
                dep("db", Condition::Started),
            ],
        ),
    ]);
    let mut sched = g.start_scheduler();
    sched.take_ready();
    sched.failed("metrics", "no such image");
    assert!(sched.take_ready().is_empty(), "still waits for db");
    sched.started("db");
    assert_eq!(sched.take_ready(), s(&["web"]));
    assert!(sched.take_failed().is_empty());
}

#[test]
fn optional_dependency_still_waited_for_while_it_may_succeed() {
    let g = ok(&[
        ("a", vec![]),
        ("b", vec![optional("a", Condition::Healthy)]),
    ]);
    let mut sched = g.start_scheduler();
    sched.take_ready();
    sched.started("a");
    assert!(sched.take_ready().is_empty());
    sched.healthy("a");
    assert_eq!(sched.take_ready(), s(&["b"]));
}

#[test]
fn events_for_nodes_not_handed_out_and_unknown_names() {
    let g = ok(&[("db", vec![]), ("web", vec![started("db")])]);
    let mut sched = g.start_scheduler();
    // db was already running: reported without being handed out.
    sched.started("db");
    sched.started("ghost");
    assert_eq!(sched.take_ready(), s(&["web"]));
}

#[test]
fn stop_scheduler_stops_dependents_first() {
    let g = diamond();
    let mut stop = g.stop_scheduler();
    assert_eq!(stop.take_ready(), s(&["web"]));
    assert!(stop.take_ready().is_empty());
    stop.stopped("web");
    assert_eq!(stop.take_ready(), s(&["api", "cache"]));
    stop.stopped("api");
    assert!(stop.take_ready().is_empty(), "db waits for cache");
    stop.stopped("cache");
    assert_eq!(stop.take_ready(), s(&["db"]));
    assert!(!stop.is_done());
    stop.stopped("db");
    assert!(stop.is_done());
    stop.stopped("ghost");
}

#[test]
fn stop_scheduler_independent_branches() {
    let g = ok(&[("a", vec![]), ("b", vec![started("a")]), ("x", vec![])]);
    let mut stop = g.stop_scheduler();
    assert_eq!(stop.take_ready(), s(&["b", "x"]));
    stop.stopped("x");
    stop.stopped("b");
    assert_eq!(stop.take_ready(), s(&["a"]));
}

#[test]
fn long_chain_is_scheduled_one_by_one() {
    let nodes: Vec<(String, Vec<Edge>)> = (0..50)
        .map(|i| {
            let edges = if i == 0 {
                vec![]
            } else {
                vec![started(&format!("n{:02}", i - 1))]
            };
            (format!("n{i:02}"), edges)
        })
        .collect();
    let g = Graph::new(nodes).unwrap();
    let mut sched = g.start_scheduler();
    for i in 0..50 {
        let ready = sched.take_ready();
        assert_eq!(ready, vec![format!("n{i:02}")]);
        sched.started(&ready[0]);
    }
    assert!(sched.is_settled());
}
