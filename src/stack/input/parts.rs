//! Service sub-objects: `build`, `deploy`, `healthcheck`, `logging`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{DeviceRequest, ExtraHosts, FileRef, ListOrDict, StringOrList, Ulimit};
use super::scalars::{by_shape, Bool, Float, Int, IntOrString, Text, UInt};

/// `build`: the context path (or URL), or the long form.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Build {
    Context(String),
    Long(Box<BuildLong>),
}
by_shape!(Build, "a build context path or a mapping of build settings", {
    str => Context,
    map => Long,
});

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of build settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct BuildLong {
    pub additional_contexts: Option<ListOrDict>,
    pub args: Option<ListOrDict>,
    pub cache_from: Option<Vec<String>>,
    pub cache_to: Option<Vec<String>>,
    pub context: Option<String>,
    pub dockerfile: Option<String>,
    pub dockerfile_inline: Option<String>,
    pub entitlements: Option<Vec<String>>,
    pub extra_hosts: Option<ExtraHosts>,
    pub isolation: Option<String>,
    pub labels: Option<ListOrDict>,
    pub network: Option<String>,
    pub no_cache: Option<Bool>,
    pub platforms: Option<Vec<String>>,
    pub privileged: Option<Bool>,
    pub pull: Option<Bool>,
    pub secrets: Option<Vec<FileRef>>,
    pub shm_size: Option<IntOrString>,
    pub ssh: Option<ListOrDict>,
    pub tags: Option<Vec<String>>,
    pub target: Option<String>,
    pub ulimits: Option<BTreeMap<String, Ulimit>>,
}

/// `healthcheck`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of healthcheck settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Healthcheck {
    pub disable: Option<Bool>,
    pub interval: Option<String>,
    pub retries: Option<UInt>,
    pub start_interval: Option<String>,
    pub start_period: Option<String>,
    /// A shell command string, or `["CMD", ...]`, `["CMD-SHELL", "..."]`, `["NONE"]`.
    pub test: Option<StringOrList>,
    pub timeout: Option<String>,
}

/// `logging`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `driver` and `options`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Logging {
    pub driver: Option<String>,
    pub options: Option<BTreeMap<String, Option<Text>>>,
}

/// `deploy`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of deploy settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Deploy {
    pub endpoint_mode: Option<String>,
    pub labels: Option<ListOrDict>,
    pub mode: Option<String>,
    pub placement: Option<Placement>,
    pub replicas: Option<UInt>,
    pub resources: Option<Resources>,
    pub restart_policy: Option<RestartPolicy>,
    pub rollback_config: Option<UpdateConfig>,
    pub update_config: Option<UpdateConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `limits` and `reservations`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Resources {
    pub limits: Option<ResourceLimits>,
    pub reservations: Option<ResourceReservations>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `cpus`, `memory`, `pids`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct ResourceLimits {
    pub cpus: Option<Float>,
    pub memory: Option<IntOrString>,
    pub pids: Option<Int>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `cpus`, `memory`, `devices`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct ResourceReservations {
    pub cpus: Option<Float>,
    pub devices: Option<Vec<DeviceRequest>>,
    pub generic_resources: Option<Vec<GenericResource>>,
    pub memory: Option<IntOrString>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `discrete_resource_spec`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct GenericResource {
    pub discrete_resource_spec: Option<DiscreteResourceSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `kind` and `value`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct DiscreteResourceSpec {
    pub kind: Option<String>,
    pub value: Option<Float>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `condition`, `delay`, `max_attempts`, `window`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct RestartPolicy {
    pub condition: Option<String>,
    pub delay: Option<String>,
    pub max_attempts: Option<UInt>,
    pub window: Option<String>,
}

/// `deploy.placement` (Swarm only).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of placement settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Placement {
    pub constraints: Option<Vec<String>>,
    pub max_replicas_per_node: Option<UInt>,
    pub preferences: Option<Vec<PlacementPreference>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `spread`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct PlacementPreference {
    pub spread: Option<String>,
}

/// `deploy.update_config` / `deploy.rollback_config` (Swarm only).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of update settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct UpdateConfig {
    pub delay: Option<String>,
    pub failure_action: Option<String>,
    pub max_failure_ratio: Option<Float>,
    pub monitor: Option<String>,
    pub order: Option<String>,
    pub parallelism: Option<UInt>,
}
