//! Merging stack files with Compose's rules, and the `!reset` / `!override` tags.
//! OWNER: helper H2.
//!
//! The rules follow compose-go's `override` package: mappings merge by key, scalars are
//! replaced, sequences are appended, and a set of per-key rules ([`rules`]) handles the keys
//! Compose treats specially (`command` replaced whole, `environment` merged by variable name
//! whatever its form, `ports` unique by host ip/port/protocol, ...). After every merge the
//! sequences Compose keeps unique are de-duplicated ([`unique`]): a later entry with the same
//! key replaces the earlier one in place.
//!
//! Override tags, in a file merged onto earlier ones: `!reset` drops the key (and whatever
//! earlier files said about it); `!override` replaces the earlier value instead of merging
//! with it. Any other YAML tag is an error.

mod keypath;
mod rules;
#[cfg(test)]
mod tests;
mod unique;

pub(crate) use keypath::KeyPath;

use serde_yaml::{Mapping, Value};

use super::{Positions, Result, StackError};
use rules::Rule;

/// Merges `overlay` onto `base` (both whole documents).
pub fn merge(base: Value, overlay: Value, positions: &Positions) -> Result<Value> {
    check_tags(&overlay, &KeyPath::root(), positions)?;
    let merger = Merger {
        positions,
        keep_tags: false,
    };
    let mut merged = merger
        .value(base, overlay, &KeyPath::root())?
        .unwrap_or_else(|| Value::Mapping(Mapping::new()));
    unique::enforce(&mut merged);
    Ok(merged)
}

/// A single (first) file: `!reset`/`!override` tags have nothing to act on; drop them.
/// A `!reset` value is removed with its key; an `!override` value loses its tag. The sequences
/// Compose keeps unique are de-duplicated, as after a merge.
pub fn strip_override_tags(doc: Value) -> Value {
    let mut doc = strip_tags(doc).unwrap_or_else(|| Value::Mapping(Mapping::new()));
    unique::enforce(&mut doc);
    doc
}

/// `extends`: merges the extending service `overlay` onto the service it extends, `base`, with
/// the rules of a file merge. `path` is the extending service's key path (`services.web`).
///
/// The override tags of `overlay` act on `base` and are kept in the result, so that they also
/// act on the earlier files the extending service's file is merged onto (as in Compose).
pub(crate) fn extend_service(
    base: Value,
    overlay: Value,
    path: &KeyPath,
    positions: &Positions,
) -> Result<Value> {
    let base = strip_tags(base).unwrap_or(Value::Null);
    let merger = Merger {
        positions,
        keep_tags: true,
    };
    Ok(merger.value(base, overlay, path)?.unwrap_or(Value::Null))
}

/// Rejects YAML tags other than `!reset` and `!override`, naming the key that carries one.
pub(crate) fn check_tags(v: &Value, path: &KeyPath, positions: &Positions) -> Result<()> {
    if !has_tags(v) {
        return Ok(());
    }
    match v {
        Value::Tagged(t) => match tag_of(v) {
            Some(Tag::Other(name)) => Err(unknown_tag(&name, path, positions)),
            _ => check_tags(&t.value, path, positions),
        },
        Value::Mapping(m) => m
            .iter()
            .try_for_each(|(k, v)| check_tags(v, &path.key(&key_string(k)), positions)),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_tags(v, &path.index(i), positions)),
        _ => Ok(()),
    }
}

/// Whether any node of `v` is tagged (cheap: no key paths built).
fn has_tags(v: &Value) -> bool {
    match v {
        Value::Tagged(_) => true,
        Value::Mapping(m) => m.values().any(has_tags),
        Value::Sequence(items) => items.iter().any(has_tags),
        _ => false,
    }
}

/// Removes `!reset` values (with their key or sequence slot) and the `!override` tags.
pub(crate) fn strip_tags(mut v: Value) -> Option<Value> {
    strip_tags_in_place(&mut v).then_some(v)
}

/// [`strip_tags`] without rebuilding the tree: `false` when `v` itself is `!reset` (the caller
/// drops it).
fn strip_tags_in_place(v: &mut Value) -> bool {
    match v {
        Value::Tagged(t) => match tag_of_name(&t.tag) {
            Tag::Reset => false,
            Tag::Override => {
                let inner = std::mem::take(&mut t.value);
                *v = inner;
                strip_tags_in_place(v)
            }
            Tag::Other(_) => {
                if !strip_tags_in_place(&mut t.value) {
                    t.value = Value::Null;
                }
                true
            }
        },
        Value::Mapping(m) => {
            m.retain(|_, v| strip_tags_in_place(v));
            true
        }
        Value::Sequence(items) => {
            items.retain_mut(strip_tags_in_place);
            true
        }
        _ => true,
    }
}

