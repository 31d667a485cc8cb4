use super::*;

fn parse(text: &str) -> Result<SourceFile> {
    SourceFile::parse("compose.yaml", text)
}

#[test]
fn parses_a_mapping_with_positions() {
    let file = parse("services:\n  web:\n    image: nginx\n").unwrap();
    assert_eq!(file.value["services"]["web"]["image"], "nginx");
    let loc = file.positions.get("services.web.image").unwrap();
    assert_eq!(loc.to_string(), "compose.yaml:3:5");
}

#[test]
fn empty_documents_are_empty_mappings() {
    for text in ["", "\n", "# only a comment\n", "---\n"] {
        let file = parse(text).unwrap();
        assert_eq!(file.value, Value::Mapping(Mapping::new()), "{text:?}");
    }
}

#[test]
fn top_level_must_be_a_mapping() {
    for text in ["- a\n- b\n", "just a string\n", "42\n"] {
        let err = parse(text).unwrap_err();
        assert!(
            matches!(err, StackError::NotAMapping { .. }),
            "{text:?}: {err}"
        );
        assert!(err.to_string().contains("compose.yaml"));
        assert!(err.to_string().contains("mapping"));
    }
}

#[test]
fn syntax_errors_name_line_and_column() {
    let err = parse("services:\n  web:\n    image: [nginx\n").unwrap_err();
    let StackError::Yaml { file, message } = &err else {
        panic!("{err}");
    };
    assert_eq!(file, "compose.yaml");
    assert!(
        message.starts_with("4:1: ") || message.contains(':'),
        "{message}"
    );
    assert!(err.to_string().contains("compose.yaml"), "{err}");

    let err = parse("a: b\n c: d\n").unwrap_err();
    assert!(err.to_string().contains("invalid YAML: 2:3: "), "{err}");

    let err = parse("a: *nope\n").unwrap_err();
    assert!(err.to_string().contains("1:4: unknown anchor"), "{err}");
}

#[test]
fn duplicate_keys_are_refused_naming_the_key() {
    let err = parse("services:\n  web:\n    image: a\n    image: b\n").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StackError::Yaml { .. }), "{text}");
    assert!(text.contains("image"), "{text}");
    assert!(text.contains("only once"), "{text}");
}

#[test]
fn several_documents_are_refused_clearly() {
    let err = parse("services: {}\n---\nservices: {}\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("several YAML documents"), "{text}");
    assert!(text.contains("line 2"), "{text}");
}

#[test]
fn billion_laughs_is_refused_quickly() {
    let mut text = String::from("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for i in 1..=9 {
        let p = i - 1;
        let items = vec![format!("*a{p}"); 10].join(",");
        text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    // Expanded, this is 10^9 strings: refused at all means refused before the expansion (a
    // generous bound only catches that, not speed on a loaded machine).
    let start = std::time::Instant::now();
    let err = parse(&text).unwrap_err();
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
    assert!(matches!(err, StackError::AliasBomb { .. }), "{err}");
    assert!(err.to_string().contains("compose.yaml"));
}

#[test]
fn the_loader_repetition_limit_is_mapped_too() {
    let err = yaml_error(
        "f.yaml",
        "",
        &serde_yaml::from_str::<Value>(
            &(0..12)
                .map(|i| {
                    if i == 0 {
                        "a0: &a0 [x, x, x, x, x, x, x, x]\n".to_string()
                    } else {
                        format!(
                            "a{i}: &a{i} [{}]\n",
                            vec![format!("*a{}", i - 1); 8].join(",")
                        )
                    }
                })
                .collect::<String>(),
        )
        .unwrap_err(),
    );
    assert!(matches!(err, StackError::AliasBomb { .. }), "{err}");
}

#[test]
fn ordinary_aliases_are_fine() {
    let text = "\
x-env: &env
  A: 1
services:
  a: {environment: *env}
  b: {environment: *env}
";
    let file = parse(text).unwrap();
    assert_eq!(file.value["services"]["b"]["environment"]["A"], 1);
}

#[test]
fn merge_keys_are_applied_with_local_keys_winning() {
    let text = "\
x-base: &base
  image: busybox
  restart: always
x-more: &more
  restart: never
  user: root
services:
  web:
    <<: [*base, *more]
    image: nginx
  db:
    <<: *base
";
    let file = parse(text).unwrap();
    let web = &file.value["services"]["web"];
    assert_eq!(web["image"], "nginx");
    assert_eq!(web["restart"], "always");
    assert_eq!(web["user"], "root");
    assert!(web.get("<<").is_none());
    assert_eq!(file.value["services"]["db"]["image"], "busybox");
}

#[test]
fn nested_merge_keys_are_resolved() {
    let text = "\
x-a: &a
  image: a
  user: a
x-b: &b
  <<: *a
  user: b
services:
  web:
    <<: *b
";
    let file = parse(text).unwrap();
    let web = &file.value["services"]["web"];
    assert_eq!(web["image"], "a");
    assert_eq!(web["user"], "b");
    assert!(web.get("<<").is_none());
    assert!(file.value["x-b"].get("<<").is_none());
}

#[test]
fn bad_merge_values_name_the_place() {
    let err = parse("services:\n  web:\n    <<: 3\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("services.web.<<"), "{text}");
    assert!(text.contains("compose.yaml:2:3"), "{text}");
    assert!(text.contains("a number"), "{text}");

    let err = parse("services:\n  web:\n    <<: [a]\n").unwrap_err();
    assert!(err.to_string().contains("item 0"), "{err}");
}

#[test]
fn reset_and_override_tags_are_kept() {
    let text = "\
services:
  web:
    ports: !reset []
    environment: !override
      A: 1
";
    let file = parse(text).unwrap();
    let web = &file.value["services"]["web"];
    let Value::Tagged(ports) = &web["ports"] else {
        panic!("{:?}", web["ports"]);
    };
    assert_eq!(ports.tag, "!reset");
    let Value::Tagged(env) = &web["environment"] else {
        panic!("{:?}", web["environment"]);
    };
    assert_eq!(env.tag, "!override");
    assert_eq!(env.value["A"], 1);
}

#[test]
fn merge_keys_inside_tagged_values_are_applied() {
    let text = "\
x-a: &a {A: 1}
services:
  web:
    environment: !override
      <<: *a
      B: 2
";
    let file = parse(text).unwrap();
    let Value::Tagged(env) = &file.value["services"]["web"]["environment"] else {
        panic!();
    };
    assert_eq!(env.value["A"], 1);
    assert!(env.value.get("<<").is_none());
}
