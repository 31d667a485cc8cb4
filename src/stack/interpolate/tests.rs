use std::collections::BTreeMap;

use super::*;

/// compose-go's test mapping: FOO=first, BAR="" (set but empty).
fn defaults(name: &str) -> Option<String> {
    match name {
        "FOO" => Some("first".to_string()),
        "BAR" => Some(String::new()),
        _ => None,
    }
}

fn sub(template: &str) -> Result<String, SubstitutionError> {
    substitute(template, &defaults)
}

#[test]
fn escaped() {
    assert_eq!(sub("$${foo}").unwrap(), "${foo}");
    assert_eq!(sub("$$FOO").unwrap(), "$FOO");
    assert_eq!(sub("a$$").unwrap(), "a$");
}

#[test]
fn no_match() {
    assert_eq!(sub("foo").unwrap(), "foo");
}

#[test]
fn invalid_templates() {
    for template in [
        "${",
        "$}",
        "${}",
        "${ }",
        "${ foo}",
        "${foo }",
        "${foo!}",
        "$",
        "a $ b",
        "$1",
        "${FOO:x}",
        "${FOO:-a",
        "${FOO:-${BAR}",
    ] {
        let err = sub(template).unwrap_err();
        assert!(
            matches!(err, SubstitutionError::Invalid { .. }),
            "{template}: {err:?}"
        );
    }
    let err = sub("${foo!}").unwrap_err();
    assert_eq!(err.variable(), "foo");
    let err = sub("x ${FOO:-abc").unwrap_err();
    assert!(err.to_string().contains("unterminated"), "{err}");
}

#[test]
fn non_braced_stops_at_the_name() {
    assert_eq!(sub("$FOO-bar").unwrap(), "first-bar");
    assert_eq!(sub("$FOO.bar").unwrap(), "first.bar");
    assert_eq!(sub("$FOObar").unwrap(), "");
}

#[test]
fn no_value_no_default() {
    for template in [
        "This ${missing} var",
        "This ${BAR} var",
        "This $missing var",
    ] {
        assert_eq!(sub(template).unwrap(), "This  var");
    }
}

#[test]
fn unset_variables_are_reported() {
    let mut unset = Vec::new();
    let out = substitute_with("${A}-$B-${FOO}-${C:-x}", &defaults, &mut |n| {
        unset.push(n.to_string())
    })
    .unwrap();
    assert_eq!(out, "--first-x");
    assert_eq!(unset, ["A", "B"]);
}

#[test]
fn value_no_default() {
    for template in ["This $FOO var", "This ${FOO} var"] {
        assert_eq!(sub(template).unwrap(), "This first var");
    }
}

#[test]
fn no_value_with_default() {
    for template in ["ok ${missing:-def}", "ok ${missing-def}"] {
        assert_eq!(sub(template).unwrap(), "ok def");
    }
}

#[test]
fn soft_and_hard_defaults() {
    assert_eq!(sub("ok ${BAR:-def}").unwrap(), "ok def");
    assert_eq!(sub("ok ${FOO:-def}").unwrap(), "ok first");
    assert_eq!(sub("ok ${BAR-def}").unwrap(), "ok ");
    assert_eq!(
        sub("ok ${BAR:-/non:-alphanumeric}").unwrap(),
        "ok /non:-alphanumeric"
    );
    assert_eq!(sub("${missing-}").unwrap(), "");
}

#[test]
fn defaults_with_nested_expansion() {
    for (template, expected) in [
        ("ok ${UNSET_VAR-$FOO}", "ok first"),
        ("ok ${UNSET_VAR-${FOO}}", "ok first"),
        ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR:-$FOO}", "ok first"),
        ("ok ${BAR:-${FOO}}", "ok first"),
        ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
        ("${A:-${B:-x}}", "x"),
        ("${A:-${B:-${FOO}}}", "first"),
        ("${A:-$${x}}", "${x}"),
        ("${A:-$$}", "$"),
        ("${A:-{x}}", "{x}"),
        ("${A-x}}", "x}"),
        ("${A:-a}${FOO:-b}", "afirst"),
        ("${A:-a}:${B:-b}", "a:b"),
    ] {
        assert_eq!(sub(template).unwrap(), expected, "{template}");
    }
}

#[test]
fn mandatory_variable_errors() {
    for (template, variable, message) in [
        (
            "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
            "UNSET_VAR",
            "Mandatory Variable Unset",
        ),
        (
            "not ok ${BAR:?Mandatory Variable Empty}",
            "BAR",
            "Mandatory Variable Empty",
        ),
        ("not ok ${UNSET_VAR:?}", "UNSET_VAR", ""),
        (
            "not ok ${UNSET_VAR?Mandatory Variable Unset}",
            "UNSET_VAR",
            "Mandatory Variable Unset",
        ),
        ("not ok ${UNSET_VAR?}", "UNSET_VAR", ""),
        (
            "not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
            "UNSET_VAR",
            "Mandatory Variable first",
        ),
        (
            "not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
            "UNSET_VAR",
            "Mandatory Variable first",
        ),
    ] {
        let err = sub(template).unwrap_err();
        assert_eq!(
            err,
            SubstitutionError::Required {
                variable: variable.to_string(),
                message: message.to_string()
            },
            "{template}"
        );
        assert!(err
            .to_string()
            .contains(&format!("required variable {variable} is missing a value")));
    }
}

#[test]
fn defaults_for_mandatory_variables() {
    assert_eq!(sub("ok ${FOO:?err}").unwrap(), "ok first");
    assert_eq!(sub("ok ${FOO?err}").unwrap(), "ok first");
    assert_eq!(sub("ok ${BAR?err}").unwrap(), "ok ");
}

