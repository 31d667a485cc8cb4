//! Normalization tests: resources, names, networks, environment, dependencies.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::stack::input::StackFile;
use crate::stack::model::{Dependency, DependencyCondition, Service};
use crate::stack::{SourceFile, StackError};

/// Loads `yaml` as project `proj` in `dir` with the environment `env`.
pub(super) fn load_in(yaml: &str, dir: &Path, env: &[(&str, &str)]) -> Result<Project> {
    let source = SourceFile::parse("compose.yaml", yaml).expect("test YAML parses");
    let mut positions = Positions::default();
    positions.push(source.positions);
    let input = StackFile::from_tree(source.value, &positions)?;
    let env = Environment::from_map(
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    );
    let ctx = Context {
        project_name: "proj",
        project_dir: dir,
        env: &env,
        positions: &positions,
    };
    normalize(input, &ctx)
}

pub(super) fn load(yaml: &str) -> Project {
    load_in(yaml, Path::new("/proj"), &[]).unwrap_or_else(|e| panic!("normalize failed: {e}"))
}

pub(super) fn load_err(yaml: &str) -> String {
    match load_in(yaml, Path::new("/proj"), &[]) {
        Ok(p) => panic!("expected an error, got {p:?}"),
        Err(e) => e.to_string(),
    }
}

pub(super) fn svc<'a>(p: &'a Project, name: &str) -> &'a Service {
    &p.services[name]
}

fn started(restart: bool) -> Dependency {
    Dependency {
        condition: DependencyCondition::ServiceStarted,
        required: true,
        restart,
    }
}

#[test]
fn resource_names_follow_compose() {
    let p = load(
        "services:\n  web:\n    image: nginx\nnetworks:\n  front:\n  back: {name: custom}\n  \
         ext: {external: true}\n  old: {external: {name: legacy}}\nvolumes:\n  data:\n  \
         shared: {external: true, name: shared-data}\nsecrets:\n  s: {file: /run/s}\n\
         configs:\n  c: {content: hello}\n  e: {external: true}\n",
    );
    assert_eq!(p.networks["front"].name, "proj_front");
    assert_eq!(p.networks["back"].name, "custom");
    assert_eq!(p.networks["ext"].name, "ext");
    assert!(p.networks["ext"].external);
    assert_eq!(p.networks["old"].name, "legacy");
    assert_eq!(p.volumes["data"].name, "proj_data");
    assert_eq!(p.volumes["shared"].name, "shared-data");
    assert_eq!(p.secrets["s"].name, "proj_s");
    assert_eq!(p.secrets["s"].file.as_deref(), Some("/run/s"));
    assert_eq!(p.configs["c"].content.as_deref(), Some("hello"));
    assert_eq!(p.configs["e"].name, "e");
}

#[test]
fn resource_errors_name_the_resource() {
    let err = load_err("networks:\n  n:\n    name: a\n    external: {name: b}\n");
    assert!(
        err.contains("networks.n.external.name") && err.contains("keep `name`"),
        "{err}"
    );
    let err = load_err("secrets:\n  s:\n    labels: {a: b}\n");
    assert!(err.contains("secrets.s") && err.contains("`file`"), "{err}");
    let err = load_err("configs:\n  c:\n    file: /a\n    content: b\n");
    assert!(
        err.contains("configs.c") && err.contains("only one"),
        "{err}"
    );
    let err = load_err("volumes:\n  v:\n    external: true\n    driver: local\n");
    assert!(
        err.contains("volumes.v") && err.contains("external"),
        "{err}"
    );
}

#[test]
fn default_network_is_added_where_used() {
    let p = load(
        "services:\n  a:\n    image: x\n  b:\n    image: x\n    network_mode: host\n  \
         c:\n    image: x\n    networks: [front]\nnetworks:\n  front:\n",
    );
    assert_eq!(
        svc(&p, "a").networks.keys().collect::<Vec<_>>(),
        vec!["default"]
    );
    assert!(svc(&p, "b").networks.is_empty());
    assert_eq!(
        svc(&p, "c").networks.keys().collect::<Vec<_>>(),
        vec!["front"]
    );
    assert_eq!(p.networks["default"].name, "proj_default");

    let p = load("services:\n  b:\n    image: x\n    network_mode: none\n");
    assert!(p.networks.is_empty(), "no service uses the default network");

    let p = load("services:\n  a:\n    image: x\nnetworks:\n  default:\n    name: mine\n");
    assert_eq!(p.networks["default"].name, "mine");
}

#[test]
fn service_networks_long_form() {
    let p = load(
        "services:\n  a:\n    image: x\n    networks:\n      front:\n        aliases: [api]\n        \
         ipv4_address: 10.0.0.2\n        priority: '5'\n      back:\nnetworks:\n  front:\n  back:\n",
    );
    let n = &svc(&p, "a").networks;
    let front = n["front"].as_ref().unwrap();
    assert_eq!(front.aliases, vec!["api"]);
    assert_eq!(front.ipv4_address.as_deref(), Some("10.0.0.2"));
    assert_eq!(front.priority, Some(5));
    assert!(n["back"].is_none());
}

