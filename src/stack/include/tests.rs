use std::collections::BTreeMap;
use std::fs;

use super::*;
use crate::stack::Positions;

fn env() -> Environment {
    Environment::from_map(BTreeMap::from([("HOME".into(), "/home/u".into())]))
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

fn run(dir: &Path, doc: &str) -> Result<Value> {
    let env = env();
    let mut loader = Loader {
        env: &env,
        interpolate: false,
        positions: Positions::default(),
    };
    let mut v: Value = serde_yaml::from_str(doc).unwrap();
    resolve_includes(&mut v, dir, dir, &mut loader)?;
    Ok(v)
}

fn yaml(s: &str) -> Value {
    serde_yaml::from_str(s).unwrap()
}

#[test]
fn includes_resources_with_their_own_relative_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "db/compose.yaml",
        "services:\n  db: {build: ., volumes: [./data:/var/lib/db], env_file: db.env}\n\
         volumes:\n  dbdata: {}\nnetworks:\n  back: {}\nsecrets:\n  pw: {file: ./pw.txt}\n",
    );
    let v = run(
        d,
        "include:\n  - db/compose.yaml\nservices:\n  web: {build: ., depends_on: [db]}\n",
    )
    .unwrap();
    let db = d.join("db").display().to_string();
    assert!(v.get("include").is_none());
    assert_eq!(
        v["services"]["db"],
        yaml(&format!(
            "{{build: {db}, volumes: [\"{db}/data:/var/lib/db\"], env_file: {db}/db.env}}"
        ))
    );
    // The includer's own paths are left for the pipeline to resolve.
    assert_eq!(v["services"]["web"]["build"], ".");
    assert_eq!(v["volumes"]["dbdata"], yaml("{}"));
    assert_eq!(v["networks"]["back"], yaml("{}"));
    assert_eq!(
        v["secrets"]["pw"]["file"],
        Value::String(format!("{db}/pw.txt"))
    );
}

#[test]
fn nested_includes_and_project_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "a/compose.yaml",
        "include:\n  - ../b/compose.yaml\nservices:\n  a: {build: ./src}\n",
    );
    write(d, "b/compose.yaml", "services:\n  b: {env_file: [b.env]}\n");
    write(d, "c/sub/c.yaml", "services:\n  c: {build: .}\n");
    let v = run(
        d,
        "include:\n  - path: a/compose.yaml\n  - path: [c/sub/c.yaml]\n    project_directory: c\n",
    )
    .unwrap();
    let s = |p: &str| Value::String(d.join(p).display().to_string());
    assert_eq!(v["services"]["a"]["build"], s("a/src"));
    assert_eq!(v["services"]["b"]["env_file"][0], s("b/b.env"));
    assert_eq!(v["services"]["c"]["build"], s("c"));
}

#[test]
fn override_files_in_path_are_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "lib/compose.yaml",
        "services:\n  x: {image: a, ports: [\"80\"]}\n",
    );
    write(
        d,
        "lib/override.yaml",
        "services:\n  x:\n    image: b\n    ports: !override [\"81\"]\n",
    );
    let v = run(
        d,
        "include:\n  - path: [lib/compose.yaml, lib/override.yaml]\n",
    )
    .unwrap();
    assert_eq!(v["services"]["x"], yaml("{image: b, ports: [\"81\"]}"));
}

#[test]
fn extends_inside_an_included_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "dir/included.yaml",
        "services:\n  included:\n    extends: {file: extended.yaml, service: extended}\n",
    );
    write(
        d,
        "dir/extended.yaml",
        "services:\n  extended: {image: alpine}\n",
    );
    let v = run(d, "include:\n  - dir/included.yaml\n").unwrap();
    assert_eq!(v["services"]["included"], yaml("{image: alpine}"));
}

