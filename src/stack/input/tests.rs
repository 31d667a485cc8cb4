//! Typing tests: the whole spec types, unknown keys and wrong types name their path and
//! location.

use super::*;
use crate::stack::{Positions, SourceFile, StackError};

fn load(yaml: &str) -> (Result<StackFile>, Positions) {
    let source = SourceFile::parse("compose.yaml", yaml).expect("test YAML parses");
    let mut positions = Positions::default();
    positions.push(source.positions);
    (StackFile::from_tree(source.value, &positions), positions)
}

fn typed(yaml: &str) -> StackFile {
    match load(yaml).0 {
        Ok(f) => f,
        Err(e) => panic!("typing failed: {e}"),
    }
}

fn error(yaml: &str) -> StackError {
    match load(yaml).0 {
        Ok(f) => panic!("expected an error, typed {f:?}"),
        Err(e) => e,
    }
}

fn web(file: &StackFile) -> &Service {
    &file.services.as_ref().unwrap()["web"]
}

#[test]
fn unknown_key_names_key_path_and_location() {
    let err = error("services:\n  web:\n    image: nginx\n    portz:\n      - 80\n");
    match &err {
        StackError::UnknownKey { at, key, .. } => {
            assert_eq!(key, "portz");
            assert_eq!(at.path, "services.web.portz");
            let loc = at.location.as_ref().expect("location");
            assert_eq!(
                (loc.file.as_str(), loc.line, loc.column),
                ("compose.yaml", 4, 5)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("compose.yaml:4:5"), "{text}");
    assert!(text.contains("`portz`"), "{text}");
}

#[test]
fn unknown_key_inside_long_syntax_keeps_its_path() {
    let err = error("services:\n  web:\n    ports:\n      - target: 80\n        publishd: 8080\n");
    match err {
        StackError::UnknownKey { at, key, .. } => {
            assert_eq!(key, "publishd");
            assert_eq!(at.path, "services.web.ports[0].publishd");
            assert_eq!(at.location.map(|l| l.line), Some(5));
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = error("services:\n  web:\n    build:\n      context: .\n      dockerfil: x\n");
    assert!(
        matches!(err, StackError::UnknownKey { ref at, .. } if at.path == "services.web.build.dockerfil")
    );
    let err = error("services:\n  web:\n    depends_on:\n      db:\n        condtion: x\n");
    assert!(
        matches!(err, StackError::UnknownKey { ref at, .. } if at.path == "services.web.depends_on.db.condtion")
    );
}

#[test]
fn unknown_top_level_key() {
    let err = error("servics:\n  web: {}\n");
    assert!(
        matches!(err, StackError::UnknownKey { ref key, ref at, .. } if key == "servics" && at.path == "servics")
    );
}

#[test]
fn wrong_type_names_path_and_expectation() {
    let err = error("services:\n  web:\n    read_only: maybe\n");
    let text = err.to_string();
    assert!(text.contains("services.web.read_only"), "{text}");
    assert!(text.contains("maybe") && text.contains("boolean"), "{text}");
    assert!(text.contains("compose.yaml:3:"), "{text}");

    let err = error("services:\n  web:\n    ports: 80\n");
    assert!(matches!(err, StackError::WrongType { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("services.web.ports"), "{text}");
    assert!(
        text.contains("expected a list, found integer `80`"),
        "{text}"
    );

    let err = error("services:\n  web:\n    ports:\n      - true\n");
    let text = err.to_string();
    assert!(text.contains("services.web.ports[0]"), "{text}");
    assert!(text.contains("a port number"), "{text}");

    let err = error("services:\n  web:\n    user: 1000\n");
    let text = err.to_string();
    assert!(
        text.contains("services.web.user") && text.contains("quote"),
        "{text}"
    );
}

#[test]
fn missing_required_key_and_bad_enum_value() {
    let err = error("services:\n  web:\n    volumes:\n      - source: data\n        target: /d\n");
    let text = err.to_string();
    assert!(
        text.contains("services.web.volumes[0]") && text.contains("`type`"),
        "{text}"
    );

    let err = error("services:\n  web:\n    volumes:\n      - type: bnd\n        target: /d\n");
    assert!(matches!(err, StackError::Invalid { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("services.web.volumes[0].type") && text.contains("bnd"),
        "{text}"
    );
    assert!(text.contains("bind"), "{text}");
}

#[test]
fn strings_stand_in_for_numbers_and_booleans() {
    let f = typed(
        "services:\n  web:\n    read_only: 'true'\n    cpus: '0.5'\n    scale: '2'\n    \
         ports: ['8080:80', 81]\n    init: 'yes'\n    deploy:\n      replicas: '3'\n",
    );
    let s = web(&f);
    assert_eq!(s.read_only, Some(Bool(true)));
    assert_eq!(s.cpus, Some(Float(0.5)));
    assert_eq!(s.scale, Some(UInt(2)));
    assert_eq!(s.init, Some(Bool(true)));
    assert_eq!(
        s.ports,
        Some(vec![
            PortEntry::Short("8080:80".into()),
            PortEntry::Number(81)
        ])
    );
    assert_eq!(s.deploy.as_ref().unwrap().replicas, Some(UInt(3)));
}

#[test]
fn extensions_are_ignored_at_object_positions() {
    let f = typed(
        "x-defaults: &d\n  restart: always\nservices:\n  web:\n    x-meta: 1\n    image: nginx\n    \
         environment:\n      x-token: abc\n    healthcheck:\n      x-h: 1\n      test: true-cmd\n\
         networks:\n  front:\n    x-n: 1\n",
    );
    let s = web(&f);
    assert_eq!(s.image.as_deref(), Some("nginx"));
    let env = s.environment.as_ref().unwrap().entries();
    assert_eq!(env, vec![("x-token".to_string(), Some("abc".to_string()))]);
    assert!(f.networks.as_ref().unwrap().contains_key("front"));
}

#[test]
fn version_include_and_short_long_forms_type() {
    let f = typed(
        "version: '3.9'\nname: demo\ninclude: []\nservices:\n  web:\n    build: ./app\n    \
         command: echo hi\n    entrypoint: [sh, -c]\n    depends_on: [db]\n    networks: [front]\n    \
         env_file: .env\n    secrets: [s1, {source: s2, target: /s, mode: '0440'}]\n    \
         ulimits: {nofile: {soft: 1, hard: 2}, nproc: 5}\n    extra_hosts: {db: 10.0.0.1}\n  \
         db:\n    image: postgres\n    depends_on:\n      cache: {condition: service_healthy}\n    \
         networks:\n      front:\n      back: {aliases: [pg]}\n    env_file:\n      - a.env\n      \
         - {path: b.env, required: false}\nnetworks:\n  front:\n  back: {external: true}\n\
         volumes:\n  data:\nsecrets:\n  s1: {file: ./s1}\n",
    );
    let s = web(&f);
    assert!(matches!(s.build, Some(Build::Context(ref c)) if c == "./app"));
    assert!(matches!(s.command, Some(Command::Shell(_))));
    assert!(matches!(s.entrypoint, Some(Command::Exec(ref v)) if v.len() == 2));
    assert!(matches!(s.depends_on, Some(DependsOn::List(_))));
    assert!(matches!(s.env_file, Some(EnvFile::One(_))));
    let secrets = s.secrets.as_ref().unwrap();
    assert!(
        matches!(secrets[1], FileRef::Long(ref l) if l.mode == Some(IntOrString::Str("0440".into())))
    );
    let db = &f.services.as_ref().unwrap()["db"];
    assert!(matches!(db.networks, Some(ServiceNetworks::Map(ref m)) if m["front"].is_none()));
    assert!(
        matches!(db.depends_on, Some(DependsOn::Map(ref m)) if m["cache"].condition == Condition::ServiceHealthy)
    );
    assert!(f.networks.as_ref().unwrap()["front"].is_none());
    assert!(f.volumes.as_ref().unwrap()["data"].is_none());
}

#[test]
fn empty_tree_types_as_empty_file() {
    let f = StackFile::from_tree(serde_yaml::Value::Null, &Positions::default()).unwrap();
    assert_eq!(f, StackFile::default());
}

#[test]
fn unknown_keys_suggest_the_closest_known_key() {
    let err = error("services:\n  web:\n    imgae: nginx\n");
    assert!(err.to_string().contains("did you mean `image`?"), "{err}");
    let err = error("services:\n  web:\n    image: x\n    zzzzzz: 1\n");
    assert!(err.to_string().contains("check its spelling"), "{err}");
}
