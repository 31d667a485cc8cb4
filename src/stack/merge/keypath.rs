//! Key paths (`services.web.ports[0]`) built while walking a tree, matched against patterns
//! such as `services.*.ports`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root, displayed as positions and errors expect it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(Vec<Seg>);

impl KeyPath {
    pub(crate) fn root() -> Self {
        KeyPath(Vec::new())
    }

    pub(crate) fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// Whether the path is exactly `pattern` (dot-separated keys; `*` matches any one key).
    pub(crate) fn matches(&self, pattern: &str) -> bool {
        let parts: Vec<&str> = pattern.split('.').collect();
        parts.len() == self.0.len()
            && parts.iter().zip(&self.0).all(|(p, s)| match s {
                Seg::Key(k) => *p == "*" || p == k,
                Seg::Index(_) => false,
            })
    }

    pub(crate) fn matches_any(&self, patterns: &[&str]) -> bool {
        patterns.iter().any(|p| self.matches(p))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_match() {
        let p = KeyPath::root().key("services").key("web").key("ports");
        assert_eq!(p.to_string(), "services.web.ports");
        assert_eq!(p.index(2).to_string(), "services.web.ports[2]");
        assert!(p.matches("services.*.ports"));
        assert!(!p.matches("services.*"));
        assert!(!p.index(0).matches("services.*.ports.*"));
        assert!(p.matches_any(&["x", "services.web.ports"]));
    }
}