#[test]
fn conflicting_resources_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "inc.yaml",
        "services:\n  db: {image: postgres}\nvolumes:\n  v: {}\n",
    );
    let err = run(d, "include: [inc.yaml]\nservices:\n  db: {image: mysql}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("services.db"), "{err}");
    assert!(
        err.contains("service `db`") && err.contains("inc.yaml"),
        "{err}"
    );
    assert!(err.contains("conflicts"), "{err}");
    let err = run(d, "include: [inc.yaml]\nvolumes:\n  v: {driver: x}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("volume `v`"), "{err}");
    // The same definition twice (a file reached through two includes) is no conflict.
    write(
        d,
        "other.yaml",
        "include: [inc.yaml]\nservices:\n  o: {image: o}\n",
    );
    let v = run(d, "include: [inc.yaml, other.yaml]\n").unwrap();
    assert_eq!(v["services"]["db"]["image"], "postgres");
    assert_eq!(v["services"]["o"]["image"], "o");
}

#[test]
fn include_cycles_name_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "a.yaml", "include: [b.yaml]\n");
    write(d, "b.yaml", "include: [a.yaml]\n");
    let err = run(d, "include: [a.yaml]\n").unwrap_err().to_string();
    assert!(err.contains("include cycle"), "{err}");
    let a = d.join("a.yaml").display().to_string();
    let b = d.join("b.yaml").display().to_string();
    assert!(
        err.contains(&format!("{a} includes {b} includes {a}")),
        "{err}"
    );
}

#[test]
fn bad_entries_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let err = run(d, "include: [missing.yaml]\n").unwrap_err().to_string();
    assert!(
        err.contains("missing.yaml") && err.contains("include[0]"),
        "{err}"
    );
    assert!(err.contains("does not exist"), "{err}");
    let err = run(d, "include: {path: x}\n").unwrap_err().to_string();
    assert!(err.contains("`include` must be a list"), "{err}");
    let err = run(d, "include:\n  - {path: x, bogus: 1}\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bogus") && err.contains("include[0].bogus"),
        "{err}"
    );
    let err = run(d, "include:\n  - {project_directory: .}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no `path`"), "{err}");
    let err = run(d, "include:\n  - {path: [1, {}]}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("include[0].path"), "{err}");
}

#[test]
fn extends_files_of_command_line_files_are_relative_to_the_project_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let v = run(
        d,
        "services:\n  web: {extends: {file: common.yml, service: base}}\n",
    )
    .unwrap();
    assert_eq!(
        v["services"]["web"]["extends"]["file"],
        Value::String(d.join("common.yml").display().to_string())
    );
}

#[test]
fn included_projects_interpolate_with_their_env_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "custom.env", "VAR_NAME=value\nSHARED=inner\n");
    write(
        d,
        "module/compose.yml",
        "services:\n  b: {image: \"img-${VAR_NAME}\", environment: [\"S=${SHARED}\"]}\n",
    );
    write(d, "other/.env", "OTHER=from-dot-env\n");
    write(
        d,
        "other/compose.yml",
        "services:\n  c: {image: \"${OTHER}\"}\n",
    );
    let env = Environment::from_map(BTreeMap::from([("SHARED".into(), "outer".into())]));
    let mut loader = Loader {
        env: &env,
        interpolate: true,
        positions: Positions::default(),
    };
    let mut v = yaml(
        "include:\n  - path: ./module/compose.yml\n    env_file: [./custom.env]\n  - other/compose.yml\n",
    );
    resolve_includes(&mut v, d, d, &mut loader).unwrap();
    assert_eq!(v["services"]["b"]["image"], "img-value");
    // The includer's environment wins over the include's env_file.
    assert_eq!(v["services"]["b"]["environment"][0], "S=outer");
    assert_eq!(v["services"]["c"]["image"], "from-dot-env");
    let mut v = yaml("include:\n  - {path: module/compose.yml, env_file: nope.env}\n");
    let err = resolve_includes(&mut v, d, d, &mut loader)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.env"), "{err}");
}
