use super::*;

fn none(_: &str) -> Option<String> {
    None
}

fn pairs(text: &str) -> Vec<(String, Option<String>)> {
    parse(".env", text, &none).unwrap()
}

fn p(k: &str, v: &str) -> (String, Option<String>) {
    (k.to_string(), Some(v.to_string()))
}

#[test]
fn plain_lines() {
    let text = "\
OPTION_A=1
OPTION_B=2
OPTION_C= 3
OPTION_D =4
OPTION_E = 5
OPTION_F =
OPTION_G=
export OPTION_H=8
OPTION_I: 9
";
    assert_eq!(
        pairs(text),
        vec![
            p("OPTION_A", "1"),
            p("OPTION_B", "2"),
            p("OPTION_C", "3"),
            p("OPTION_D", "4"),
            p("OPTION_E", "5"),
            p("OPTION_F", ""),
            p("OPTION_G", ""),
            p("OPTION_H", "8"),
            p("OPTION_I", "9"),
        ]
    );
}

#[test]
fn blank_lines_comments_and_inline_comments() {
    let text = "\
# a comment

  # an indented comment
A=foo # inline comment
B=foo#not a comment
C=\"quoted # kept\" # comment
D='single # kept'
E=#value
";
    assert_eq!(
        pairs(text),
        vec![
            p("A", "foo"),
            p("B", "foo#not a comment"),
            p("C", "quoted # kept"),
            p("D", "single # kept"),
            p("E", "#value"),
        ]
    );
}

#[test]
fn single_quotes_are_literal() {
    let text = r#"A='${X} \n $$ "x"'
B='it\'s'
C='a\\b'
"#;
    assert_eq!(
        pairs(text),
        vec![p("A", r#"${X} \n $$ "x""#), p("B", "it's"), p("C", r"a\\b"),]
    );
}

#[test]
fn double_quotes_understand_escapes() {
    let text = r#"A="line1\nline2"
B="tab\there"
C="back\\slash"
D="say \"hi\""
E="dollar \$HOME"
F="octal \0101"
G="unknown \q"
H="cr\r"
"#;
    assert_eq!(
        pairs(text),
        vec![
            p("A", "line1\nline2"),
            p("B", "tab\there"),
            p("C", "back\\slash"),
            p("D", "say \"hi\""),
            p("E", "dollar $HOME"),
            p("F", "octal A"),
            p("G", "unknown \\q"),
            p("H", "cr\r"),
        ]
    );
}

#[test]
fn multi_line_quoted_values() {
    let text = "A=\"first\nsecond\"\nB='x\ny'\nC=after\n";
    assert_eq!(
        pairs(text),
        vec![p("A", "first\nsecond"), p("B", "x\ny"), p("C", "after")]
    );
}

#[test]
fn key_alone_has_no_value() {
    assert_eq!(
        pairs("A\nB=1\nC"),
        vec![
            ("A".to_string(), None),
            p("B", "1"),
            ("C".to_string(), None)
        ]
    );
}

#[test]
fn interpolation_from_lookup_then_earlier_lines() {
    let lookup = |name: &str| match name {
        "HOST" => Some("example.org".to_string()),
        "SHADOWED" => Some("from-lookup".to_string()),
        _ => None,
    };
    let text = "\
BASE=/srv
SHADOWED=from-file
DIR=${BASE}/data
URL=\"https://$HOST/${BASE:-x}\"
LIT='${BASE}'
ESC=$$BASE
WHICH=${SHADOWED}
DEF=${NOPE:-fallback}
";
    let got = parse(".env", text, &lookup).unwrap();
    assert_eq!(
        got,
        vec![
            p("BASE", "/srv"),
            p("SHADOWED", "from-file"),
            p("DIR", "/srv/data"),
            p("URL", "https://example.org//srv"),
            p("LIT", "${BASE}"),
            p("ESC", "$BASE"),
            p("WHICH", "from-lookup"),
            p("DEF", "fallback"),
        ]
    );
}

#[test]
fn bom_and_crlf_are_tolerated() {
    assert_eq!(
        pairs("\u{feff}A=1\r\nB=2\r\n"),
        vec![p("A", "1"), p("B", "2")]
    );
}

#[test]
fn keys_may_hold_dots_dashes_and_brackets() {
    assert_eq!(pairs("a.b-c[0]=x\n"), vec![p("a.b-c[0]", "x")]);
}

fn err(text: &str) -> StackError {
    parse("app.env", text, &none).unwrap_err()
}

#[test]
fn invalid_lines_name_file_and_line() {
    let e = err("A=1\n\nB@C=2\n");
    let StackError::EnvFile {
        file,
        line,
        message,
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!((file.as_str(), *line), ("app.env", 3));
    assert!(message.contains("'@'"), "{message}");
    assert!(e.to_string().starts_with("app.env:3:"), "{e}");

    let e = err("A=1\nMY KEY=2\n");
    assert!(e.to_string().contains("app.env:2:"), "{e}");
    assert!(e.to_string().contains("space"), "{e}");

    let e = err("A=\"x\ny\"\nB=\"never closed\n");
    assert!(e.to_string().starts_with("app.env:3:"), "{e}");
    assert!(e.to_string().contains("unterminated"), "{e}");

    let e = err("=value\n");
    assert!(e.to_string().contains("missing variable name"), "{e}");
}

#[test]
fn interpolation_errors_name_file_and_line() {
    let e = err("A=1\nB=${MISSING:?is required}\n");
    assert!(e.to_string().starts_with("app.env:2:"), "{e}");
    assert!(e.to_string().contains("MISSING"), "{e}");
    assert!(e.to_string().contains("is required"), "{e}");

    let e = err("A=${oops\n");
    assert!(e.to_string().contains("app.env:1:"), "{e}");
    assert!(e.to_string().contains("unterminated"), "{e}");
}

#[test]
fn export_alone_is_a_key() {
    assert_eq!(pairs("export\n"), vec![("export".to_string(), None)]);
    assert_eq!(pairs("exported=1\n"), vec![p("exported", "1")]);
}
