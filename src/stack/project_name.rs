//! The project name: `-p`, COMPOSE_PROJECT_NAME, top-level `name:`, else the directory name.
//!
//! A name the user gives explicitly (`-p`, COMPOSE_PROJECT_NAME) must already be valid; a
//! `name:` from the file or the directory's name is cleaned up first, as Compose does.

use std::path::Path;

use super::{Environment, Result, StackError};

const ALLOWED: &str = "a project name must consist only of lowercase letters, digits, `-` and \
                       `_`, and start with a letter or a digit";

/// Picks the project name by Compose's precedence.
pub fn resolve(
    explicit: Option<&str>,
    env: &Environment,
    top_level: Option<&str>,
    project_dir: &Path,
) -> Result<String> {
    let imperative = explicit
        .filter(|s| !s.is_empty())
        .map(|s| (s, "-p"))
        .or_else(|| {
            env.get("COMPOSE_PROJECT_NAME")
                .filter(|s| !s.is_empty())
                .map(|s| (s, "COMPOSE_PROJECT_NAME"))
        });
    if let Some((name, source)) = imperative {
        if !is_valid(name) {
            return Err(StackError::ProjectName {
                name: name.to_string(),
                message: format!("{ALLOWED} (it was given by {source})"),
            });
        }
        return Ok(name.to_string());
    }
    if let Some(name) = top_level.map(normalize).filter(|n| !n.is_empty()) {
        return Ok(name);
    }
    let dir_name = project_dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = normalize(&dir_name);
    if name.is_empty() {
        return Err(StackError::ProjectName {
            name: dir_name,
            message: format!(
                "no project name could be made from the directory {}; {ALLOWED}: pass one \
                 with -p, or set `name:` in the stack file",
                project_dir.display()
            ),
        });
    }
    Ok(name)
}

/// Whether `name` matches `^[a-z0-9][a-z0-9_-]*$`.
pub fn is_valid(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Lower-cases `name`, drops characters outside `[a-z0-9_-]` and leading `_`/`-`.
pub fn normalize(name: &str) -> String {
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .filter(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        .collect();
    cleaned.trim_start_matches(['_', '-']).to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn dir() -> &'static Path {
        Path::new("/home/me/My_App")
    }

    #[test]
    fn precedence() {
        let e = env(&[("COMPOSE_PROJECT_NAME", "fromenv")]);
        assert_eq!(
            resolve(Some("cli"), &e, Some("file"), dir()).unwrap(),
            "cli"
        );
        assert_eq!(resolve(None, &e, Some("file"), dir()).unwrap(), "fromenv");
        assert_eq!(
            resolve(None, &env(&[]), Some("file"), dir()).unwrap(),
            "file"
        );
        assert_eq!(resolve(None, &env(&[]), None, dir()).unwrap(), "my_app");
        // Empty values do not count.
        let empty = env(&[("COMPOSE_PROJECT_NAME", "")]);
        assert_eq!(resolve(Some(""), &empty, None, dir()).unwrap(), "my_app");
    }

    #[test]
    fn explicit_names_must_be_valid() {
        for bad in ["MyApp", "_app", "-app", "my app", "app.1", "é"] {
            let err = resolve(Some(bad), &env(&[]), None, dir()).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, StackError::ProjectName { .. }), "{text}");
            assert!(text.contains(&format!("{bad:?}")), "{text}");
            assert!(text.contains("lowercase letters"), "{text}");
            assert!(text.contains("-p"), "{text}");
        }
        let e = env(&[("COMPOSE_PROJECT_NAME", "Bad")]);
        let err = resolve(None, &e, None, dir()).unwrap_err();
        assert!(err.to_string().contains("COMPOSE_PROJECT_NAME"), "{err}");
        for good in ["app", "0app", "my-app_2"] {
            assert_eq!(resolve(Some(good), &env(&[]), None, dir()).unwrap(), good);
        }
    }

    #[test]
    fn file_and_directory_names_are_cleaned() {
        assert_eq!(
            resolve(None, &env(&[]), Some("My App.v2!"), dir()).unwrap(),
            "myappv2"
        );
        assert_eq!(resolve(None, &env(&[]), Some("__-x"), dir()).unwrap(), "x");
        assert_eq!(
            resolve(None, &env(&[]), None, Path::new("/srv/_Web.Site-1")).unwrap(),
            "website-1"
        );
        // A `name:` that cleans to nothing falls back to the directory.
        assert_eq!(
            resolve(None, &env(&[]), Some("!!!"), dir()).unwrap(),
            "my_app"
        );
    }

    #[test]
    fn nothing_usable_asks_for_dash_p() {
        let err = resolve(None, &env(&[]), None, Path::new("/srv/___")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("pass one with -p"), "{text}");
        let err = resolve(None, &env(&[]), None, Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("-p"), "{err}");
    }

    #[test]
    fn normalize_and_validate() {
        assert_eq!(normalize("ABC_def-9"), "abc_def-9");
        assert_eq!(normalize("-_-a"), "a");
        assert!(is_valid("a-b_c9"));
        assert!(!is_valid(""));
        assert!(!is_valid("A"));
    }
}