#[test]
fn precedence_is_the_first_operator() {
    let err = sub("${UNSET_VAR?bar-baz}").unwrap_err();
    assert_eq!(
        err,
        SubstitutionError::Required {
            variable: "UNSET_VAR".into(),
            message: "bar-baz".into()
        }
    );
    assert_eq!(sub("${UNSET_VAR-myerror?msg}").unwrap(), "myerror?msg");
    assert_eq!(sub("${FOO?bar-baz}").unwrap(), "first");
    assert_eq!(
        sub("${BAR:-default_value_for_empty_var}").unwrap(),
        "default_value_for_empty_var"
    );
    assert_eq!(
        sub("${UNSET_VAR-default_value_for_unset_var}").unwrap(),
        "default_value_for_unset_var"
    );
    assert_eq!(sub("${UNSET_VAR-va:-lu:?e}").unwrap(), "va:-lu:?e");
    assert_eq!(sub("${FOO:+va:?lu:-e}").unwrap(), "va:?lu:-e");
    assert_eq!(sub("${FOO+va:+lue}").unwrap(), "va:+lue");
}

#[test]
fn presence_alternatives() {
    assert_eq!(sub("${FOO:+alt}").unwrap(), "alt");
    assert_eq!(sub("${FOO+alt}").unwrap(), "alt");
    assert_eq!(sub("${BAR:+alt}").unwrap(), "");
    assert_eq!(sub("${BAR+alt}").unwrap(), "alt");
    assert_eq!(sub("${UNSET:+alt}").unwrap(), "");
    assert_eq!(sub("${UNSET+alt}").unwrap(), "");
    assert_eq!(sub("${FOO:+${FOO}-x}").unwrap(), "first-x");
}

#[test]
fn lowercase_and_underscore_names() {
    let lookup = |n: &str| (n == "_lower_1").then(|| "v".to_string());
    assert_eq!(substitute("$_lower_1/${_lower_1}", &lookup).unwrap(), "v/v");
}

#[test]
fn multibyte_text_is_kept() {
    assert_eq!(sub("héllo ${FOO} wörld €").unwrap(), "héllo first wörld €");
    assert!(sub("$é").is_err());
}

fn env(pairs: &[(&str, &str)]) -> Environment {
    Environment::from_map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn tree(text: &str) -> (Value, PositionIndex) {
    let file = crate::stack::SourceFile::parse("compose.yaml", text).unwrap();
    (file.value, file.positions)
}

#[test]
fn tree_values_and_items_are_interpolated_keys_are_not() {
    let (mut value, positions) = tree(
        "\
services:
  web:
    image: ${IMAGE:-nginx}:${TAG}
    command: [echo, $$HOME, \"${TAG}\"]
    environment:
      ${KEY}: $TAG
    labels: !override
      a: ${TAG}
    replicas: 3
x-ext: ${TAG}
",
    );
    interpolate_tree(&mut value, &env(&[("TAG", "1.2")]), &positions).unwrap();
    let web = &value["services"]["web"];
    assert_eq!(web["image"], "nginx:1.2");
    assert_eq!(web["command"][1], "$HOME");
    assert_eq!(web["command"][2], "1.2");
    assert_eq!(web["environment"]["${KEY}"], "1.2");
    assert_eq!(web["replicas"], 3);
    assert_eq!(value["x-ext"], "1.2");
    let Value::Tagged(labels) = &web["labels"] else {
        panic!("{:?}", web["labels"]);
    };
    assert_eq!(labels.value["a"], "1.2");
}

#[test]
fn unset_variables_become_empty_strings() {
    let (mut value, positions) = tree("services:\n  web:\n    image: \"x${MISSING}y\"\n");
    interpolate_tree(&mut value, &env(&[]), &positions).unwrap();
    assert_eq!(value["services"]["web"]["image"], "xy");
}

#[test]
fn required_variables_name_variable_path_and_location() {
    let (mut value, positions) =
        tree("services:\n  web:\n    ports:\n      - \"${PORT:?set the port}:80\"\n");
    let err = interpolate_tree(&mut value, &env(&[]), &positions).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StackError::RequiredVariable { .. }), "{text}");
    assert!(text.contains("compose.yaml:4:9"), "{text}");
    assert!(text.contains("services.web.ports[0]"), "{text}");
    assert!(text.contains("`PORT`"), "{text}");
    assert!(text.contains("set the port"), "{text}");

    let (mut value, positions) = tree("services:\n  web:\n    image: ${IMG?}\n");
    let err = interpolate_tree(&mut value, &env(&[]), &positions).unwrap_err();
    assert!(
        err.to_string().contains("set IMG in the environment"),
        "{err}"
    );
}

#[test]
fn invalid_templates_name_variable_path_and_location() {
    let (mut value, positions) =
        tree("services:\n  web:\n    environment:\n      FOO: \"${BAR\"\n");
    let err = interpolate_tree(&mut value, &env(&[]), &positions).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StackError::Interpolation { .. }), "{text}");
    assert!(text.contains("compose.yaml:4:7"), "{text}");
    assert!(text.contains("services.web.environment.FOO"), "{text}");
    assert!(text.contains("BAR"), "{text}");
    assert!(text.contains("unterminated"), "{text}");
}

#[test]
fn interpolate_str_reports_its_place() {
    let e = env(&[("A", "1")]);
    assert_eq!(
        interpolate_str("${A}", &e, || Place::path("x")).unwrap(),
        "1"
    );
    let err = interpolate_str("${B:?no}", &e, || Place::path("name")).unwrap_err();
    assert!(err.to_string().starts_with("name: "), "{err}");
}
