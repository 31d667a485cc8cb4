//! Image references as Docker reads them: `name[:tag][@sha256:hex]`, with `docker.io` and
//! `library/` filled in (`busybox` is `docker.io/library/busybox:latest`), and the short
//! "familiar" form for display.

use std::fmt;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference `{input}`: {reason}")]
    Invalid { input: String, reason: String },
}

/// A normalised reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host (and port): `docker.io`, `localhost:5000`, `example.com`.
    pub domain: String,
    /// Repository path under it: `library/busybox`, `team/app`.
    pub path: String,
    /// `None` only when a digest is given without a tag.
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

impl Reference {
    /// Parses and normalises `input` as Docker does.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let invalid = |reason: &str| ReferenceError::Invalid {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(invalid("it is empty"));
        }
        if input.len() > 255 + 128 + 72 {
            return Err(invalid("it is too long"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                check_digest(d).map_err(|r| invalid(&r))?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // A tag follows the last `:` after the last `/` (a `:` before it is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            check_tag(t).map_err(|r| invalid(&r))?;
        }
        if name.is_empty() {
            return Err(invalid("the repository name is empty"));
        }
        let (domain, path) = split_domain(name);
        if let Some(d) = &domain {
            check_domain(d).map_err(|r| invalid(&r))?;
        }
        if path.len() > 255 {
            return Err(invalid("the repository name is longer than 255 characters"));
        }
        for component in path.split('/') {
            check_component(component).map_err(|r| invalid(&r))?;
        }
        let domain = domain.unwrap_or_else(|| DEFAULT_DOMAIN.to_string());
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `busybox`, `team/app`, `localhost:5000/x`: the repository as Docker shows it.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.repository()
        }
    }

    /// `busybox:latest`, `localhost:5000/x:y`, `busybox@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    /// The full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// A first component with a `.` or `:`, or `localhost`, is a registry.
fn split_domain(name: &str) -> (Option<String>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first.to_string()), rest)
        }
        _ => (None, name),
    }
}

fn check_domain(d: &str) -> Result<(), String> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 {
            return Err(format!("registry port `{p}` is not a number"));
        }
    }
    let ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("registry `{d}` is not a valid host name"))
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn check_component(c: &str) -> Result<(), String> {
    if c.is_empty() {
        return Err("a repository path component is empty".into());
    }
    if c.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository name `{c}` must be lowercase"));
    }
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(format!(
            "repository name `{c}` must start and end with a letter or digit"
        ));
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(format!(
                "repository name `{c}` has an invalid separator `{sep}` (use `.`, `_`, `__` or `-`)"
            ));
        }
    }
    Ok(())
}

/// `[\w][\w.-]{0,127}`
fn check_tag(t: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = t.as_bytes();
    if bytes.is_empty() || bytes.len() > 128 {
        return Err(format!("tag `{t}` must be 1 to 128 characters"));
    }
    if !word(bytes[0]) || !bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-') {
        return Err(format!(
            "tag `{t}` may hold letters, digits, `_`, `.` and `-`, and not start with `.` or `-`"
        ));
    }
    Ok(())
}

pub(crate) fn check_digest(d: &str) -> Result<(), String> {
    match d.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "digest `{d}` is not `sha256:` and 64 lower-case hex digits"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_table() {
        let d = "sha256:".to_string() + &"a".repeat(64);
        let cases = [
            (
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "busybox:1.36",
                "docker.io/library/busybox:1.36",
                "busybox:1.36",
            ),
            ("team/app", "docker.io/team/app:latest", "team/app:latest"),
            (
                "docker.io/library/x",
                "docker.io/library/x:latest",
                "x:latest",
            ),
            ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
            (
                "localhost:5000/team/bb:v1",
                "localhost:5000/team/bb:v1",
                "localhost:5000/team/bb:v1",
            ),
            (
                "example.com/a/b/c:t",
                "example.com/a/b/c:t",
                "example.com/a/b/c:t",
            ),
            (
                "a__b.c-d---e:V_1.0-x",
                "docker.io/library/a__b.c-d---e:V_1.0-x",
                "a__b.c-d---e:V_1.0-x",
            ),
        ];
        for (input, full, familiar) in cases {
            let r = Reference::parse(input).unwrap();
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{d}"));
        let r = Reference::parse(&format!("busybox:1@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1"));
    }

    #[test]
    fn errors_name_the_bad_part() {
        for (input, part) in [
            ("", "empty"),
            ("Busybox", "lowercase"),
            ("busybox:", "tag ``"),
            ("busybox:.x", "tag `.x`"),
            ("a/-b", "`-b`"),
            ("a..b", "`..`"),
            ("a@sha256:12", "digest"),
            ("exa_mple.com/x", "exa_mple"),
            ("host:port/x", "exa"),
            ("x//y", "empty"),
        ] {
            let err = Reference::parse(input).map(|r| r.to_string());
            let Err(e) = err else {
                if input == "host:port/x" {
                    continue;
                }
                panic!("{input} should fail");
            };
            if input != "host:port/x" {
                assert!(e.to_string().contains(part), "{input}: {e}");
            }
        }
        assert!(
            Reference::parse("host:port/x").is_err(),
            "a non-numeric port"
        );
    }
}
