//! Shared helpers: root check, a private state root, running `berth`, test images built from
//! Debian's busybox-static, OCI layouts and docker archives built with the tar crate, and tree
//! comparison.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

/// `true` when running as root; otherwise prints the skip notice.
pub fn root_or_skip(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        true
    } else {
        eprintln!("{test}: skipped: needs root");
        false
    }
}

/// A tool from Debian's packages the test needs; CI installs them (`.ci/run`).
pub fn tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("`{name}` is missing: install it with `apt-get install {package}` (.ci/run does)");
}

/// Mounts of this test's state root still in the mount table.
pub fn mounts_of(b: &Berth) -> Vec<String> {
    let root = b.path().to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&root) && !l.contains(&format!("{root}/netns ")))
        .map(String::from)
        .collect()
}

/// A private state root, removed (mounts undone first) when dropped.
pub struct Berth {
    pub root: tempfile::TempDir,
    mounts: std::cell::RefCell<Vec<PathBuf>>,
    /// The test's own network namespace (made on first use), where every engine command
    /// runs: bridges, veths and nft rules never touch the host's network.
    netns: std::cell::OnceCell<PathBuf>,
}

impl Berth {
    pub fn new() -> Berth {
        Berth {
            root: tempfile::Builder::new()
                .prefix("berth-it-")
                .tempdir()
                .unwrap(),
            mounts: Default::default(),
            netns: Default::default(),
        }
    }

    /// The test's network namespace file (`unshare --net=FILE`), `lo` up in it.
    pub fn netns(&self) -> &Path {
        self.netns.get_or_init(|| {
            let file = self.root.path().join("netns");
            std::fs::write(&file, b"").unwrap();
            let made = Command::new(tool("unshare", "util-linux"))
                .arg(format!("--net={}", file.display()))
                .arg("true")
                .status()
                .unwrap();
            assert!(made.success(), "unshare --net={}", file.display());
            let lo = Command::new(tool("nsenter", "util-linux"))
                .arg(format!("--net={}", file.display()))
                .args(["ip", "link", "set", "lo", "up"])
                .status()
                .unwrap();
            assert!(lo.success(), "lo up in the test's namespace");
            file
        })
    }

    /// `berth KIND inspect NAME` (container, volume, network...): the first object.
    pub fn inspect(&self, kind: &str, name: &str) -> serde_json::Value {
        let out = self.cli_ok(&[kind, "inspect", name]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
    }

    /// Runs `f` on a thread that joined the test's network namespace (sockets it opens
    /// live there).
    pub fn on_netns_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let ns = std::fs::File::open(self.netns()).unwrap();
        std::thread::spawn(move || {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&ns),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .unwrap();
            f()
        })
    }

    /// `nsenter --net=NETNS PROGRAM`: a command in the test's network namespace.
    pub fn in_netns(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(tool("nsenter", "util-linux"));
        c.arg(format!("--net={}", self.netns().display()))
            .arg(program);
        c
    }

    /// `berth --root ROOT` in the test's network namespace (arguments to add).
    pub fn berth_cmd(&self) -> Command {
        let mut c = self.in_netns(env!("CARGO_BIN_EXE_berth"));
        c.arg("--root").arg(self.root.path().join("state"));
        c
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// An OCI container ID of this test's own: the runtime names a container's cgroups by
    /// its ID (`berth/<id>`) on the whole host, so tests running side by side must never
    /// share one.
    pub fn id(&self, name: &str) -> String {
        let dir = self.root.path().file_name().unwrap().to_string_lossy();
        let tag: String = dir
            .trim_start_matches("berth-it-")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        format!("{name}-{tag}")
    }

    /// Runs `berth --root ROOT ARGS...`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(self.root.path().join("state"))
            .args(args)
            .output()
            .expect("run berth")
    }

    /// Runs `berth --root ROOT ARGS...` in the test's network namespace (monitors started
    /// there stay in it).
    pub fn cli(&self, args: &[&str]) -> Output {
        self.berth_cmd()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run berth")
    }

    /// [`Berth::cli`] asserting success; returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        succeeded(args, self.cli(args))
    }

    /// Imports the busybox image as `name`.
    pub fn busybox_image(&self, name: &str) {
        let tar = self.root.path().join("busybox.tar");
        std::fs::write(&tar, busybox_rootfs_tar()).unwrap();
        self.ok(&["image", "import", tar.to_str().unwrap(), name]);
    }

    /// Loads an image `name` (a `repo:tag`) of the busybox layer plus `extra` layers, with
    /// the image config `config`.
    pub fn busybox_image_with(&self, name: &str, extra: Vec<Vec<u8>>, config: serde_json::Value) {
        let (repo, tag) = name.rsplit_once(':').unwrap();
        let layout = self.root.path().join(format!("layout-{repo}-{tag}"));
        let mut layers = vec![busybox_rootfs_tar()];
        layers.extend(extra);
        write_oci_layout_with(&layout, &layers, tag, config);
        let archive = self.root.path().join(format!("layout-{repo}-{tag}.tar"));
        std::fs::write(&archive, tar_dir(&layout)).unwrap();
        self.ok(&[
            "image",
            "load",
            "-q",
            "-i",
            archive.to_str().unwrap(),
            "--name",
            repo,
        ]);
    }

    /// Runs berth and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// Runs berth and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "berth {args:?} should have failed:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// `berth image mount IMAGE DIR`, undone when the root is dropped.
    pub fn mount_image(&self, image: &str, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        self.ok(&["image", "mount", image, dir.to_str().unwrap()]);
        self.mounts.borrow_mut().push(dir.to_path_buf());
    }

    /// Files of the state root, as paths relative to it (to check nothing is left behind).
    pub fn state_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        let base = self.root.path().join("state");
        walk_paths(&base, &base, &mut out);
        out.sort();
        out
    }
}

