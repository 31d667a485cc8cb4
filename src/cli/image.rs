//! `berth image ...` (and the aliases `berth images`, `berth rmi`): the image store.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Create a one-layer image from a root filesystem tarball (as `docker import`)
    Import(ImportArgs),
    /// Load images from a `docker save` archive or an OCI image-layout archive
    Load(LoadArgs),
    /// Save images to a docker-archive (loadable by docker, podman and skopeo)
    Save(SaveArgs),
    /// List images
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show images in detail (Docker-shaped JSON)
    Inspect(InspectArgs),
    /// Give an image another name
    Tag(TagArgs),
    /// Remove images (untag; delete when no tag is left)
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Show the layers an image was built from
    History(HistoryArgs),
    /// Mount an image's file tree read-only on a directory
    Mount(MountArgs),
    /// Unmount what `berth image mount` mounted
    Umount(UmountArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Root filesystem tarball (plain, gzip or zstd); `-` reads standard input
    pub file: String,
    /// Name for the image (`name[:tag]`)
    pub reference: String,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Archive to read (default: standard input)
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Repository for images that an OCI archive names only by tag (e.g. `example.com/app`)
    #[arg(long)]
    pub name: Option<String>,
    /// Print nothing
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// File to write (default: standard output, which must not be a terminal)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Images to save
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Accepted for Docker compatibility (untagged images are always listed)
    #[arg(short, long)]
    pub all: bool,
    /// Only IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show full IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Only images of this repository (`name[:tag]`)
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove even when tagged several times or used by containers (their layers stay)
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only untagged ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask (berth never asks; accepted for Docker compatibility)
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub image: String,
    /// Show full IDs and commands
    #[arg(long)]
    pub no_trunc: bool,
    /// Only IDs
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MountArgs {
    pub image: String,
    /// Existing directory to mount on
    pub target: PathBuf,
}

#[derive(Debug, Args)]
pub struct UmountArgs {
    pub target: PathBuf,
}

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::engine::image::archive;
use crate::engine::image::mount;
use crate::engine::image::reference::Reference;
use crate::engine::image::store::ImageStore;

use super::GlobalArgs;

/// Opens the image store under the state root; the engine needs root.
fn store(global: &GlobalArgs) -> anyhow::Result<ImageStore> {
    super::require_root()?;
    let paths = crate::engine::container::Paths::new(&global.root);
    paths
        .secure()
        .with_context(|| format!("cannot secure the state root {}", global.root.display()))?;
    let dir = global.root.join("image");
    let store = ImageStore::open(&dir)
        .with_context(|| format!("cannot open the image store in {}", dir.display()))?;
    Ok(store.with_settings(global.root.join("config.json")))
}

pub fn run(global: &GlobalArgs, cmd: &ImageCommand) -> anyhow::Result<ExitCode> {
    let store = store(global)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        ImageCommand::Import(a) => {
            let reference = Reference::parse(&a.reference)?;
            let id = if a.file == "-" {
                archive::import_rootfs(
                    &store,
                    std::io::stdin().lock(),
                    &reference,
                    "standard input",
                )?
            } else {
                let f = std::fs::File::open(&a.file)
                    .with_context(|| format!("cannot open {}", a.file))?;
                archive::import_rootfs(
                    &store,
                    std::io::BufReader::with_capacity(1 << 20, f),
                    &reference,
                    &a.file,
                )?
            };
            writeln!(out, "{id}")?;
        }
        ImageCommand::Load(a) => {
            let loaded = match &a.input {
                Some(p) => {
                    let f = std::fs::File::open(p)
                        .with_context(|| format!("cannot open {}", p.display()))?;
                    archive::load(
                        &store,
                        std::io::BufReader::with_capacity(1 << 20, f),
                        a.name.as_deref(),
                        &p.display().to_string(),
                    )?
                }
                None => {
                    if std::io::stdin().is_terminal() {
                        bail!("no archive given: use `-i FILE` or pipe the archive into standard input");
                    }
                    archive::load(
                        &store,
                        std::io::stdin(),
                        a.name.as_deref(),
                        "standard input",
                    )?
                }
            };
            if !a.quiet {
                for img in loaded {
                    if img.tags.is_empty() {
                        writeln!(out, "Loaded image ID: {}", img.id)?;
                    }
                    for t in img.tags {
                        writeln!(out, "Loaded image: {}", t.familiar())?;
                    }
                }
            }
        }
        ImageCommand::Save(a) => {
            let names: Vec<&str> = a.images.iter().map(String::as_str).collect();
            match &a.output {
                Some(p) => {
                    let tmp = p.with_extension("berth-partial");
                    let f = std::fs::File::create(&tmp)
                        .with_context(|| format!("cannot create {}", tmp.display()))?;
                    let result = archive::save(
                        &store,
                        &names,
                        std::io::BufWriter::with_capacity(1 << 20, f),
                    );
                    if let Err(e) = result {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(e.into());
                    }
                    std::fs::rename(&tmp, p)
                        .with_context(|| format!("cannot write {}", p.display()))?;
                }
                None => {
                    if out.is_terminal() {
                        bail!(
                            "refusing to write an archive to a terminal: use `-o FILE` or redirect"
                        );
                    }
                    archive::save(&store, &names, std::io::BufWriter::new(&mut out))?;
                }
            }
        }
        ImageCommand::Ls(a) => ls(&store, a, &mut out)?,
        ImageCommand::Inspect(a) => {
            let mut all = Vec::new();
            for name in &a.images {
                all.push(store.inspect_json(name)?);
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        }
        ImageCommand::Tag(a) => store.tag(&a.source, &Reference::parse(&a.target)?)?,
        ImageCommand::Rm(a) => {
            let mut failed = false;
            for name in &a.images {
                match store.remove(name, a.force) {
                    Ok(removed) => {
                        for r in removed {
                            writeln!(out, "{r}")?;
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::from(1));
            }
        }
        ImageCommand::Prune(a) => {
            let removed = store.prune(a.all)?;
            for r in &removed {
                writeln!(out, "{r}")?;
            }
            writeln!(
                out,
                "Total reclaimed: {} images",
                removed
                    .iter()
                    .filter(|r| matches!(r, crate::engine::image::store::Removal::Deleted(_)))
                    .count()
            )?;
        }
        ImageCommand::History(a) => {
            let rows = store.history(&a.image)?;
            if !a.quiet {
                writeln!(
                    out,
                    "{:<22}{:<48}{:>10}  COMMENT",
                    "CREATED", "CREATED BY", "SIZE"
                )?;
            }
            for row in rows {
                let (created, by, size, comment) =
                    (row.created, row.created_by, row.size, row.comment);
                if a.quiet {
                    writeln!(out, "{}", created.unwrap_or_default())?;
                    continue;
                }
                let by = if a.no_trunc || by.len() <= 45 {
                    by
                } else {
                    format!("{}...", by.chars().take(42).collect::<String>())
                };
                writeln!(
                    out,
                    "{:<22}{:<48}{:>10}  {}",
                    created.as_deref().map(ago).unwrap_or_default(),
                    by,
                    human_size(size),
                    comment
                )?;
            }
        }
        ImageCommand::Mount(a) => {
            let lowers = store.lower_dirs(&a.image)?;
            // The mount is made from the store directory: a relative target is the caller's.
            let target = std::path::absolute(&a.target)
                .with_context(|| format!("cannot resolve {}", a.target.display()))?;
            mount::mount_overlay(store.dir(), &lowers, None, &target)?;
        }
        ImageCommand::Umount(a) => mount::unmount(&a.target)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn ls(store: &ImageStore, a: &LsArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let filter = a.reference.as_deref().map(Reference::parse).transpose()?;
    // `ls busybox` lists every tag of the repository; `ls busybox:1` only that one.
    let with_tag = a
        .reference
        .as_deref()
        .is_some_and(|s| s.rsplit('/').next().is_some_and(|last| last.contains(':')));
    let rows: Vec<_> = store
        .list()?
        .into_iter()
        .filter(|r| match (&filter, &r.reference) {
            (None, _) => true,
            (Some(f), Some(t)) => f.repository() == t.repository() && (!with_tag || f.tag == t.tag),
            (Some(_), None) => false,
        })
        .collect();
    let short = |id: &str| {
        if a.no_trunc {
            id.to_string()
        } else {
            id.get(7..19).unwrap_or(id).to_string()
        }
    };
    match a.format {
        ListFormat::Json => {
            let v: Vec<_> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "ID": short(&r.id),
                        "Repository": r.reference.as_ref().map_or("<none>".to_string(), Reference::familiar_repository),
                        "Tag": r.reference.as_ref().and_then(|t| t.tag.clone()).unwrap_or("<none>".into()),
                        "CreatedAt": r.created,
                        "Size": r.size,
                    })
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string(&v)?)?;
        }
        ListFormat::Table if a.quiet => {
            let mut seen = std::collections::BTreeSet::new();
            for r in &rows {
                if seen.insert(r.id.clone()) {
                    writeln!(out, "{}", short(&r.id))?;
                }
            }
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:<40}{:<16}{:<16}{:<18}{:>10}",
                "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"
            )?;
            for r in &rows {
                let (repo, tag) = match &r.reference {
                    Some(t) => (t.familiar_repository(), t.tag.clone().unwrap_or_default()),
                    None => ("<none>".into(), "<none>".into()),
                };
                writeln!(
                    out,
                    "{:<40}{:<16}{:<16}{:<18}{:>10}",
                    repo,
                    tag,
                    short(&r.id),
                    r.created.as_deref().map(ago).unwrap_or_default(),
                    human_size(r.size)
                )?;
            }
        }
    }
    Ok(())
}

/// "3 minutes ago" for an RFC 3339 time.
fn ago(t: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(t) else {
        return t.to_string();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    let (n, unit) = match secs {
        0..=59 => (secs, "second"),
        60..=3599 => (secs / 60, "minute"),
        3600..=86399 => (secs / 3600, "hour"),
        86400..=2_591_999 => (secs / 86400, "day"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// "1.9MB" as Docker prints sizes (powers of 1000).
pub fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + units[i]
    }
}
