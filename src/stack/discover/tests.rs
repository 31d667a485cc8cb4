use std::fs;

use super::*;

fn opts(dir: &Path) -> LoadOptions {
    LoadOptions {
        interpolate: true,
        working_dir: dir.to_path_buf(),
        ..Default::default()
    }
}

fn touch(path: &Path) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, "services: {}\n").unwrap();
}

fn paths(found: &Discovered) -> Vec<String> {
    found.files.iter().map(|f| f.to_string()).collect()
}

#[test]
fn explicit_files_in_order_relative_to_the_working_dir() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("sub/base.yaml"));
    touch(&dir.path().join("other.yaml"));
    let mut o = opts(dir.path());
    o.files = vec!["sub/base.yaml".into(), "./other.yaml".into()];
    let found = discover(&o).unwrap();
    assert_eq!(
        found.files,
        vec![
            FileSpec::Path(dir.path().join("sub/base.yaml")),
            FileSpec::Path(dir.path().join("other.yaml")),
        ]
    );
    assert_eq!(found.project_dir, dir.path().join("sub"));
}

#[test]
fn a_missing_explicit_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.files = vec!["missing.yaml".into()];
    let err = discover(&o).unwrap_err();
    assert!(matches!(err, StackError::Read { .. }), "{err}");
    assert!(err.to_string().contains("missing.yaml"), "{err}");

    o.files = vec![".".into()];
    let err = discover(&o).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");
}

#[test]
fn stdin_uses_the_working_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.files = vec!["-".into()];
    let found = discover(&o).unwrap();
    assert_eq!(found.files, vec![FileSpec::Stdin]);
    assert_eq!(found.project_dir, dir.path());
    assert_eq!(paths(&found), ["-"]);
}

#[test]
fn project_directory_wins_and_is_made_absolute() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("compose.yaml"));
    let mut o = opts(dir.path());
    o.project_directory = Some("proj".into());
    let found = discover(&o).unwrap();
    assert_eq!(found.project_dir, dir.path().join("proj"));
}

#[test]
fn compose_file_from_the_process_env() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("compose.yaml"));
    touch(&dir.path().join("a.yaml"));
    touch(&dir.path().join("b.yaml"));
    let mut o = opts(dir.path());
    o.process_env
        .insert("COMPOSE_FILE".into(), "a.yaml:b.yaml".into());
    let found = discover(&o).unwrap();
    assert_eq!(
        found.files,
        vec![
            FileSpec::Path(dir.path().join("a.yaml")),
            FileSpec::Path(dir.path().join("b.yaml")),
        ]
    );

    o.process_env
        .insert("COMPOSE_FILE".into(), "a.yaml;b.yaml".into());
    o.process_env
        .insert("COMPOSE_PATH_SEPARATOR".into(), ";".into());
    assert_eq!(discover(&o).unwrap().files.len(), 2);

    o.process_env
        .insert("COMPOSE_FILE".into(), "a.yaml;gone.yaml".into());
    let err = discover(&o).unwrap_err();
    assert!(err.to_string().contains("gone.yaml"), "{err}");
}

#[test]
fn compose_file_from_dot_env() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("compose.yaml"));
    touch(&dir.path().join("x.yaml"));
    fs::write(dir.path().join(".env"), "COMPOSE_FILE=x.yaml\n").unwrap();
    let found = discover(&opts(dir.path())).unwrap();
    assert_eq!(found.files, vec![FileSpec::Path(dir.path().join("x.yaml"))]);

    // The process environment beats .env.
    let mut o = opts(dir.path());
    o.process_env
        .insert("COMPOSE_FILE".into(), "compose.yaml".into());
    let found = discover(&o).unwrap();
    assert_eq!(
        found.files,
        vec![FileSpec::Path(dir.path().join("compose.yaml"))]
    );
}

#[test]
fn search_prefers_names_in_compose_order_and_adds_the_override() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "docker-compose.yml",
        "compose.yml",
        "compose.yaml",
        "compose.override.yaml",
    ] {
        touch(&dir.path().join(name));
    }
    let found = discover(&opts(dir.path())).unwrap();
    assert_eq!(
        found.files,
        vec![
            FileSpec::Path(dir.path().join("compose.yaml")),
            FileSpec::Path(dir.path().join("compose.override.yaml")),
        ]
    );
    assert_eq!(found.project_dir, dir.path());
}

#[test]
fn legacy_names_and_their_override() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("docker-compose.yaml"));
    touch(&dir.path().join("docker-compose.yml"));
    touch(&dir.path().join("docker-compose.override.yml"));
    let found = discover(&opts(dir.path())).unwrap();
    assert_eq!(
        found.files,
        vec![
            FileSpec::Path(dir.path().join("docker-compose.yml")),
            FileSpec::Path(dir.path().join("docker-compose.override.yml")),
        ]
    );
}

#[test]
fn search_walks_up_to_the_nearest_parent() {
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("compose.yml"));
    touch(&dir.path().join("a/compose.yaml"));
    let deep = dir.path().join("a/b/c");
    fs::create_dir_all(&deep).unwrap();
    let found = discover(&opts(&deep)).unwrap();
    assert_eq!(
        found.files,
        vec![FileSpec::Path(dir.path().join("a/compose.yaml"))]
    );
    assert_eq!(found.project_dir, dir.path().join("a"));
}

#[test]
fn nothing_found_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    // A directory named like a stack file does not count.
    fs::create_dir(dir.path().join("compose.yaml")).unwrap();
    let err = discover(&opts(dir.path())).unwrap_err();
    assert!(matches!(err, StackError::NoStackFile { .. }), "{err}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("-f"), "{err}");
}
