//! `x-*` extension keys: allowed on every object of the Compose Specification, but user data
//! inside free-form maps (`environment`, `labels`, `driver_opts`...). They are removed at
//! object positions before typing, and kept inside free-form maps.

use serde_yaml::Value;

/// Keys whose value is a free-form map of user data: every key is kept, nothing is recursed.
const FREE_FORM: &[&str] = &[
    "additional_contexts",
    "annotations",
    "args",
    "aux_addresses",
    "driver_opts",
    "environment",
    "extra_hosts",
    "labels",
    "options",
    "ssh",
    "storage_opt",
    "sysctls",
];

/// Keys whose value is a map of user-chosen names to objects: the names are kept (a service
/// may be called `x-ray`), the objects below them are cleaned.
const NAME_MAPS: &[&str] = &[
    "configs",
    "depends_on",
    "models",
    "networks",
    "secrets",
    "services",
    "ulimits",
    "volumes",
];

/// Removes `x-*` keys from the top level and from every object position below it.
pub fn strip(tree: &mut Value) {
    clean_object(tree);
}

fn is_extension(key: &Value) -> bool {
    key.as_str().is_some_and(|k| k.starts_with("x-"))
}

fn clean_object(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            map.retain(|k, _| !is_extension(k));
            for (key, child) in map.iter_mut() {
                let key = key.as_str().unwrap_or_default();
                if FREE_FORM.contains(&key) {
                    continue;
                }
                match child {
                    Value::Mapping(names) if NAME_MAPS.contains(&key) => {
                        for (_, object) in names.iter_mut() {
                            clean_object(object);
                        }
                    }
                    _ => clean_object(child),
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(clean_object),
        Value::Tagged(tagged) => clean_object(&mut tagged.value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(yaml: &str) -> Value {
        let mut v: Value = serde_yaml::from_str(yaml).unwrap();
        strip(&mut v);
        v
    }

    #[test]
    fn removes_extensions_at_object_positions() {
        let v = stripped(
            "x-common: &c {a: 1}\n\
             services:\n  web:\n    x-note: hi\n    image: nginx\n    build:\n      x-b: 1\n      context: .\n    \
             ports:\n      - {target: 80, x-p: 1}\n    deploy:\n      x-d: 1\n      resources:\n        limits: {x-l: 1}\n\
             networks:\n  front:\n    x-n: 1\n",
        );
        assert!(v.get("x-common").is_none());
        let web = &v["services"]["web"];
        assert!(web.get("x-note").is_none());
        assert!(web["build"].get("x-b").is_none());
        assert!(web["ports"][0].get("x-p").is_none());
        assert!(web["deploy"].get("x-d").is_none());
        assert!(web["deploy"]["resources"]["limits"].get("x-l").is_none());
        assert!(v["networks"]["front"].get("x-n").is_none());
    }

    #[test]
    fn keeps_user_data_and_names() {
        let v = stripped(
            "services:\n  x-ray:\n    environment: {x-token: 1}\n    labels: {x-team: a}\n    \
             build: {args: {x-arg: 1}}\n    sysctls: {x-s: 1}\n    depends_on: {x-dep: {condition: service_started}}\n\
             volumes:\n  data:\n    driver_opts: {x-o: 1}\n",
        );
        let svc = &v["services"]["x-ray"];
        assert!(svc["environment"].get("x-token").is_some());
        assert!(svc["labels"].get("x-team").is_some());
        assert!(svc["build"]["args"].get("x-arg").is_some());
        assert!(svc["sysctls"].get("x-s").is_some());
        assert!(svc["depends_on"].get("x-dep").is_some());
        assert!(v["volumes"]["data"]["driver_opts"].get("x-o").is_some());
    }
}
