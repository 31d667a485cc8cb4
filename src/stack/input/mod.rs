//! The stack file as users write it: typed input structs (short syntaxes included), with
//! `JsonSchema` for `schemas/`.
//!
//! Numbers and booleans also accept strings ([`scalars`]); short/long syntaxes are enums that
//! dispatch on the shape of the value ([`scalars::by_shape`]), so an error inside a long form
//! keeps its key path. `x-*` keys are removed at object positions before typing
//! ([`extensions`]).

mod common;
mod extensions;
mod extras;
mod mounts;
mod parts;
mod resources;
mod scalars;
mod service;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Positions, Result, StackError};

pub use common::{
    Command, DeviceRequest, External, ExternalName, ExtraHosts, FileRef, FileRefLong, ListOrDict,
    Options, StringOrList, Ulimit, UlimitPair,
};
pub use extras::{
    BlkioConfig, CredentialSpec, Development, Gpus, Provider, ServiceHook, ServiceModels,
};
pub use mounts::{
    BindLong, DeviceEntry, DeviceLong, ImageOptsLong, PortEntry, PortLong, TmpfsLong, VolumeEntry,
    VolumeLong, VolumeOptsLong, VolumeType,
};
pub use parts::{
    Build, BuildLong, Deploy, Healthcheck, Logging, Placement, ResourceLimits,
    ResourceReservations, Resources, RestartPolicy, UpdateConfig,
};
pub use resources::{Config, Include, Ipam, IpamPool, Model, Network, Secret, Volume};
pub use scalars::{parse_bool, Bool, Float, Int, IntOrString, Text, UInt};
pub use service::{
    Condition, DependsOn, DependsOnLong, EnvFile, EnvFileEntry, EnvFileLong, Extends, Service,
    ServiceNetwork, ServiceNetworks,
};

/// A Compose file (the merged stack), as users write it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of top-level keys such as `services`"
)]
#[schemars(title = "Compose Specification (as berth reads it)")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct StackFile {
    /// Obsolete: accepted and ignored.
    pub version: Option<Text>,
    /// The project name, unless one is given on the command line.
    pub name: Option<String>,
    /// Other stack files to include (resolved before typing).
    pub include: Option<Vec<Include>>,
    pub services: Option<BTreeMap<String, Service>>,
    pub networks: Option<BTreeMap<String, Option<Network>>>,
    pub volumes: Option<BTreeMap<String, Option<Volume>>>,
    pub secrets: Option<BTreeMap<String, Secret>>,
    pub configs: Option<BTreeMap<String, Config>>,
    pub models: Option<BTreeMap<String, Model>>,
}

impl StackFile {
    /// Types the merged tree; unknown keys and wrong types name their key path and location.
    pub fn from_tree(mut tree: serde_yaml::Value, positions: &Positions) -> Result<StackFile> {
        if tree.is_null() {
            return Ok(StackFile::default());
        }
        extensions::strip(&mut tree);
        let file: StackFile =
            serde_path_to_error::deserialize(tree).map_err(|err| typing_error(&err, positions))?;
        if file.version.is_some() {
            tracing::warn!(
                "{}: the attribute `version` is obsolete, it will be ignored; remove it to avoid \
                 confusion",
                positions.place("version")
            );
        }
        Ok(file)
    }
}

/// Renders a serde path the way positions index it: `services.web.ports[0]`, `` at the top.
fn render_path(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." {
        String::new()
    } else {
        s
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The text between the first pair of backticks after `prefix`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    Some(&rest[..end])
}

/// serde's words for YAML shapes, in the words of YAML users.
fn plain_words(s: &str) -> String {
    match s {
        "a sequence" => "a list".to_string(),
        "a map" => "a mapping".to_string(),
        "sequence" => "a list".to_string(),
        "map" => "a mapping".to_string(),
        "unit value" => "null".to_string(),
        other => other.to_string(),
    }
}

/// The keys serde lists after "expected": "one of `a`, `b`" or "`a`".
fn known_keys(list: &str) -> Vec<String> {
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The known key closest to `key`, if close enough to be a typo (edit distance at most a
/// third of its length, and at most 3).
pub(crate) fn closest(key: &str, known: &[String]) -> Option<String> {
    let limit = (key.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

/// Levenshtein distance, with a transposition of neighbours counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// Turns a typing error into a StackError naming the key path, its location and the fix.
fn typing_error(
    err: &serde_path_to_error::Error<serde_yaml::Error>,
    positions: &Positions,
) -> StackError {
    let path = render_path(err.path());
    let message = err.inner().to_string();
    if let Some(key) = quoted_after(&message, "unknown field `") {
        // serde_path_to_error records the offending key itself as the last segment.
        let at = if path == key || path.ends_with(&format!(".{key}")) {
            path.clone()
        } else {
            join(&path, key)
        };
        let known = message
            .split_once(", expected ")
            .map(|(_, rest)| known_keys(rest))
            .unwrap_or_default();
        return StackError::UnknownKey {
            at: positions.place(&at),
            key: key.to_string(),
            suggestion: closest(key, &known),
        };
    }
    if let Some(field) = quoted_after(&message, "missing field `") {
        return StackError::WrongType {
            at: positions.place(&path),
            message: format!("the required key `{field}` is missing; add it"),
        };
    }
    if let Some(value) = quoted_after(&message, "unknown variant `") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, e)| e.to_string())
            .unwrap_or_default();
        return StackError::Invalid {
            at: positions.place(&path),
            message: format!("invalid value `{value}`; expected {expected}"),
        };
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            let expected = plain_words(expected);
            let found = plain_words(found);
            let hint = if expected == "a string" && !found.starts_with("null") {
                "; quote the value to make it a string"
            } else {
                ""
            };
            return StackError::WrongType {
                at: positions.place(&path),
                message: format!("wrong type: expected {expected}, found {found}{hint}"),
            };
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return StackError::Invalid {
                at: positions.place(&path),
                message: format!("invalid value {found}; expected {expected}"),
            };
        }
    }
    StackError::WrongType {
        at: positions.place(&path),
        message,
    }
}