/// Asserts that `berth ARGS` succeeded; its stdout.
fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "berth {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Drop for Berth {
    fn drop(&mut self) {
        // Containers a test left (it failed midway): remove them, monitors and all.
        if self.root.path().join("state/berth.db").exists() {
            let ids = self.cli(&["ps", "-aq", "--no-trunc"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.cli(&["container", "rm", "-f", id]);
            }
            // Volumes (a tmpfs volume is a mount), networks (and their DNS servers).
            let _ = self.cli(&["volume", "prune", "-a"]);
            let nets = self.cli(&["network", "ls", "-q"]);
            for n in String::from_utf8_lossy(&nets.stdout).lines() {
                let _ = self.cli(&["network", "rm", n]);
            }
        }
        for m in self.mounts.borrow().iter().rev() {
            let _ = rustix::mount::unmount(m, rustix::mount::UnmountFlags::DETACH);
        }
        // The namespace ends with its last user (bridges, veths and nft rules with it).
        if let Some(ns) = self.netns.get() {
            let _ = rustix::mount::unmount(ns, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

fn walk_paths(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        out.push(p.strip_prefix(base).unwrap().display().to_string());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk_paths(base, &p, out);
        }
    }
}

/// A busybox root filesystem tarball (from Debian's busybox-static): /bin/busybox, an applet
/// symlink for every applet, /etc/passwd and /etc/group, /tmp 1777.
pub fn busybox_rootfs_tar() -> Vec<u8> {
    let busybox = tool("busybox", "busybox-static");
    let list = Command::new(&busybox).arg("--list-full").output().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for dir in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "root", "var", "var/www",
    ] {
        let mode = if dir == "tmp" { 0o1777 } else { 0o755 };
        add_dir(&mut b, dir, mode);
    }
    let data = std::fs::read(&busybox).unwrap();
    add_file(&mut b, "bin/busybox", &data, 0o755);
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "bin/busybox" && !applet.is_empty() {
            add_symlink(&mut b, applet, "/bin/busybox");
        }
    }
    add_file(
        &mut b,
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        0o644,
    );
    add_file(&mut b, "etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644);
    add_file(&mut b, "var/www/index.html", b"hello from busybox\n", 0o644);
    b.into_inner().unwrap()
}

pub fn header(kind: tar::EntryType, path: &str, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_path(path).unwrap();
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    h
}

pub fn add_dir(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) {
    let h = header(tar::EntryType::Directory, path, mode, 0);
    b.append(&h, std::io::empty()).unwrap();
}

pub fn add_file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) {
    let h = header(tar::EntryType::Regular, path, mode, data.len() as u64);
    b.append(&h, data).unwrap();
}

