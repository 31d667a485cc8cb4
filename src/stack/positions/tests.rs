use super::*;

fn at(index: &PositionIndex, path: &str) -> Option<(usize, usize)> {
    index.get_exact(path).map(|l| (l.line, l.column))
}

#[test]
fn records_keys_and_sequence_items() {
    let text = "\
services:
  web:
    image: nginx
    ports:
      - \"80:80\"
      - target: 443
        published: 8443
    environment:
      FOO: bar
";
    let index = PositionIndex::build("compose.yaml", text);
    assert_eq!(at(&index, "services"), Some((1, 1)));
    assert_eq!(at(&index, "services.web"), Some((2, 3)));
    assert_eq!(at(&index, "services.web.image"), Some((3, 5)));
    assert_eq!(at(&index, "services.web.ports"), Some((4, 5)));
    assert_eq!(at(&index, "services.web.ports[0]"), Some((5, 9)));
    assert_eq!(at(&index, "services.web.ports[1]"), Some((6, 9)));
    assert_eq!(at(&index, "services.web.ports[1].target"), Some((6, 9)));
    assert_eq!(at(&index, "services.web.ports[1].published"), Some((7, 9)));
    assert_eq!(at(&index, "services.web.environment.FOO"), Some((9, 7)));
    let loc = index.get("services.web.image").unwrap();
    assert_eq!(loc.to_string(), "compose.yaml:3:5");
}

#[test]
fn flow_style_is_indexed() {
    let text = "services: {web: {image: x, ports: [\"1:1\", \"2:2\"]}}\n";
    let index = PositionIndex::build("f", text);
    assert_eq!(at(&index, "services.web.image"), Some((1, 18)));
    assert_eq!(at(&index, "services.web.ports[1]"), Some((1, 43)));
}

#[test]
fn get_falls_back_to_the_nearest_ancestor() {
    let text = "services:\n  web:\n    image: nginx\n";
    let index = PositionIndex::build("f", text);
    let loc = index.get("services.web.ports[3].target").unwrap();
    assert_eq!((loc.line, loc.column), (2, 3));
    let loc = index.get("services.web.image[0]").unwrap();
    assert_eq!((loc.line, loc.column), (3, 5));
    assert!(index.get("volumes.data").is_none());
}

#[test]
fn parent_paths() {
    assert_eq!(parent_path("a.b[2]"), Some("a.b"));
    assert_eq!(parent_path("a.b"), Some("a"));
    assert_eq!(parent_path("a"), Some(""));
    assert_eq!(parent_path(""), None);
    assert_eq!(parent_path("a[0][1]"), Some("a[0]"));
}

#[test]
fn aliases_take_the_alias_position_and_copy_descendants() {
    let text = "\
x-base: &base
  image: busybox
  environment:
    A: 1
services:
  web: *base
";
    let index = PositionIndex::build("f", text);
    assert_eq!(at(&index, "services.web"), Some((6, 3)));
    // Descendants point where they were written.
    assert_eq!(at(&index, "services.web.image"), Some((2, 3)));
    assert_eq!(at(&index, "services.web.environment.A"), Some((4, 5)));
}

#[test]
fn merge_keys_map_into_the_enclosing_mapping() {
    let text = "\
x-base: &base
  image: busybox
  restart: always
x-more: &more
  user: root
services:
  web:
    <<: [*base, *more]
    image: nginx
  db:
    <<: *base
  api:
    <<: {tty: true}
";
    let index = PositionIndex::build("f", text);
    // The explicit key wins over the merged one.
    assert_eq!(at(&index, "services.web.image"), Some((9, 5)));
    assert_eq!(at(&index, "services.web.restart"), Some((3, 3)));
    assert_eq!(at(&index, "services.web.user"), Some((5, 3)));
    assert_eq!(at(&index, "services.db.image"), Some((2, 3)));
    assert_eq!(at(&index, "services.api.tty"), Some((13, 10)));
    assert!(at(&index, "services.web.<<").is_none());
}

#[test]
fn nested_aliases_inside_anchors_are_copied() {
    let text = "\
x-env: &env
  FOO: 1
x-svc: &svc
  environment: *env
services:
  web: *svc
";
    let index = PositionIndex::build("f", text);
    assert_eq!(at(&index, "services.web.environment"), Some((4, 3)));
    assert_eq!(at(&index, "services.web.environment.FOO"), Some((2, 3)));
}

#[test]
fn complex_keys_are_skipped_without_confusion() {
    let text = "? [a, b]\n: 1\nnext: 2\n";
    let index = PositionIndex::build("f", text);
    assert_eq!(at(&index, "next"), Some((3, 1)));
}

#[test]
fn invalid_yaml_gives_an_empty_index() {
    let index = PositionIndex::build("f", "a: [1, 2\nb: }");
    assert!(index.is_empty());
    assert_eq!(index.file, "f");
}

#[test]
fn only_the_first_document_is_indexed() {
    let index = PositionIndex::build("f", "a: 1\n---\nb: 2\n");
    assert!(index.get_exact("a").is_some());
    assert!(index.get_exact("b").is_none());
}

#[test]
fn positions_prefer_exact_matches_then_later_files() {
    let mut positions = Positions::default();
    positions.push(PositionIndex::build(
        "base.yaml",
        "services:\n  web:\n    image: a\n",
    ));
    positions.push(PositionIndex::build(
        "override.yaml",
        "services:\n  web:\n    command: x\n",
    ));
    let loc = positions.locate("services.web.image").unwrap();
    assert_eq!(loc.file, "base.yaml");
    let loc = positions.locate("services.web").unwrap();
    assert_eq!(loc.file, "override.yaml");
    let place = positions.place("services.web.command");
    assert_eq!(place.to_string(), "override.yaml:3:5: services.web.command");
}

#[test]
fn a_large_file_indexes_quickly() {
    let mut text = String::from("services:\n");
    for i in 0..200 {
        text.push_str(&format!(
            "  svc{i}:\n    image: nginx:{i}\n    ports:\n      - \"{i}:80\"\n    environment:\n      A: \"1\"\n      B: \"2\"\n    labels:\n      - x=y\n    depends_on: [svc0]\n"
        ));
    }
    let start = std::time::Instant::now();
    let index = PositionIndex::build("big", &text);
    let elapsed = start.elapsed();
    assert!(index.get_exact("services.svc199.depends_on[0]").is_some());
    // Generous bound for debug builds on a loaded machine; release takes a few ms.
    assert!(elapsed.as_millis() < 500, "took {elapsed:?}");
}
