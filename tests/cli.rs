//! The `berth` binary end to end (no root needed): `berth config` and its flags.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn berth(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .output()
        .expect("run berth")
}

fn berth_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("berth-cli")
        .tempdir()
        .unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

const STACK: &str = "\
services:
  web:
    image: nginx:${TAG:-1.25}
    ports:
      - \"127.0.0.1:8080:80\"
    volumes:
      - data:/var/lib/data
      - ./site:/usr/share/nginx/html:ro
    environment:
      - MODE=prod
    depends_on:
      - db
  db:
    image: postgres:16
volumes:
  data: {}
";

#[test]
fn version_and_help() {
    let dir = project(&[]);
    let out = berth(dir.path(), &["--version"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("berth "));
    let out = berth(dir.path(), &["help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("config"));
}

#[test]
fn config_prints_compose_shape() {
    let dir = project(&[("compose.yaml", STACK)]);
    let out = berth(dir.path(), &["-p", "demo", "config"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let doc: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["name"].as_str(), Some("demo"));
    let web = &doc["services"]["web"];
    assert_eq!(web["image"].as_str(), Some("nginx:1.25"));
    let port = &web["ports"][0];
    assert_eq!(port["target"].as_u64(), Some(80));
    assert_eq!(port["published"].as_str(), Some("8080"));
    assert_eq!(port["host_ip"].as_str(), Some("127.0.0.1"));
    assert_eq!(port["protocol"].as_str(), Some("tcp"));
    assert_eq!(web["volumes"][0]["type"].as_str(), Some("volume"));
    assert_eq!(web["volumes"][0]["source"].as_str(), Some("data"));
    let bind = &web["volumes"][1];
    assert_eq!(bind["type"].as_str(), Some("bind"));
    let site = dir.path().join("site");
    assert_eq!(bind["source"].as_str(), Some(site.to_str().unwrap()));
    assert_eq!(bind["read_only"].as_bool(), Some(true));
    assert_eq!(web["environment"]["MODE"].as_str(), Some("prod"));
    assert_eq!(
        web["depends_on"]["db"]["condition"].as_str(),
        Some("service_started")
    );
    assert_eq!(web["depends_on"]["db"]["required"].as_bool(), Some(true));
    assert_eq!(
        doc["networks"]["default"]["name"].as_str(),
        Some("demo_default")
    );
    assert_eq!(doc["volumes"]["data"]["name"].as_str(), Some("demo_data"));
}

#[test]
fn config_json_services_volumes_quiet() {
    let dir = project(&[("compose.yaml", STACK)]);
    let out = berth(dir.path(), &["config", "--format", "json"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["services"]["db"]["image"], "postgres:16");

    let out = berth(dir.path(), &["config", "--services"]);
    assert_eq!(text(&out.stdout), "db\nweb\n");
    let out = berth(dir.path(), &["config", "--volumes"]);
    assert_eq!(text(&out.stdout), "data\n");
    let out = berth(dir.path(), &["config", "--quiet"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn config_no_interpolate_keeps_variables() {
    let dir = project(&[("compose.yaml", STACK)]);
    let out = berth(dir.path(), &["config", "--no-interpolate"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("nginx:${TAG:-1.25}"));
}

#[test]
fn config_reads_stdin() {
    let dir = project(&[]);
    let out = berth_stdin(
        dir.path(),
        &["-f", "-", "-p", "fromstdin", "config", "--services"],
        "services:\n  one:\n    image: busybox\n",
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "one\n");
}

#[test]
fn errors_name_the_culprit_and_exit_nonzero() {
    let dir = project(&[(
        "compose.yaml",
        "services:\n  web:\n    image: busybox\n    imgae: typo\n",
    )]);
    let out = berth(dir.path(), &["config"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("imgae"), "{err}");
    assert!(err.contains("compose.yaml:4:5"), "{err}");
}

#[test]
fn missing_stack_file_is_a_clear_error() {
    let dir = project(&[]);
    let out = berth(dir.path(), &["config"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no stack file found"));
}

#[test]
fn invalid_explicit_project_name_is_refused() {
    let dir = project(&[("compose.yaml", STACK)]);
    let out = berth(dir.path(), &["-p", "Bad Name", "config"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Bad Name"));
}
