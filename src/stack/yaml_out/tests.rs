use std::path::Path;

use serde_yaml::Value;

use super::write_document;
use crate::stack::{load, LoadOptions};

/// Writes `v`, reads it back with `yaml_serde`, and asserts nothing changed.
fn round_trip(v: &Value) -> String {
    let text = write_document(v).expect("writer handles it");
    let back: Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("output does not parse: {e}\n{text}"));
    assert_eq!(&back, v, "round trip changed the value:\n{text}");
    text
}

#[test]
fn layout_matches_compose_config() {
    let v: Value = serde_yaml::from_str(
        "name: demo\nservices:\n  web:\n    image: nginx:1.25\n    ports:\n      - target: 80\n        published: \"8080\"\n    command: [sh, -c, echo hi]\n    environment: {}\n",
    )
    .unwrap();
    let text = round_trip(&v);
    assert_eq!(
        text,
        "name: demo\nservices:\n  web:\n    image: nginx:1.25\n    ports:\n      - target: 80\n        published: \"8080\"\n    command:\n      - sh\n      - \"-c\"\n      - echo hi\n    environment: {}\n"
    );
}

#[test]
fn strings_that_would_read_differently_are_quoted() {
    for s in [
        "",
        " ",
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "true",
        "null",
        "~",
        "123",
        "0x1F",
        "1e3",
        "1.5",
        ".inf",
        "007",
        "- item",
        "-x",
        "a: b",
        "a:",
        ":a",
        "#x",
        "a #b",
        "a  b",
        "x ",
        " x",
        "[x]",
        "{x}",
        "*x",
        "&x",
        "!x",
        "|x",
        ">x",
        "'x'",
        "\"x\"",
        "%x",
        "@x",
        "`x`",
        "a,b",
        "line\nbreak",
        "tab\there",
        "cr\rhere",
        "nul\u{0}x",
        "del\u{7f}x",
        "bom\u{feff}",
        "ls\u{2028}x",
        "ünïcode",
        "back\\slash",
        "<<",
        "=",
        "?x",
        "a?b",
    ] {
        let v = Value::String(s.to_string());
        round_trip(&v);
        let mut m = serde_yaml::Mapping::new();
        m.insert(v.clone(), v.clone());
        round_trip(&Value::Mapping(m));
        round_trip(&Value::Sequence(vec![v.clone(), Value::Sequence(vec![v])]));
    }
}

#[test]
fn plain_strings_stay_plain() {
    for s in [
        "nginx:1.25",
        "/var/lib/data",
        "./app",
        "echo hi",
        "CMD-SHELL",
        "a=b",
        "host.docker.internal",
        "$$HOME",
        "registry.example.com:5000/team/app:v1.2.3",
    ] {
        let text = write_document(&Value::String(s.into())).unwrap();
        assert_eq!(text, format!("{s}\n"));
    }
}

#[test]
fn nested_sequences_and_mappings_in_sequences() {
    let v: Value = serde_yaml::from_str(
        "a:\n  - - 1\n    - 2\n  - x: 1\n    y: [3, {z: null}]\n  - []\n  - {}\nb: 1.0\nc: -5\nd: .nan\n",
    )
    .unwrap();
    let text = write_document(&v).unwrap();
    let back: Value = serde_yaml::from_str(&text).unwrap();
    // NaN never equals itself: compare the rest and the NaN's spelling.
    assert_eq!(back["a"], v["a"]);
    assert_eq!(back["c"], v["c"]);
    assert!(
        text.contains("b: 1.0\n") && text.contains("d: .nan\n"),
        "{text}"
    );
}

#[test]
fn tagged_values_fall_back() {
    let v: Value = serde_yaml::from_str("a: !reset []\n").unwrap();
    assert!(write_document(&v).is_none());
    assert!(super::to_string(&v).unwrap().contains("!reset"));
}

#[test]
fn every_example_prints_the_same_project() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap().flatten() {
        let dir = entry.path();
        if !dir.join("compose.yaml").exists() {
            continue;
        }
        let opts = LoadOptions {
            working_dir: dir.clone(),
            interpolate: true,
            ..LoadOptions::default()
        };
        let Ok(loaded) = load(&opts) else {
            continue;
        };
        let tree = serde_yaml::to_value(&loaded.project).unwrap();
        round_trip(&tree);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} examples loaded");
}
