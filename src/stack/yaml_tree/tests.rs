use std::path::Path;

use saphyr_parser::Parser;
use serde_yaml::Value;

use super::TreeBuilder;

/// The one-pass tree, or `None` when the builder gave up.
fn fast(text: &str) -> Option<Value> {
    let mut builder = TreeBuilder::default();
    for item in Parser::new_from_str(text) {
        let (event, _) = item.ok()?;
        if !builder.event(&event) {
            return None;
        }
    }
    builder.finish()
}

/// Asserts that the builder yields exactly what `yaml_serde` yields, or gives up.
fn assert_same(text: &str) {
    let slow: Result<Value, _> = serde_yaml::from_str(text);
    match (fast(text), slow) {
        (Some(f), Ok(s)) => assert_eq!(f, s, "trees differ for {text:?}"),
        (Some(f), Err(e)) => panic!("builder accepted {text:?} as {f:?}; yaml_serde: {e}"),
        (None, _) => {}
    }
}

/// Asserts that the builder handles `text` itself (does not give up) and agrees.
fn assert_fast(text: &str) {
    assert!(fast(text).is_some(), "builder gave up on {text:?}");
    assert_same(text);
}

#[test]
fn scalars_resolve_as_yaml_serde_does() {
    for s in [
        "",
        "~",
        "null",
        "Null",
        "NULL",
        "nULL",
        "true",
        "True",
        "TRUE",
        "tRue",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "0",
        "-0",
        "+0",
        "7",
        "+7",
        "-7",
        "007",
        "-012",
        "+012",
        "0x1F",
        "-0x1F",
        "0o17",
        "-0o17",
        "0b101",
        "-0b101",
        "0x+5",
        "++5",
        "+-5",
        "--5",
        "1.5",
        "-1.5",
        "+1.5",
        ".5",
        "5.",
        "1e3",
        "1E-3",
        "1_000",
        ".inf",
        "-.inf",
        "+.inf",
        ".Inf",
        ".NaN",
        ".nan",
        "nan",
        "inf",
        "infinity",
        "-inf",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "3000:80",
        "8080-8090:80/udp",
        "1.2.3.4",
        "0.0.0.0:80:80",
        "12:30",
        "60s",
        "1h30m",
        "0777",
        "0.5",
        "00",
        "0.",
        "-",
        "+",
        ".",
        "1,000",
        "a b",
        "${VAR:-x}",
        "$$HOME",
    ] {
        // 128-bit integers are left to yaml_serde; a lone `-` is a sequence indicator.
        if ["18446744073709551616", "-9223372036854775809", "-"].contains(&s) {
            assert_same(&format!("k: {s}\n"));
            continue;
        }
        assert_fast(&format!("k: {s}\n"));
        assert_fast(&format!("k: '{s}'\n"));
        assert_fast(&format!("k: \"{s}\"\n"));
        if !s.is_empty() {
            assert_same(&format!("{{{s}: v}}\n"));
            assert_same(&format!("{s}: v\n"));
        }
    }
}

#[test]
fn block_and_folded_scalars_are_strings() {
    assert_fast("k: |\n  line one\n  line two\n");
    assert_fast("k: >-\n  folded\n  text\n");
    assert_fast("k: |\n  123\n");
    assert_fast("k: plain\n  continued\n");
}

#[test]
fn containers_anchors_aliases_and_merge_keys() {
    assert_fast("a: &x {p: 1, q: [1, 2]}\nb: *x\nc: {<<: *x, p: 2}\n");
    assert_fast("x: &s [a, b]\ny: [*s, *s]\n");
    assert_fast("s: &v 5\nt: *v\n");
    assert_fast("- a\n- [b, c]\n- {d: e}\n");
    assert_fast("services:\n  web:\n    image: nginx\n    ports: [\"80:80\", 443]\n");
    assert_fast("empty_map: {}\nempty_seq: []\nnull_value:\n");
}

#[test]
fn local_tags_become_tagged_values() {
    assert_fast("ports: !reset []\n");
    assert_fast("ports: !override [\"80:80\"]\n");
    assert_fast("env: !reset {}\n");
    assert_fast("image: !reset\n");
    assert_fast("image: !reset null\n");
    assert_fast("x: !override 5\n");
    assert_fast("x: !override '5'\n");
    assert_fast("x: !!str 5\n");
}

#[test]
fn hard_cases_are_left_to_yaml_serde() {
    for text in [
        "a: 1\na: 2\n",
        "? [a, b]\n: c\n",
        "? {a: 1}\n: c\n",
        "a: 1\n---\nb: 2\n",
        "a: 1\n...\n---\nb: 2\n",
        "x: !!int 5\n",
        "x: !!binary aGVsbG8=\n",
        "x: !<tag:example.com,2000:app/foo> 1\n",
        "x: 340282366920938463463374607431768211455\n",
    ] {
        assert!(fast(text).is_none(), "builder should give up on {text:?}");
    }
}

#[test]
fn deep_nesting_is_left_to_yaml_serde() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(fast(&deep).is_none());
    let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_fast(&fine);
}

#[test]
fn every_example_and_fixture_builds_the_same_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut stack = vec![root.join("examples"), root.join("tests")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                let text = std::fs::read_to_string(&path).unwrap();
                assert_same(&text);
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} YAML files found");
}