#[test]
fn environment_list_and_map_resolve_from_environment() {
    let yaml = "services:\n  a:\n    image: x\n    environment:\n      - A=1\n      - B\n      \
                - C\n      - D=x=y\n  b:\n    image: x\n    environment:\n      A: 1\n      B:\n      \
                C: true\n";
    let p = load_in(yaml, Path::new("/proj"), &[("B", "from-env")]).unwrap();
    let a = &svc(&p, "a").environment;
    assert_eq!(a["A"].as_deref(), Some("1"));
    assert_eq!(a["B"].as_deref(), Some("from-env"));
    assert_eq!(a["C"], None);
    assert_eq!(a["D"].as_deref(), Some("x=y"));
    let b = &svc(&p, "b").environment;
    assert_eq!(b["A"].as_deref(), Some("1"));
    assert_eq!(b["B"].as_deref(), Some("from-env"));
    assert_eq!(b["C"].as_deref(), Some("true"));
}

#[test]
fn env_files_merge_under_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.env"),
        "A=from-a\nB=from-a\nC=${HOST_VAR}\nINHERIT\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.env"), "B=from-b\n").unwrap();
    let yaml = format!(
        "services:\n  s:\n    image: x\n    env_file:\n      - {d}/a.env\n      - path: b.env\n      \
         - path: {d}/missing.env\n        required: false\n    environment:\n      A: explicit\n",
        d = dir.path().display()
    );
    let env = [("HOST_VAR", "hv"), ("INHERIT", "inh")];
    let p = load_in(&yaml, dir.path(), &env).unwrap();
    let e = &svc(&p, "s").environment;
    assert_eq!(e["A"].as_deref(), Some("explicit"), "environment wins");
    assert_eq!(e["B"].as_deref(), Some("from-b"), "later env file wins");
    assert_eq!(e["C"].as_deref(), Some("hv"));
    assert_eq!(e["INHERIT"].as_deref(), Some("inh"));

    let yaml = format!(
        "services:\n  s:\n    image: x\n    env_file: {}/nope.env\n",
        dir.path().display()
    );
    let err = load_in(&yaml, dir.path(), &[]).unwrap_err().to_string();
    assert!(
        err.contains("services.s.env_file") && err.contains("nope.env"),
        "{err}"
    );
    assert!(err.contains("required: false"), "{err}");
}

#[test]
fn labels_and_sysctls_become_maps() {
    let p = load(
        "services:\n  a:\n    image: x\n    labels: [com.example=1, flag]\n    \
         sysctls: [net.core.somaxconn=1024]\n  b:\n    image: x\n    labels: {a: 1, b: true}\n    \
         sysctls: {net.ipv4.ip_forward: 1}\n",
    );
    let a = svc(&p, "a");
    assert_eq!(a.labels["com.example"], "1");
    assert_eq!(a.labels["flag"], "");
    assert_eq!(a.sysctls["net.core.somaxconn"], "1024");
    let b = svc(&p, "b");
    assert_eq!(b.labels["b"], "true");
    assert_eq!(b.sysctls["net.ipv4.ip_forward"], "1");
}

#[test]
fn depends_on_short_long_and_implicit() {
    let p = load(
        "services:\n  web:\n    image: x\n    depends_on: [db]\n    links: [cache:c, db]\n    \
         volumes_from: [store:ro, 'container:other']\n    ipc: 'service:shm'\n  \
         api:\n    image: x\n    depends_on:\n      db: {condition: service_healthy, required: false, restart: true}\n    \
         network_mode: 'service:vpn'\n",
    );
    let web = &svc(&p, "web").depends_on;
    assert_eq!(
        web["db"],
        started(false),
        "explicit entry wins over the link"
    );
    assert_eq!(web["cache"], started(true));
    assert_eq!(web["store"], started(false));
    assert_eq!(web["shm"], started(true));
    assert!(!web.contains_key("container") && !web.contains_key("other"));
    let api = &svc(&p, "api").depends_on;
    assert_eq!(
        api["db"],
        Dependency {
            condition: DependencyCondition::ServiceHealthy,
            required: false,
            restart: true,
        }
    );
    assert_eq!(api["vpn"], started(true));
}

#[test]
fn errors_carry_file_line_and_column() {
    let err = load_err("services:\n  web:\n    image: x\n    stop_grace_period: '10'\n");
    assert!(
        err.starts_with("compose.yaml:4:5: services.web.stop_grace_period"),
        "{err}"
    );
    assert!(err.contains("missing unit"), "{err}");
    let err = load_in(
        "services:\n  web:\n    image: x\n    cpus: -1\n",
        Path::new("/p"),
        &[],
    );
    assert!(
        matches!(err, Err(StackError::Invalid { ref at, .. }) if at.path == "services.web.cpus")
    );
}
