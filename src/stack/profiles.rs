//! Profiles: services with `profiles:` start only when one of them is active.
//! OWNER: helper H2.

use super::{Environment, Positions, Project, Result, StackError};

/// `--profile` values, else COMPOSE_PROFILES (comma separated). `*` enables every profile.
pub fn active_profiles(cli: &[String], env: &Environment) -> Vec<String> {
    let from_env;
    let raw: Vec<&str> = if cli.is_empty() {
        from_env = env.get("COMPOSE_PROFILES").unwrap_or_default().to_string();
        from_env.split(',').collect()
    } else {
        cli.iter().map(String::as_str).collect()
    };
    let mut out: Vec<String> = Vec::new();
    for p in raw.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    out
}

/// `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`, the profile names the Compose schema accepts.
fn valid_profile_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Moves services none of whose profiles is active to `disabled_services`. Services without
/// `profiles` are always enabled. An enabled service that requires a disabled one is an error;
/// optional (`required: false`) dependencies on disabled services are dropped.
pub fn apply_profiles(
    project: &mut Project,
    active: &[String],
    positions: &Positions,
) -> Result<()> {
    for (name, service) in project
        .services
        .iter()
        .chain(project.disabled_services.iter())
    {
        for (i, p) in service.profiles.iter().enumerate() {
            if !valid_profile_name(p) {
                return Err(StackError::Invalid {
                    at: positions.place(&format!("services.{name}.profiles[{i}]")),
                    message: format!(
                        "invalid profile name {p:?}: a profile name starts with a letter or \
                         digit and continues with letters, digits, `_`, `.` or `-`"
                    ),
                });
            }
        }
    }
    let all = active.iter().any(|p| p == "*");
    let enabled = |profiles: &[String]| {
        profiles.is_empty() || all || profiles.iter().any(|p| active.contains(p))
    };
    let names: Vec<String> = project
        .services
        .iter()
        .filter(|(_, s)| !enabled(&s.profiles))
        .map(|(n, _)| n.clone())
        .collect();
    for name in names {
        if let Some(service) = project.services.remove(&name) {
            project.disabled_services.insert(name, service);
        }
    }
    let disabled = &project.disabled_services;
    for (name, service) in project.services.iter_mut() {
        let mut dropped = Vec::new();
        for (dep, d) in &service.depends_on {
            let Some(target) = disabled.get(dep) else {
                continue;
            };
            if !d.required {
                dropped.push(dep.clone());
                continue;
            }
            let profiles = target.profiles.join(", ");
            let first = target.profiles.first().map(String::as_str).unwrap_or("");
            return Err(StackError::Invalid {
                at: positions.place(&format!("services.{name}.depends_on.{dep}")),
                message: format!(
                    "service `{name}` depends on service `{dep}`, which is disabled because none \
                     of its profiles ({profiles}) is active; enable one with `--profile {first}` \
                     (or COMPOSE_PROFILES={first}), or mark the dependency `required: false`"
                ),
            });
        }
        for dep in dropped {
            service.depends_on.remove(&dep);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::model::{Dependency, DependencyCondition, Service};
    use std::collections::BTreeMap;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::from_map(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn svc(profiles: &[&str], deps: &[(&str, bool)]) -> Service {
        Service {
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            depends_on: deps
                .iter()
                .map(|(d, required)| {
                    (
                        d.to_string(),
                        Dependency {
                            condition: DependencyCondition::ServiceStarted,
                            required: *required,
                            restart: false,
                        },
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    fn project(services: Vec<(&str, Service)>) -> Project {
        Project {
            services: services
                .into_iter()
                .map(|(n, s)| (n.to_string(), s))
                .collect(),
            ..Default::default()
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cli_wins_over_compose_profiles() {
        let e = env(&[("COMPOSE_PROFILES", "dev, debug,,dev")]);
        assert_eq!(active_profiles(&[], &e), strings(&["dev", "debug"]));
        assert_eq!(active_profiles(&strings(&["test"]), &e), strings(&["test"]));
        assert!(active_profiles(&[], &env(&[])).is_empty());
    }

    #[test]
    fn services_without_profiles_always_run() {
        let mut p = project(vec![
            ("web", svc(&[], &[])),
            ("dbg", svc(&["debug"], &[])),
            ("dev", svc(&["dev", "test"], &[])),
        ]);
        apply_profiles(&mut p, &strings(&["test"]), &Positions::default()).unwrap();
        assert_eq!(p.services.keys().collect::<Vec<_>>(), ["dev", "web"]);
        assert_eq!(p.disabled_services.keys().collect::<Vec<_>>(), ["dbg"]);
    }

    #[test]
    fn star_enables_everything() {
        let mut p = project(vec![("a", svc(&["xx"], &[])), ("b", svc(&["yy"], &[]))]);
        apply_profiles(&mut p, &strings(&["*"]), &Positions::default()).unwrap();
        assert_eq!(p.services.len(), 2);
        assert!(p.disabled_services.is_empty());
    }

    #[test]
    fn required_dependency_on_disabled_service_is_an_error() {
        let mut p = project(vec![
            ("web", svc(&[], &[("db", true)])),
            ("db", svc(&["dev", "db"], &[])),
        ]);
        let err = apply_profiles(&mut p, &[], &Positions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("services.web.depends_on.db"), "{err}");
        assert!(err.contains("`web`") && err.contains("`db`"), "{err}");
        assert!(
            err.contains("(dev, db)") && err.contains("--profile dev"),
            "{err}"
        );
    }

    #[test]
    fn optional_dependency_on_disabled_service_is_dropped() {
        let mut p = project(vec![
            ("web", svc(&[], &[("db", false), ("cache", true)])),
            ("db", svc(&["dev"], &[])),
            ("cache", svc(&[], &[])),
        ]);
        apply_profiles(&mut p, &[], &Positions::default()).unwrap();
        let deps: Vec<_> = p.services["web"].depends_on.keys().collect();
        assert_eq!(deps, ["cache"]);
        // Enabled, the dependency stays.
        let mut p = project(vec![
            ("web", svc(&[], &[("db", false)])),
            ("db", svc(&["dev"], &[])),
        ]);
        apply_profiles(&mut p, &strings(&["dev"]), &Positions::default()).unwrap();
        assert!(p.services["web"].depends_on.contains_key("db"));
    }

    #[test]
    fn profile_names_are_validated() {
        assert!(valid_profile_name("dev"));
        assert!(valid_profile_name("a.b_c-1"));
        assert!(!valid_profile_name("x"));
        assert!(!valid_profile_name("-dev"));
        assert!(!valid_profile_name("a b"));
        let mut p = project(vec![("web", svc(&["ok", "bad name"], &[]))]);
        let err = apply_profiles(&mut p, &[], &Positions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("services.web.profiles[1]"), "{err}");
        assert!(err.contains("\"bad name\""), "{err}");
    }
}
