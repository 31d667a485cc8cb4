//! What the user asks for at create, merged with the image's config as Docker does (Env,
//! Entrypoint/Cmd, WorkingDir, User, StopSignal, Healthcheck, Labels, ExposedPorts, Volumes).

use serde_json::Value;

use super::config::ContainerConfig;

/// What the user asked for at create; `None` fields take the image's values.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub image: String,
    /// Everything else; `cmd`, `env`, `labels`... as given.
    pub config: ContainerConfig,
    /// `--entrypoint` given (an empty one resets the image's).
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

/// Docker's merge of the image's config with the request.
pub(crate) fn merge(req: &CreateRequest, image_config: &Value) -> ContainerConfig {
    let ic = &image_config["config"];
    let mut c = req.config.clone();
    let mut env = strings(&ic["Env"]);
    for kv in &req.config.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    c.env = env;
    match &req.entrypoint {
        Some(e) => c.entrypoint = e.clone(),
        None => {
            c.entrypoint = strings(&ic["Entrypoint"]);
            if c.cmd.is_empty() {
                c.cmd = strings(&ic["Cmd"]);
            }
        }
    }
    c.working_dir = req
        .working_dir
        .clone()
        .or_else(|| ic["WorkingDir"].as_str().map(String::from))
        .unwrap_or_default();
    c.user = req
        .user
        .clone()
        .or_else(|| ic["User"].as_str().map(String::from))
        .unwrap_or_default();
    c.stop_signal = req
        .stop_signal
        .clone()
        .or_else(|| ic["StopSignal"].as_str().map(String::from))
        .unwrap_or_else(|| "SIGTERM".into());
    c.stop_timeout = req.stop_timeout.unwrap_or(10);
    if c.health.is_none() {
        if let Ok(h) = serde_json::from_value::<super::config::Health>(ic["Healthcheck"].clone()) {
            if h.test.first().map(String::as_str) != Some("NONE") && !h.test.is_empty() {
                // An image's 0 retries is "not set" (Docker's default: 3).
                let retries = if h.retries == 0 { 3 } else { h.retries };
                c.health = Some(super::config::Health { retries, ..h });
            }
        }
    }
    c.exposed_ports = image_exposed_ports(&ic["ExposedPorts"]);
    // `--expose` and the ports `-p` publishes add to the image's.
    c.exposed_ports.extend(req.config.exposed_ports.clone());
    for key in req.config.host.port_bindings.keys() {
        c.exposed_ports.insert(key.clone(), serde_json::json!({}));
    }
    c.volumes = serde_json::from_value(ic["Volumes"].clone()).unwrap_or_default();
    let mut labels: std::collections::BTreeMap<String, String> =
        serde_json::from_value(ic["Labels"].clone()).unwrap_or_default();
    labels.extend(req.config.labels.clone());
    c.labels = labels;
    c
}

/// Docker-style random names: adjective_surname.
pub(crate) fn random_name(id: &str) -> String {
    const LEFT: [&str; 8] = [
        "brave", "calm", "eager", "keen", "quiet", "swift", "tender", "wise",
    ];
    const RIGHT: [&str; 8] = [
        "hopper", "lovelace", "turing", "noether", "ritchie", "thompson", "curie", "kare",
    ];
    let b = hex::decode(&id[..4]).unwrap_or_else(|_| vec![0, 0]);
    format!(
        "{}_{}_{}",
        LEFT[b[0] as usize % 8],
        RIGHT[b[1] as usize % 8],
        &id[4..8]
    )
}

/// An image's ExposedPorts as `PORT/tcp|udp` keys: what `-P` publishes and the firewall
/// names. An image is hostile input: a key berth cannot publish (sctp, a range, a port out of
/// 1..=65535, anything else) is left out with a warning, never passed on.
fn image_exposed_ports(
    v: &serde_json::Value,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut out = std::collections::BTreeMap::new();
    for key in v.as_object().map(|m| m.keys()).into_iter().flatten() {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let ok = matches!(proto, "tcp" | "udp")
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0);
        if ok {
            let port: u16 = port.parse().expect("checked");
            out.insert(format!("{port}/{proto}"), serde_json::json!({}));
        } else {
            tracing::warn!(
                "the image exposes `{}`, which berth cannot publish (PORT/tcp or PORT/udp): left out",
                key.escape_debug()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_defaults_merge_as_docker_applies_them() {
        let image = serde_json::json!({"config": {
            "Env": ["PATH=/bin", "A=1", "B=2"],
            "Entrypoint": ["/entry"],
            "Cmd": ["serve"],
            "WorkingDir": "/srv",
            "User": "app",
            "StopSignal": "SIGQUIT",
            "Labels": {"from": "image", "keep": "yes"},
            "ExposedPorts": {"80/tcp": {}},
            "Volumes": {"/data": {}},
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1, "Timeout": 2,
                            "StartPeriod": 0, "Retries": 3},
        }});
        let mut req = CreateRequest::default();
        req.config.env = vec!["B=3".into(), "C=4".into()];
        req.config.labels.insert("from".into(), "user".into());
        let c = merge(&req, &image);
        assert_eq!(c.env, ["PATH=/bin", "A=1", "B=3", "C=4"]);
        assert_eq!(
            (c.entrypoint.clone(), c.cmd.clone()),
            (vec!["/entry".to_string()], vec!["serve".to_string()])
        );
        assert_eq!((c.working_dir.as_str(), c.user.as_str()), ("/srv", "app"));
        assert_eq!((c.stop_signal.as_str(), c.stop_timeout), ("SIGQUIT", 10));
        assert_eq!(c.labels["from"], "user");
        assert_eq!(c.labels["keep"], "yes");
        assert!(c.exposed_ports.contains_key("80/tcp") && c.volumes.contains_key("/data"));
        // What an image exposes that berth cannot publish is left out.
        let odd = serde_json::json!({"config": {"ExposedPorts": {
            "53/udp": {}, "8080": {}, "0080/tcp": {}, "9/sctp": {}, "1-3/tcp": {}, "0/tcp": {},
            "70000/tcp": {}, "x/tcp": {}, "+1/tcp": {}, "22/tcp\n": {},
        }}});
        let ports: Vec<String> = merge(&CreateRequest::default(), &odd)
            .exposed_ports
            .into_keys()
            .collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8080/tcp"]);
        assert_eq!(c.health.as_ref().unwrap().retries, 3);
        // A Dockerfile's HEALTHCHECK without options stores the test alone.
        let bare = serde_json::json!({"config": {"Healthcheck": {"Test": ["CMD", "true"]}}});
        let h = merge(&CreateRequest::default(), &bare).health.unwrap();
        assert_eq!((h.test.len(), h.interval, h.retries), (2, 0, 3));
        // A command replaces Cmd; --entrypoint replaces both.
        req.config.cmd = vec!["other".into()];
        assert_eq!(merge(&req, &image).cmd, ["other"]);
        req.entrypoint = Some(vec!["sh".into()]);
        req.config.cmd.clear();
        let c = merge(&req, &image);
        assert_eq!(
            (c.entrypoint, c.cmd),
            (vec!["sh".to_string()], Vec::<String>::new())
        );
        // No PATH in the image: Docker's default.
        let c = merge(
            &CreateRequest::default(),
            &serde_json::json!({"config": {}}),
        );
        assert!(c.env[0].starts_with("PATH=/usr/local/sbin"));
    }
}
