//! A service as users write it: every key of the Compose Specification's `service`.
//! Keys berth does not support yet are typed too (so the schema is complete); the tree checks
//! refuse them before typing.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::common::{Command, ExtraHosts, FileRef, ListOrDict, StringOrList, Ulimit};
use super::extras::{
    BlkioConfig, CredentialSpec, Development, Gpus, Provider, ServiceHook, ServiceModels,
};
use super::mounts::{DeviceEntry, PortEntry, VolumeEntry};
use super::parts::{Build, Deploy, Healthcheck, Logging};
use super::scalars::{by_shape, Bool, Float, Int, IntOrString, Text, UInt};

/// Configuration for a service.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a service definition (a mapping of service keys)"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct Service {
    pub annotations: Option<ListOrDict>,
    pub attach: Option<Bool>,
    pub blkio_config: Option<BlkioConfig>,
    pub build: Option<Build>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub cgroup: Option<String>,
    pub cgroup_parent: Option<String>,
    pub command: Option<Command>,
    pub configs: Option<Vec<FileRef>>,
    pub container_name: Option<String>,
    pub cpu_count: Option<Int>,
    pub cpu_percent: Option<Int>,
    pub cpu_period: Option<Int>,
    pub cpu_quota: Option<Int>,
    pub cpu_rt_period: Option<Text>,
    pub cpu_rt_runtime: Option<Text>,
    pub cpu_shares: Option<Int>,
    pub cpus: Option<Float>,
    pub cpuset: Option<String>,
    pub credential_spec: Option<CredentialSpec>,
    pub depends_on: Option<DependsOn>,
    pub deploy: Option<Deploy>,
    pub develop: Option<Development>,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub devices: Option<Vec<DeviceEntry>>,
    pub dns: Option<StringOrList>,
    pub dns_opt: Option<Vec<String>>,
    pub dns_search: Option<StringOrList>,
    pub domainname: Option<String>,
    pub entrypoint: Option<Command>,
    pub env_file: Option<EnvFile>,
    pub environment: Option<ListOrDict>,
    pub expose: Option<Vec<Text>>,
    /// Resolved before typing; tolerated when still present.
    pub extends: Option<Extends>,
    pub external_links: Option<Vec<String>>,
    pub extra_hosts: Option<ExtraHosts>,
    pub gpus: Option<Gpus>,
    pub group_add: Option<Vec<Text>>,
    pub healthcheck: Option<Healthcheck>,
    pub hostname: Option<String>,
    pub image: Option<String>,
    pub init: Option<Bool>,
    pub ipc: Option<String>,
    pub isolation: Option<String>,
    pub label_file: Option<StringOrList>,
    pub labels: Option<ListOrDict>,
    pub links: Option<Vec<String>>,
    pub logging: Option<Logging>,
    pub mac_address: Option<String>,
    pub mem_limit: Option<IntOrString>,
    pub mem_reservation: Option<IntOrString>,
    pub mem_swappiness: Option<Int>,
    pub memswap_limit: Option<IntOrString>,
    pub models: Option<ServiceModels>,
    pub network_mode: Option<String>,
    pub networks: Option<ServiceNetworks>,
    pub oom_kill_disable: Option<Bool>,
    pub oom_score_adj: Option<Int>,
    pub pid: Option<String>,
    pub pids_limit: Option<Int>,
    pub platform: Option<String>,
    pub ports: Option<Vec<PortEntry>>,
    pub post_start: Option<Vec<ServiceHook>>,
    pub pre_stop: Option<Vec<ServiceHook>>,
    pub privileged: Option<Bool>,
    pub profiles: Option<Vec<String>>,
    pub provider: Option<Provider>,
    pub pull_policy: Option<String>,
    pub pull_refresh_after: Option<String>,
    pub read_only: Option<Bool>,
    pub restart: Option<String>,
    pub runtime: Option<String>,
    pub scale: Option<UInt>,
    pub secrets: Option<Vec<FileRef>>,
    pub security_opt: Option<Vec<String>>,
    pub shm_size: Option<IntOrString>,
    pub stdin_open: Option<Bool>,
    pub stop_grace_period: Option<String>,
    pub stop_signal: Option<String>,
    pub storage_opt: Option<BTreeMap<String, serde_json::Value>>,
    pub sysctls: Option<ListOrDict>,
    pub tmpfs: Option<StringOrList>,
    pub tty: Option<Bool>,
    pub ulimits: Option<BTreeMap<String, Ulimit>>,
    pub use_api_socket: Option<Bool>,
    pub user: Option<String>,
    pub userns_mode: Option<String>,
    pub uts: Option<String>,
    pub volumes: Option<Vec<VolumeEntry>>,
    pub volumes_from: Option<Vec<String>>,
    pub working_dir: Option<String>,
}

/// `depends_on`: a list of service names or a mapping name -> conditions.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum DependsOn {
    List(Vec<String>),
    Map(BTreeMap<String, DependsOnLong>),
}
by_shape!(DependsOn, "a list of service names or a mapping of service: {condition: ...}", {
    seq => List,
    map => Map,
});

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `condition`, `required`, `restart`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct DependsOnLong {
    pub condition: Condition,
    pub required: Option<Bool>,
    pub restart: Option<Bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

/// Service `networks`: a list of network keys or a mapping key -> settings (or null).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum ServiceNetworks {
    List(Vec<String>),
    Map(BTreeMap<String, Option<ServiceNetwork>>),
}
by_shape!(ServiceNetworks, "a list of network names or a mapping of network: settings", {
    seq => List,
    map => Map,
});

#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping of network settings")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct ServiceNetwork {
    pub aliases: Option<Vec<String>>,
    pub driver_opts: Option<BTreeMap<String, Text>>,
    pub gw_priority: Option<Int>,
    pub interface_name: Option<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub link_local_ips: Option<Vec<String>>,
    pub mac_address: Option<String>,
    pub priority: Option<Int>,
}

/// `env_file`: a path, or a list of paths and `{path, required, format}` entries.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum EnvFile {
    One(String),
    List(Vec<EnvFileEntry>),
}
by_shape!(EnvFile, "a path or a list of paths", {
    str => One,
    seq => List,
});

#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum EnvFileEntry {
    Path(String),
    Long(EnvFileLong),
}
by_shape!(EnvFileEntry, "a path or a mapping with `path` and `required`", {
    str => Path,
    map => Long,
});

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with `path`, `required`, `format`"
)]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct EnvFileLong {
    pub path: String,
    /// Defaults to true: a missing file is an error.
    pub required: Option<Bool>,
    pub format: Option<String>,
}

/// `extends` (resolved before typing).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Extends {
    Service(String),
    Long(ExtendsLong),
}
by_shape!(Extends, "a service name or a mapping with `service` and `file`", {
    str => Service,
    map => Long,
});

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a mapping with `service` and `file`")]
#[schemars(extend("patternProperties" = {"^x-": {}}))]
pub struct ExtendsLong {
    pub service: String,
    pub file: Option<String>,
}
