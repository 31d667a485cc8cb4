//! Merge rules, mostly ported from compose-go's `override` tests.

use serde_yaml::Value;

use super::*;

fn yaml(s: &str) -> Value {
    serde_yaml::from_str(s).unwrap()
}

fn merged(base: &str, overlay: &str) -> Value {
    merge(
        strip_override_tags(yaml(base)),
        yaml(overlay),
        &Positions::default(),
    )
    .unwrap()
}

fn assert_merge(base: &str, overlay: &str, want: &str) {
    let got = merged(base, overlay);
    assert_eq!(
        got,
        yaml(want),
        "got:\n{}",
        serde_yaml::to_string(&got).unwrap()
    );
}

fn merge_err(base: &str, overlay: &str) -> String {
    merge(yaml(base), yaml(overlay), &Positions::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn scalars_replace_and_services_merge_by_key() {
    let files = [
        "services: {test: {image: foo, scale: 1}}",
        "services: {test: {image: bar}}",
        "services: {test: {scale: 2}, other: {image: o}}",
    ];
    let mut doc = strip_override_tags(yaml(files[0]));
    for f in &files[1..] {
        doc = merge(doc, yaml(f), &Positions::default()).unwrap();
    }
    assert_eq!(
        doc,
        yaml("services: {test: {image: bar, scale: 2}, other: {image: o}}")
    );
}

#[test]
fn command_entrypoint_healthcheck_test_replace_whole() {
    assert_merge(
        "services: {t: {command: [a, b], entrypoint: [sh, -c], healthcheck: {test: [CMD, a], interval: 1s}}}",
        "services: {t: {command: [c], entrypoint: run, healthcheck: {test: [CMD-SHELL, b]}}}",
        "services: {t: {command: [c], entrypoint: run, healthcheck: {test: [CMD-SHELL, b], interval: 1s}}}",
    );
    // `command: null` in an override drops the command (the image's applies again).
    assert_merge(
        "services: {t: {command: [a], image: x}}",
        "services: {t: {command: null, image: null}}",
        "services: {t: {command: null, image: x}}",
    );
}

#[test]
fn environment_merges_by_key_across_forms() {
    assert_merge(
        "services: {t: {environment: [A=1, B=2, C]}}",
        "services: {t: {environment: {B: 3, D: 4, C: x}}}",
        "services: {t: {environment: {A: '1', B: 3, C: x, D: 4}}}",
    );
    assert_merge(
        "services: {t: {environment: {A: 1, B: 2}}}",
        "services: {t: {environment: [B=5, A]}}",
        "services: {t: {environment: {A: null, B: '5'}}}",
    );
    assert_merge(
        "services: {t: {environment: {FOO: BAR, KEEP: k}}}",
        "services:\n  t:\n    environment:\n      FOO: !reset\n",
        "services: {t: {environment: {KEEP: k}}}",
    );
}

#[test]
fn labels_sysctls_annotations_args_merge_by_key() {
    assert_merge(
        "services: {t: {labels: [a=1, b=2], sysctls: {net.x: 1}, annotations: [k=v], build: {context: ., args: [X=1, Y]}, deploy: {labels: [d=1]}}}",
        "services: {t: {labels: {b: 3, c: ''}, sysctls: [net.y=2], annotations: {k: w}, build: {args: {Y: 2}}, deploy: {labels: {d: 2}}}}",
        "services: {t: {labels: {a: '1', b: 3, c: ''}, sysctls: {net.x: 1, net.y: '2'}, annotations: {k: w}, build: {context: ., args: {X: '1', Y: 2}}, deploy: {labels: {d: 2}}}}",
    );
    // A bare label is an empty label, a bare variable has no value.
    assert_merge(
        "services: {t: {labels: [a], environment: [E]}}",
        "services: {t: {labels: [b=1], environment: [F=1]}}",
        "services: {t: {labels: {a: '', b: '1'}, environment: {E: null, F: '1'}}}",
    );
}

#[test]
fn top_level_network_labels_and_ipam() {
    assert_merge(
        "networks:\n  n:\n    ipam:\n      config:\n        - {subnet: 172.28.0.0/16, ip_range: 172.28.5.0/24, aux_addresses: {host1: 172.28.1.5, host2: 172.28.1.6}}\n      options: {foo: bar}\n    labels: {dept: Finance}\n",
        "networks:\n  n:\n    ipam:\n      config:\n        - {subnet: 172.28.0.0/16, ip_range: 172.28.5.1/24, aux_addresses: {host2: 172.28.1.4}}\n        - {subnet: 172.28.10.0/16}\n      options: {bar: foo}\n    labels: [dept-new=New]\n  n2:\n",
        "networks:\n  n:\n    ipam:\n      config:\n        - {subnet: 172.28.0.0/16, ip_range: 172.28.5.1/24, aux_addresses: {host1: 172.28.1.5, host2: 172.28.1.4}}\n        - {subnet: 172.28.10.0/16}\n      options: {foo: bar, bar: foo}\n    labels: {dept: Finance, dept-new: New}\n  n2:\n",
    );
}

#[test]
fn extra_hosts_append_without_identical_entries() {
    assert_merge(
        "services: {t: {extra_hosts: [example.com=1.2.3.4]}}",
        "services: {t: {extra_hosts: [localhost=127.0.0.1, example.com=1.2.3.4, example.com=4.3.2.1]}}",
        "services: {t: {extra_hosts: [example.com=1.2.3.4, localhost=127.0.0.1, example.com=4.3.2.1]}}",
    );
    assert_merge(
        "services: {t: {extra_hosts: {example.com: 1.2.3.4}}}",
        "services: {t: {extra_hosts: {localhost: 127.0.0.1, example.com: [1.2.3.4, 4.3.2.1]}}}",
        "services: {t: {extra_hosts: [example.com=1.2.3.4, example.com=4.3.2.1, localhost=127.0.0.1]}}",
    );
    assert_merge(
        "services: {t: {extra_hosts: {example.com: 1.2.3.4}}}",
        "services: {t: {extra_hosts: [localhost=127.0.0.1, example.com=1.2.3.4]}}",
        "services: {t: {extra_hosts: [example.com=1.2.3.4, localhost=127.0.0.1]}}",
    );
}

#[test]
fn networks_and_depends_on_lists_become_mappings() {
    assert_merge(
        "services: {t: {networks: [front, back]}}",
        "services: {t: {networks: [front]}}",
        "services: {t: {networks: {front: null, back: null}}}",
    );
    assert_merge(
        "services: {t: {networks: [front, n1]}}",
        "services: {t: {networks: {n1: {aliases: [a1]}, n2: {aliases: [a3]}}}}",
        "services: {t: {networks: {front: null, n1: {aliases: [a1]}, n2: {aliases: [a3]}}}}",
    );
    assert_merge(
        "services: {t: {networks: {n1: {aliases: [a1, a2], link_local_ips: [1.1.1.1]}}}}",
        "services: {t: {networks: {n1: {aliases: [a3, a1], link_local_ips: [1.1.1.2]}}}}",
        "services: {t: {networks: {n1: {aliases: [a1, a2, a3], link_local_ips: [1.1.1.1, 1.1.1.2]}}}}",
    );
    assert_merge(
        "services: {t: {depends_on: [db, cache]}}",
        "services: {t: {depends_on: {db: {condition: service_healthy}, q: {condition: service_started, required: false}}}}",
        "services: {t: {depends_on: {db: {condition: service_healthy, required: true}, cache: {condition: service_started, required: true}, q: {condition: service_started, required: false}}}}",
    );
}

#[test]
fn null_overrides_keep_the_base() {
    for attr in ["networks", "depends_on"] {
        let got = merged(
            &format!("services: {{t: {{image: foo, {attr}: [runtime]}}}}"),
            &format!("services: {{t: {{{attr}: null}}}}"),
        );
        assert_eq!(got["services"]["t"][attr], yaml("[runtime]"));
        let got = merged(
            &format!("services: {{t: {{image: foo, {attr}: null}}}}"),
            &format!("services: {{t: {{{attr}: [runtime]}}}}"),
        );
        assert_eq!(got["services"]["t"][attr], yaml("[runtime]"));
    }
}

#[test]
fn build_string_is_the_context() {
    assert_merge(
        "services: {t: {build: ./dir}}",
        "services: {t: {build: {dockerfile: Dockerfile.dev}}}",
        "services: {t: {build: {context: ./dir, dockerfile: Dockerfile.dev}}}",
    );
    assert_merge(
        "services: {t: {build: {context: ., target: a}}}",
        "services: {t: {build: ./other}}",
        "services: {t: {build: {context: ./other, target: a}}}",
    );
}

#[test]
fn logging_options_merge_only_with_the_same_driver() {
    let base =
        "services: {t: {logging: {driver: json-file, options: {frequency: 2000, timeout: 23}}}}";
    assert_merge(
        base,
        "services: {t: {logging: {driver: json-file, options: {timeout: 360, pretty: on}}}}",
        "services: {t: {logging: {driver: json-file, options: {frequency: 2000, timeout: 360, pretty: on}}}}",
    );
    assert_merge(
        base,
        "services: {t: {logging: {driver: syslog, options: {timeout: 360}}}}",
        "services: {t: {logging: {driver: syslog, options: {timeout: 360}}}}",
    );
    assert_merge(
        "services: {t: {logging: {options: {frequency: 2000}}}}",
        "services: {t: {logging: {driver: json-file, options: {timeout: 360}}}}",
        "services: {t: {logging: {driver: json-file, options: {frequency: 2000, timeout: 360}}}}",
    );
    assert_merge(
        base,
        "services: {t: {logging: {driver: syslog}}}",
        "services: {t: {logging: {driver: syslog}}}",
    );
}

#[test]
fn ulimits_merge_by_name_and_entries_replace() {
    assert_merge(
        "services: {t: {ulimits: {nofile: {soft: 11111, hard: 99999}, nproc: 44444, core: 0}}}",
        "services: {t: {ulimits: {nofile: 55555, nproc: {soft: 22222, hard: 33333}}}}",
        "services: {t: {ulimits: {nofile: 55555, nproc: {soft: 22222, hard: 33333}, core: 0}}}",
    );
    assert_merge(
        "services: {t: {ulimits: {nofile: {soft: 1, hard: 2}}}}",
        "services: {t: {ulimits: {nofile: {soft: 3}}}}",
        "services: {t: {ulimits: {nofile: {soft: 3}}}}",
    );
}

#[test]
fn ports_merge_by_unique_key() {
    assert_merge(
        "services: {t: {ports: [\"8080:80\"]}}",
        "services: {t: {ports: [\"8081:80\"]}}",
        "services: {t: {ports: [\"8080:80\", \"8081:80\"]}}",
    );
    assert_merge(
        "services: {t: {ports: [\"8080:80/tcp\"]}}",
        "services: {t: {ports: [\"8080:80/udp\"]}}",
        "services: {t: {ports: [\"8080:80/tcp\", \"8080:80/udp\"]}}",
    );
    assert_merge(
        "services: {t: {ports: [{target: 8080, published: \"80\", protocol: tcp}]}}",
        "services: {t: {ports: [{target: 8080, published: \"80\", protocol: tcp, mode: host}, {target: 8443, published: \"443\"}]}}",
        "services: {t: {ports: [{target: 8080, published: \"80\", protocol: tcp, mode: host}, {target: 8443, published: \"443\"}]}}",
    );
    assert_merge(
        "services: {t: {ports: [\"5000\", \"127.0.0.1:6000:6000\"]}}",
        "services: {t: {ports: [{target: 5000}, \"6000:6000\"]}}",
        "services: {t: {ports: [{target: 5000}, \"127.0.0.1:6000:6000\", \"6000:6000\"]}}",
    );
}

#[test]
fn volumes_secrets_configs_merge_by_target() {
    assert_merge(
        "services: {t: {volumes: [a:/a, {type: bind, source: ./b, target: /b}]}}",
        "services: {t: {volumes: [c:/c, ./b2:/b]}}",
        "services: {t: {volumes: [a:/a, ./b2:/b, c:/c]}}",
    );
    assert_merge(
        "services: {t: {secrets: [foo, {source: bar, target: waw}]}}",
        "services: {t: {secrets: [{source: bar, target: bof}, {source: baz, target: waw}]}}",
        "services: {t: {secrets: [foo, {source: baz, target: waw}, {source: bar, target: bof}]}}",
    );
    assert_merge(
        "services: {t: {configs: [foo, {source: bar, target: /waw}]}}",
        "services: {t: {configs: [{source: foo, mode: 0440}, {source: baz, target: /waw}]}}",
        "services: {t: {configs: [{source: foo, mode: 0440}, {source: baz, target: /waw}]}}",
    );
}

#[test]
fn devices_merge_by_container_path() {
    assert_merge(
        "services: {t: {devices: [\"/dev/a:/dev/x\", \"/dev/b\"]}}",
        "services: {t: {devices: [\"/dev/c:/dev/x:r\", {source: /dev/d, target: /dev/y}]}}",
        "services: {t: {devices: [\"/dev/c:/dev/x:r\", \"/dev/b\", {source: /dev/d, target: /dev/y}]}}",
    );
}

#[test]
fn lists_append_and_deduplicate() {
    assert_merge(
        "services: {t: {dns: 8.8.8.8, dns_search: [a], cap_add: [NET_ADMIN], cap_drop: [ALL], expose: [80], tmpfs: /run, security_opt: [a], external_links: [x], links: [db], profiles: [p], group_add: [1]}}",
        "services: {t: {dns: [8.8.8.8, 9.9.9.9], dns_search: b, cap_add: [NET_ADMIN, SYS_PTRACE], cap_drop: [NET_RAW], expose: [\"80\", 81], tmpfs: [/run, /tmp], security_opt: [a, b], external_links: [y], links: [db, cache], profiles: [p, q], group_add: [2]}}",
        "services: {t: {dns: [8.8.8.8, 9.9.9.9], dns_search: [a, b], cap_add: [NET_ADMIN, SYS_PTRACE], cap_drop: [ALL, NET_RAW], expose: [\"80\", 81], tmpfs: [/run, /tmp], security_opt: [a, b], external_links: [x, y], links: [db, cache], profiles: [p, q], group_add: [1, 2]}}",
    );
    assert_merge(
        "services: {t: {env_file: [common.env, {path: a.env, required: false}]}}",
        "services: {t: {env_file: [common.env, a.env, test.env]}}",
        "services: {t: {env_file: [common.env, a.env, test.env]}}",
    );
    // Same declaration in another form is not guessed to be identical.
    let got = merged(
        "services: {t: {x-list: [data:/data]}}",
        "services: {t: {x-list: [{type: volume, source: data, target: /data}]}}",
    );
    assert_eq!(
        got["services"]["t"]["x-list"].as_sequence().unwrap().len(),
        2
    );
}

#[test]
fn merging_twice_is_idempotent() {
    let base = "services: {t: {dns: [8.8.8.8], env_file: [common.env], extra_hosts: [\"host1:127.0.0.1\"], volumes: [a:/a]}}";
    let over = "services: {t: {dns: [9.9.9.9], env_file: [common.env, test.env], extra_hosts: [\"host1:127.0.0.1\", \"host2:127.0.0.2\"], volumes: [a:/a]}}";
    let once = merged(base, over);
    let twice = merge(once.clone(), yaml(over), &Positions::default()).unwrap();
    assert_eq!(once, twice);
}

#[test]
fn extensions_and_other_top_level_mappings_merge() {
    assert_merge(
        "x-common: {a: 1, b: {c: 2}}\nvolumes: {data: {driver: local}}\nsecrets: {s: {file: ./s}}",
        "x-common: {b: {d: 3}}\nvolumes: {data: {labels: [k=v]}, other: }\nconfigs: {c: {file: ./c}}",
        "x-common: {a: 1, b: {c: 2, d: 3}}\nvolumes: {data: {driver: local, labels: [k=v]}, other: }\nsecrets: {s: {file: ./s}}\nconfigs: {c: {file: ./c}}",
    );
}

#[test]
fn reset_removes_the_key() {
    assert_merge(
        "services: {foo: {build: {context: ., dockerfile: foo.Dockerfile}, ports: [\"80:80\"], image: a}}\nnetworks: {test: {name: test, external: true}}",
        "services:\n  foo:\n    image: foo\n    build: !reset\n    ports: !reset []\nnetworks: {test: !reset {}}",
        "services: {foo: {image: foo}}\nnetworks: {}",
    );
    // A !reset item of a list is dropped; the rest is appended.
    assert_merge(
        "services: {t: {dns: [a]}}",
        "services: {t: {dns: [!reset b, c], new: !reset x}}",
        "services: {t: {dns: [a, c]}}",
    );
}

#[test]
fn override_replaces_without_merging() {
    assert_merge(
        "networks: {test: {name: test, external: true}}\nservices: {t: {ports: [\"80:80\"], environment: {A: 1}}}",
        "networks: {test: !override {}}\nservices: {t: {ports: !override [\"81:81\"], environment: !override [B=2]}}",
        "networks: {test: {}}\nservices: {t: {ports: [\"81:81\"], environment: [B=2]}}",
    );
    // On a key the base lacks, the value is simply used.
    assert_merge(
        "services: {t: {image: a}}",
        "services: {t: {command: !override [x]}}",
        "services: {t: {image: a, command: [x]}}",
    );
}

#[test]
fn first_file_tags_are_stripped() {
    let doc = strip_override_tags(yaml(
        "services: {t: {image: a, build: !reset ., ports: !override [\"80\", \"80\"], dns: [!reset x, y]}}",
    ));
    assert_eq!(
        doc,
        yaml("services: {t: {image: a, ports: [\"80\"], dns: [y]}}")
    );
}

#[test]
fn unknown_tags_are_errors_naming_the_key() {
    let err = merge_err(
        "services: {t: {image: a}}",
        "services: {t: {image: !foo b}}",
    );
    assert!(err.contains("services.t.image"), "{err}");
    assert!(err.contains("!foo"), "{err}");
    let err = merge_err("{}", "services: {t: {ports: [!merge x]}}");
    assert!(err.contains("services.t.ports[0]"), "{err}");
    let e = check_tags(
        &yaml("x: [1, {y: !!str 5}]"),
        &KeyPath::root(),
        &Positions::default(),
    );
    assert!(e.is_ok());
}

#[test]
fn kind_mismatches_are_errors_naming_the_key() {
    let err = merge_err(
        "services: {t: {ports: [\"80\"]}}",
        "services: {t: {ports: {a: 1}}}",
    );
    assert!(err.contains("services.t.ports"), "{err}");
    assert!(err.contains("a list") && err.contains("a mapping"), "{err}");
    assert!(err.contains("!override"), "{err}");
    let err = merge_err(
        "services: {t: {environment: [A=1]}}",
        "services: {t: {environment: oops}}",
    );
    assert!(err.contains("services.t.environment"), "{err}");
    let err = merge_err("services: {t: {x: {a: 1}}}", "services: {t: {x: 5}}");
    assert!(err.contains("services.t.x"), "{err}");
    // A scalar base takes a collection overlay, as in Compose.
    assert_merge("x-a: 1", "x-a: {b: 2}", "x-a: {b: 2}");
}

#[test]
fn extend_service_keeps_override_tags() {
    let base = yaml("{image: a, ports: [\"80\"], environment: {A: 1, B: 2}, dns: [!reset z]}");
    let over = yaml(
        "extends: b\nports: !reset []\nenvironment:\n  B: !reset\n  C: 3\ncommand: !override [x]\n",
    );
    let out = extend_service(
        base,
        over,
        &KeyPath::root().key("services").key("web"),
        &Positions::default(),
    )
    .unwrap();
    let m = out.as_mapping().unwrap();
    assert_eq!(out["image"], "a");
    assert!(matches!(m.get("ports"), Some(Value::Tagged(_))));
    assert!(matches!(m.get("command"), Some(Value::Tagged(_))));
    let env = out["environment"].as_mapping().unwrap();
    assert_eq!(env.get("A"), Some(&Value::from(1)));
    assert!(matches!(env.get("B"), Some(Value::Tagged(_))));
    assert_eq!(env.get("C"), Some(&Value::from(3)));
    // Stripping (the first file) removes the reset keys.
    let first = strip_override_tags(yaml("services: {}"));
    let mut doc = first;
    doc["services"]
        .as_mapping_mut()
        .unwrap()
        .insert("web".into(), out);
    let doc = strip_override_tags(doc);
    let web = doc["services"]["web"].as_mapping().unwrap();
    assert!(web.get("ports").is_none());
    assert_eq!(doc["services"]["web"]["command"], yaml("[x]"));
    assert_eq!(doc["services"]["web"]["environment"], yaml("{A: 1, C: 3}"));
    assert_eq!(doc["services"]["web"]["dns"], yaml("[]"));
}
