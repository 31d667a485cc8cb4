//! The stack file front end: discovery, `.env`, interpolation, include/extends, merge,
//! typing, normalization and validation, in that order (compose-go's `parsing.md` order).
//!
//! Each stage is a function over a YAML tree (`serde_yaml::Value`) until the tree is typed
//! into [`input`] structs; [`normalize`] then turns those into the canonical [`model`].
//! [`load`] runs the whole pipeline.

pub mod discover;
pub mod dotenv;
pub mod duration;
pub mod environment;
pub mod error;
mod extends;
mod include;
pub mod input;
pub mod interpolate;
pub mod merge;
pub mod model;
mod normalize;
mod paths;
pub mod positions;
mod profiles;
pub mod project_name;
pub mod schema;
pub mod source;
pub mod syntax;
mod tree_checks;
mod validate;
pub mod yaml_out;
mod yaml_tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use environment::Environment;
pub use error::{Location, Place, Result, StackError};
pub use model::Project;
pub use positions::Positions;
pub use source::SourceFile;

/// What the user asked for on the command line and in the environment.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` files in order; `-` is standard input. Empty: discover (or COMPOSE_FILE).
    pub files: Vec<String>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (replaces the project's `.env`).
    pub env_files: Vec<PathBuf>,
    /// `--profile`; COMPOSE_PROFILES is read from the environment when empty.
    pub profiles: Vec<String>,
    /// `false` for `--no-interpolate`.
    pub interpolate: bool,
    /// The directory to start discovery from (normally the current directory).
    pub working_dir: PathBuf,
    /// The process environment (a map so tests can pass their own).
    pub process_env: BTreeMap<String, String>,
    /// Text of standard input, for `-f -` (read by the caller).
    pub stdin: Option<String>,
}

impl LoadOptions {
    /// Options for the current process: its directory and environment.
    pub fn from_process() -> std::io::Result<Self> {
        Ok(LoadOptions {
            interpolate: true,
            working_dir: std::env::current_dir()?,
            process_env: std::env::vars().collect(),
            ..Default::default()
        })
    }
}

/// A non-fatal finding, printed to stderr (e.g. a Swarm-only key Compose ignores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub at: Place,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// The result of loading: the canonical project and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<Warning>,
    pub positions: Positions,
}

/// Reads, parses and interpolates stack files; include and extends use it for the files they
/// pull in, so that every file's positions are recorded for error messages.
pub struct Loader<'a> {
    pub env: &'a Environment,
    pub interpolate: bool,
    pub positions: Positions,
}

impl Loader<'_> {
    /// Parses `text` (named `name` in messages), records its positions and interpolates it.
    pub fn load_text(&mut self, name: &str, text: &str) -> Result<serde_yaml::Value> {
        let source = SourceFile::parse(name, text)?;
        let mut value = source.value;
        if self.interpolate {
            interpolate::interpolate_tree(&mut value, self.env, &source.positions)?;
        }
        self.positions.push(source.positions);
        Ok(value)
    }

    /// Reads and loads a file from disk.
    pub fn load_path(&mut self, path: &Path) -> Result<serde_yaml::Value> {
        let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_text(&path.display().to_string(), &text)
    }
}

/// Runs the whole pipeline: discover -> env -> parse+interpolate -> include -> extends ->
/// merge -> relative paths -> tree checks -> typing -> normalize -> profiles -> validate -> graph.
pub fn load(opts: &LoadOptions) -> Result<Loaded> {
    let mut clock = StageClock::start();
    let found = discover::discover(opts)?;
    let env = Environment::load(opts, &found.project_dir)?;
    let mut loader = Loader {
        env: &env,
        interpolate: opts.interpolate,
        positions: Positions::default(),
    };

    let mut merged: Option<serde_yaml::Value> = None;
    for file in &found.files {
        let (mut doc, dir) = match file {
            discover::FileSpec::Stdin => {
                let text = opts.stdin.clone().unwrap_or_default();
                (loader.load_text("-", &text)?, found.project_dir.clone())
            }
            discover::FileSpec::Path(p) => {
                let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
                (loader.load_path(p)?, dir)
            }
        };
        clock.lap("parse+interpolate");
        include::resolve_includes(&mut doc, &dir, &found.project_dir, &mut loader)?;
        extends::resolve_extends(&mut doc, &dir, &mut loader)?;
        clock.lap("include+extends");
        merged = Some(match merged {
            None => merge::strip_override_tags(doc),
            Some(base) => merge::merge(base, doc, &loader.positions)?,
        });
    }
    let mut tree = merged.unwrap_or(serde_yaml::Value::Mapping(Default::default()));
    clock.lap("merge");
    paths::resolve_relative_paths(&mut tree, &found.project_dir, &env);

    let mut warnings = tree_checks::check_tree(&tree, &loader.positions)?;
    clock.lap("paths+tree checks");
    let top_name = tree
        .get("name")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let name = project_name::resolve(
        opts.project_name.as_deref(),
        &env,
        top_name.as_deref(),
        &found.project_dir,
    )?;

    let input = input::StackFile::from_tree(tree, &loader.positions)?;
    clock.lap("typing");
    let ctx = normalize::Context {
        project_name: &name,
        project_dir: &found.project_dir,
        env: &env,
        positions: &loader.positions,
    };
    let mut project = normalize::normalize(input, &ctx)?;
    clock.lap("normalize");
    project.files = found.files.iter().map(|f| f.to_string()).collect();
    let active = profiles::active_profiles(&opts.profiles, &env);
    profiles::apply_profiles(&mut project, &active, &loader.positions)?;
    warnings.extend(validate::validate_project(&project, &loader.positions)?);
    project.dependency_graph()?;
    clock.lap("profiles+validate+graph");
    Ok(Loaded {
        project,
        warnings,
        positions: loader.positions,
    })
}

/// Times the pipeline's stages; each lap is a `debug` event (`berth -vv config` shows them).
struct StageClock {
    last: std::time::Instant,
}

impl StageClock {
    fn start() -> StageClock {
        StageClock {
            last: std::time::Instant::now(),
        }
    }

    fn lap(&mut self, stage: &str) {
        let now = std::time::Instant::now();
        let micros = now.duration_since(self.last).as_micros() as u64;
        tracing::debug!(stage, micros, "stack load stage done");
        self.last = now;
    }
}
