//! `ports`, `volumes` and `devices` entries, short and long syntax.

use schemars::JsonSchema;
use serde::Deserialize;

use super::common::ListOrDict;
use super::scalars::{by_shape, Bool, IntOrString, Text, UInt};

/// A `ports` entry: a container port number, a short-syntax string, or the long form.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum PortEntry {
    Number(u64),
    Short(String),
    Long(PortLong),
}
by_shape!(
    PortEntry,
    "a port number, a string like \"8080:80/tcp\", or a mapping with `target` and `published`",
    {
        int => Number,
        str => Short,
        map => Long,
    }
);

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of port settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct PortLong {
    pub app_protocol: Option<String>,
    pub host_ip: Option<String>,
    /// `host` or `ingress` (the default).
    pub mode: Option<String>,
    pub name: Option<String>,
    pub protocol: Option<String>,
    /// A host port or a range (`8000-8010`).
    pub published: Option<Text>,
    pub target: Option<UInt>,
}

/// A `volumes` entry: `[SOURCE:]TARGET[:MODE]` or the long form.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum VolumeEntry {
    Short(String),
    Long(Box<VolumeLong>),
}
by_shape!(
    VolumeEntry,
    "a string like \"data:/var/lib/data:ro\" or a mapping with `type`, `source`, `target`",
    {
        str => Short,
        map => Long,
    }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VolumeType {
    Bind,
    Volume,
    Tmpfs,
    Cluster,
    Npipe,
    Image,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of mount settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct VolumeLong {
    #[serde(rename = "type")]
    pub kind: VolumeType,
    pub source: Option<String>,
    pub target: Option<String>,
    pub read_only: Option<Bool>,
    pub consistency: Option<String>,
    pub bind: Option<BindLong>,
    pub volume: Option<VolumeOptsLong>,
    pub tmpfs: Option<TmpfsLong>,
    pub image: Option<ImageOptsLong>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of bind settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct BindLong {
    pub create_host_path: Option<Bool>,
    pub propagation: Option<String>,
    pub recursive: Option<String>,
    pub selinux: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of volume settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct VolumeOptsLong {
    pub labels: Option<ListOrDict>,
    pub nocopy: Option<Bool>,
    pub subpath: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `size` and `mode`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct TmpfsLong {
    /// Bytes, or a size like `64m`.
    pub size: Option<IntOrString>,
    /// File mode; octal when written as a string.
    pub mode: Option<IntOrString>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `subpath`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct ImageOptsLong {
    pub subpath: Option<String>,
}

/// A `devices` entry: `HOST[:CONTAINER[:PERMISSIONS]]` or the long form.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum DeviceEntry {
    Short(String),
    Long(DeviceLong),
}
by_shape!(DeviceEntry, "a string like \"/dev/ttyUSB0:/dev/ttyUSB0:rwm\" or a mapping with `source`", {
    str => Short,
    map => Long,
});

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `source`, `target`, `permissions`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct DeviceLong {
    pub source: String,
    pub target: Option<String>,
    pub permissions: Option<String>,
}