/// A mapping key as it appears in key paths.
pub(crate) fn key_string(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Tagged(t) => key_string(&t.value),
        _ => "?".into(),
    }
}

enum Tag {
    Reset,
    Override,
    Other(String),
}

fn tag_of_name(tag: &serde_yaml::value::Tag) -> Tag {
    if *tag == "reset" {
        Tag::Reset
    } else if *tag == "override" {
        Tag::Override
    } else {
        Tag::Other(tag.to_string())
    }
}

fn tag_of(v: &Value) -> Option<Tag> {
    match v {
        Value::Tagged(t) => Some(tag_of_name(&t.tag)),
        _ => None,
    }
}

fn unknown_tag(tag: &str, path: &KeyPath, positions: &Positions) -> StackError {
    StackError::Invalid {
        at: positions.place(&path.to_string()),
        message: format!(
            "unknown YAML tag `{tag}`; stack files accept only `!reset` (drop the value \
             earlier files set) and `!override` (replace it instead of merging)"
        ),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(t) => kind(&t.value),
    }
}

struct Merger<'p> {
    positions: &'p Positions,
    /// Keep `!reset`/`!override` in the result (extends) instead of consuming them.
    keep_tags: bool,
}

impl Merger<'_> {
    /// A value from the overlay that lands in the result as it is.
    fn fresh(&self, v: Value) -> Value {
        if self.keep_tags {
            v
        } else {
            strip_tags(v).unwrap_or(Value::Null)
        }
    }

    fn mismatch(&self, path: &KeyPath, base: &Value, overlay: &Value) -> StackError {
        StackError::WrongType {
            at: self.positions.place(&path.to_string()),
            message: format!(
                "cannot merge `{path}`: an earlier definition is {} and this one is {}; write \
                 both in the same form, or tag this one `!override` to replace the earlier one",
                kind(base),
                kind(overlay)
            ),
        }
    }

    /// Merges one value; `None` means the key is removed (`!reset`).
    fn value(&self, base: Value, overlay: Value, path: &KeyPath) -> Result<Option<Value>> {
        match tag_of(&overlay) {
            Some(Tag::Reset) => return Ok(self.keep_tags.then_some(overlay)),
            Some(Tag::Override) => return Ok(Some(self.fresh(overlay))),
            Some(Tag::Other(t)) => return Err(unknown_tag(&t, path, self.positions)),
            None => {}
        }
        let rule = rules::rule_for(path);
        if overlay.is_null() {
            // Compose keeps the earlier value, except for the keys an override replaces whole.
            return Ok(Some(if rule == Rule::Replace { overlay } else { base }));
        }
        if base.is_null() {
            return Ok(Some(self.fresh(overlay)));
        }
        self.apply(rule, base, overlay, path).map(Some)
    }

    fn apply(&self, rule: Rule, base: Value, overlay: Value, path: &KeyPath) -> Result<Value> {
        let err = |b: &Value, o: &Value| self.mismatch(path, b, o);
        match rule {
            Rule::Replace => Ok(self.fresh(overlay)),
            Rule::Logging => match (base, overlay) {
                (Value::Mapping(b), Value::Mapping(o)) => {
                    let (bd, od) = (b.get("driver"), o.get("driver"));
                    if bd.is_some() && od.is_some() && bd != od {
                        Ok(self.fresh(Value::Mapping(o)))
                    } else {
                        self.mappings(b, o, path).map(Value::Mapping)
                    }
                }
                (b, o) => Err(err(&b, &o)),
            },
            Rule::Build => match (rules::to_build(&base), rules::to_build(&overlay)) {
                (Some(b), Some(o)) => self.mappings(b, o, path).map(Value::Mapping),
                _ => Err(err(&base, &overlay)),
            },
            Rule::DependsOn => {
                match (rules::to_depends_on(&base), rules::to_depends_on(&overlay)) {
                    (Some(b), Some(o)) => self.mappings(b, o, path).map(Value::Mapping),
                    _ => Err(err(&base, &overlay)),
                }
            }
            Rule::Networks => match (rules::to_networks(&base), rules::to_networks(&overlay)) {
                (Some(b), Some(o)) => self.mappings(b, o, path).map(Value::Mapping),
                _ => Err(err(&base, &overlay)),
            },
            Rule::KeyValue { bare_null } => match (
                rules::to_key_values(&base, bare_null),
                rules::to_key_values(&overlay, bare_null),
            ) {
                (Some(b), Some(o)) => Ok(Value::Mapping(self.key_values(b, o, path)?)),
                _ => Err(err(&base, &overlay)),
            },
            Rule::ExtraHosts => match (rules::to_host_list(&base), rules::to_host_list(&overlay)) {
                (Some(mut b), Some(o)) => {
                    for item in o {
                        if !b.contains(&item) {
                            b.push(item);
                        }
                    }
                    Ok(Value::Sequence(b))
                }
                _ => Err(err(&base, &overlay)),
            },
            Rule::Append => match (rules::to_list(&base), rules::to_list(&overlay)) {
                (Some(mut b), Some(o)) => {
                    for item in o {
                        self.push_item(&mut b, item, path, false)?;
                    }
                    Ok(Value::Sequence(b))
                }
                _ => Err(err(&base, &overlay)),
            },
            Rule::IpamConfig => match (base, overlay) {
                (Value::Sequence(b), Value::Sequence(o)) => self.ipam(b, o, path),
                (b, o) => Err(err(&b, &o)),
            },
            Rule::Default => match (base, overlay) {
                (Value::Mapping(b), Value::Mapping(o)) => {
                    self.mappings(b, o, path).map(Value::Mapping)
                }
                (Value::Sequence(mut b), Value::Sequence(o)) => {
                    for item in o {
                        self.push_item(&mut b, item, path, true)?;
                    }
                    Ok(Value::Sequence(b))
                }
                (b @ (Value::Mapping(_) | Value::Sequence(_)), o) => Err(err(&b, &o)),
                (_, o) => Ok(self.fresh(o)),
            },
        }
    }

    /// Appends one overlay item to a sequence (`!reset` items are dropped); with `dedupe`, an
    /// item identical to one already present is not appended again.
    fn push_item(
        &self,
        out: &mut Vec<Value>,
        item: Value,
        path: &KeyPath,
        dedupe: bool,
    ) -> Result<()> {
        match tag_of(&item) {
            Some(Tag::Reset) => return Ok(()),
            Some(Tag::Other(t)) => return Err(unknown_tag(&t, path, self.positions)),
            _ => {}
        }
        let item = self.fresh(item);
        if !dedupe || !out.contains(&item) {
            out.push(item);
        }
        Ok(())
    }

    /// Merges two mappings key by key.
    fn mappings(&self, mut base: Mapping, overlay: Mapping, path: &KeyPath) -> Result<Mapping> {
        for (k, ov) in overlay {
            let child = path.key(&key_string(&k));
            let bv = base.get_mut(&k).map(std::mem::take).unwrap_or(Value::Null);
            match self.value(bv, ov, &child)? {
                Some(v) => {
                    base.insert(k, v);
                }
                None => {
                    base.shift_remove(&k);
                }
            }
        }
        Ok(base)
    }

    /// Merges `KEY=VALUE` collections (both already mappings): an overlay entry replaces the
    /// base entry of the same key; `!reset` removes it.
    fn key_values(&self, mut base: Mapping, overlay: Mapping, path: &KeyPath) -> Result<Mapping> {
        for (k, ov) in overlay {
            match tag_of(&ov) {
                Some(Tag::Reset) => {
                    base.shift_remove(&k);
                    if self.keep_tags {
                        base.insert(k, ov);
                    }
                }
                Some(Tag::Other(t)) => {
                    return Err(unknown_tag(&t, &path.key(&key_string(&k)), self.positions))
                }
                _ => {
                    base.insert(k, self.fresh(ov));
                }
            }
        }
        Ok(base)
    }

    /// `networks.*.ipam.config`: pools with the same `subnet` merge; others are appended.
    fn ipam(&self, mut base: Vec<Value>, overlay: Vec<Value>, path: &KeyPath) -> Result<Value> {
        for item in overlay {
            if matches!(tag_of(&item), Some(Tag::Reset)) {
                continue;
            }
            let item = self.fresh(item);
            let same = base.iter().position(|b| {
                b.is_mapping() && item.is_mapping() && b.get("subnet") == item.get("subnet")
            });
            match (same, item) {
                (Some(i), Value::Mapping(o)) => {
                    let b = match std::mem::take(&mut base[i]) {
                        Value::Mapping(b) => b,
                        _ => Mapping::new(),
                    };
                    base[i] = Value::Mapping(self.mappings(b, o, &path.index(i))?);
                }
                (_, item) => base.push(item),
            }
        }
        Ok(Value::Sequence(base))
    }
}