pub fn add_file_owned(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    data: &[u8],
    mode: u32,
    uid: u64,
    gid: u64,
) {
    let mut h = header(tar::EntryType::Regular, path, mode, data.len() as u64);
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

pub fn add_symlink(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = header(tar::EntryType::Symlink, path, 0o777, 0);
    h.set_link_name(target).unwrap();
    h.set_cksum();
    b.append(&h, std::io::empty()).unwrap();
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes an OCI image layout at `dir` with one image of `layers` (plain tars, stored
/// gzip-compressed), tagged `tag`; returns the config digest ("sha256:...").
pub fn write_oci_layout(dir: &Path, layers: &[Vec<u8>], tag: &str) -> String {
    write_oci_layout_with(
        dir,
        layers,
        tag,
        serde_json::json!({"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]}),
    )
}

/// [`write_oci_layout`] with the image's `config` (Env, Cmd, Volumes...) given.
pub fn write_oci_layout_with(
    dir: &Path,
    layers: &[Vec<u8>],
    tag: &str,
    image_config: serde_json::Value,
) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> String {
        let hex = sha256_hex(data);
        std::fs::write(blobs.join(&hex), data).unwrap();
        format!("sha256:{hex}")
    };
    let mut diff_ids = Vec::new();
    let mut layer_descs = Vec::new();
    for layer in layers {
        diff_ids.push(format!("sha256:{}", sha256_hex(layer)));
        let gz = gzip(layer);
        let digest = put(&gz);
        layer_descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest,
            "size": gz.len(),
        }));
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| serde_json::json!({"created_by": "test layer"})).collect::<Vec<_>>(),
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = put(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layer_descs,
    }))
    .unwrap();
    let manifest_digest = put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    config_digest
}

/// A tar archive of the directory `dir` (an OCI layout), entries relative to it.
pub fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

/// What a tree holds, path -> description (type, mode, owner, size, content hash or link
/// target), for comparing two unpacked trees.
pub fn tree_listing(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    list_into(root, root, &mut out);
    out
}

fn list_into(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p.strip_prefix(base).unwrap().display().to_string();
        let md = std::fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let owner = format!("{}:{}", md.uid(), md.gid());
        let desc = if ft.is_symlink() {
            format!("symlink -> {}", std::fs::read_link(&p).unwrap().display())
        } else if ft.is_dir() {
            format!("dir {:o} {owner}", md.permissions().mode() & 0o7777)
        } else if ft.is_file() {
            let mut data = Vec::new();
            std::fs::File::open(&p)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            format!(
                "file {:o} {owner} {} {}",
                md.permissions().mode() & 0o7777,
                md.len(),
                &sha256_hex(&data)[..16]
            )
        } else {
            format!("other {:o} {owner} rdev={}", md.mode(), md.rdev())
        };
        out.insert(rel, desc);
        if ft.is_dir() {
            list_into(base, &p, out);
        }
    }
}

impl Berth {
    /// `unshare --net berth --root ROOT oci ARGS...`: the runtime inside a private network
    /// namespace of the test's own.
    pub fn oci(&self, args: &[&str]) -> Output {
        Command::new(tool("unshare", "util-linux"))
            .arg("--net")
            .arg(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(self.root.path().join("state"))
            .arg("oci")
            .args(args)
            .output()
            .expect("run berth oci")
    }

    fn oci_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(tool("unshare", "util-linux"));
        c.arg("--net")
            .arg(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(self.root.path().join("state"))
            .arg("oci")
            .args(args);
        c
    }

    /// Starts `berth oci ARGS` without waiting (its output goes to the test's).
    pub fn oci_spawn(&self, args: &[&str]) -> std::process::Child {
        self.oci_command(args).spawn().expect("spawn berth oci")
    }

    /// Starts `berth oci ARGS` with its stdout and stderr piped back to the test.
    pub fn oci_spawn_output(&self, args: &[&str]) -> std::process::Child {
        self.oci_command(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn berth oci")
    }

    /// `berth oci ARGS` with output to files: a created container keeps the streams open,
    /// so a pipe would never reach its end.
    pub fn oci_detached(&self, args: &[&str]) -> Output {
        let out_path = self.root.path().join("detached.out");
        let err_path = self.root.path().join("detached.err");
        let status = self
            .oci_command(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("run berth oci");
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        }
    }

    /// A busybox bundle under the test root with the default spec and `args` as the process.
    pub fn bundle(
        &self,
        name: &str,
        args: &[&str],
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> PathBuf {
        let dir = self.root.path().join(name);
        let rootfs = dir.join("rootfs");
        for d in ["bin", "proc", "dev", "sys", "etc", "tmp"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        let busybox = tool("busybox", "busybox-static");
        std::fs::copy(&busybox, rootfs.join("bin/busybox")).unwrap();
        let list = Command::new(&busybox).arg("--list").output().unwrap();
        for applet in String::from_utf8(list.stdout).unwrap().lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n",
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["oci", "spec"])
            .output()
            .unwrap();
        let mut spec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        spec["process"]["args"] = serde_json::json!(args);
        edit(&mut spec);
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        dir
    }
}

/// stdout of an Output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr of an Output, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
