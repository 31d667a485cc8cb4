//! Container escapes through the runtime's own resources (issue 14, classes 1 and 2): a
//! descriptor of a setup process used as the working directory (runc's "Leaky Vessels",
//! CVE-2024-21626), and the host's berth binaries reached through /proc/self/exe
//! (CVE-2019-5736). Each test tries the variants an attacker would: other descriptor numbers,
//! `/proc/thread-self` and `/proc/1`, the flag, the image's config and the OCI spec, `run`,
//! `exec`, health checks and `berth oci`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::*;

/// `../` enough times to climb from any host directory to `/`.
const UP: &str = "../../../../../../../../../../../../../../../../../../../../";

/// A canary file and a directory under the test's root: what an escape would read or write.
struct Canary {
    file: PathBuf,
    dir: PathBuf,
}

impl Canary {
    fn new(b: &Berth) -> Canary {
        let dir = b.path().join("canary");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "CANARY-8d1f").unwrap();
        Canary { file, dir }
    }

    /// A shell line that reads the canary and writes beside it through `..` from the
    /// working directory, and prints where it is.
    fn script(&self, tag: &str) -> String {
        format!(
            "pwd; cat {UP}{file}; echo written > {UP}{dir}/written-{tag}",
            file = self.file.display(),
            dir = self.dir.display()
        )
    }

    /// Asserts nothing of the host was read or written, for `what`.
    fn untouched(&self, what: &str, out: &std::process::Output) {
        let (o, e) = (stdout(out), stderr(out));
        assert!(
            !o.contains("CANARY") && !e.contains("CANARY"),
            "{what}: the host canary was read:\n{o}\n{e}"
        );
        assert!(
            !o.contains("(unreachable)"),
            "{what}: the working directory is outside the container:\n{o}"
        );
        let written: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("written"))
            .collect();
        assert!(written.is_empty(), "{what}: wrote on the host: {written:?}");
    }
}

/// The working directories an attacker would try: descriptors 3..=40 of the process, of its
/// thread and of the container's PID 1.
fn leaky_dirs() -> Vec<String> {
    let mut out = Vec::new();
    for n in 3..=40 {
        out.push(format!("/proc/self/fd/{n}"));
    }
    for n in [3, 4, 5, 6, 8, 10, 12, 16, 20] {
        out.push(format!("/proc/thread-self/fd/{n}"));
        out.push(format!("/proc/1/fd/{n}"));
    }
    out
}

#[test]
fn a_leaked_descriptor_is_never_the_working_directory_of_run() {
    if !root_or_skip("a_leaked_descriptor_is_never_the_working_directory_of_run") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("busybox:local");
    let canary = Canary::new(&b);
    for (i, dir) in leaky_dirs().iter().enumerate() {
        let script = canary.script(&i.to_string());
        let args = [
            "run",
            "--rm",
            "--network",
            "none",
            "-w",
            dir,
            "busybox:local",
            "sh",
            "-c",
            &script,
        ];
        let out = b.cli(&args);
        canary.untouched(&format!("run -w {dir}"), &out);
    }
    assert!(b.cli_ok(&["ps", "-aq"]).trim().is_empty());
    // A working directory the image lacks is made (as runc makes it), read-only root or not.
    for extra in [None, Some("--read-only")] {
        let mut args = vec!["run", "--rm", "--network", "none", "-w", "/new/dir"];
        args.extend(extra);
        args.extend(["busybox:local", "pwd"]);
        assert_eq!(b.cli_ok(&args).trim(), "/new/dir", "{args:?}");
    }
}

#[test]
fn a_leaked_descriptor_is_never_the_working_directory_of_an_image() {
    if !root_or_skip("a_leaked_descriptor_is_never_the_working_directory_of_an_image") {
        return;
    }
    let b = Berth::new();
    let canary = Canary::new(&b);
    for n in [3, 4, 5, 6, 7, 8, 10, 12, 14, 15, 16, 17, 18, 20, 24] {
        let dir = format!("/proc/self/fd/{n}");
        let name = format!("wd{n}:latest");
        b.busybox_image_with(
            &name,
            vec![],
            serde_json::json!({"WorkingDir": dir, "Cmd": ["sh", "-c", canary.script(&n.to_string())]}),
        );
        let out = b.cli(&["run", "--rm", "--network", "none", &name]);
        canary.untouched(&format!("image WorkingDir {dir}"), &out);
    }
}

#[test]
fn a_leaked_descriptor_is_never_the_working_directory_of_exec() {
    if !root_or_skip("a_leaked_descriptor_is_never_the_working_directory_of_exec") {
        return;
    }
    let b = Berth::new();
    b.busybox_image("busybox:local");
    let canary = Canary::new(&b);
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "victim",
        "--network",
        "none",
        "busybox:local",
        "sleep",
        "1000",
    ]);
    for (i, dir) in leaky_dirs().iter().enumerate() {
        let script = canary.script(&format!("exec-{i}"));
        let out = b.cli(&["exec", "-w", dir, "victim", "sh", "-c", &script]);
        canary.untouched(&format!("exec -w {dir}"), &out);
    }
    // A working directory inside the container still works.
    assert_eq!(
        stdout(&b.cli(&["exec", "-w", "/etc", "victim", "pwd"])).trim(),
        "/etc"
    );
    b.cli_ok(&["container", "rm", "-f", "victim"]);
}

#[test]
fn a_leaked_descriptor_is_never_the_working_directory_of_an_oci_bundle() {
    if !root_or_skip("a_leaked_descriptor_is_never_the_working_directory_of_an_oci_bundle") {
        return;
    }
    let b = Berth::new();
    let canary = Canary::new(&b);
    for n in [3, 4, 5, 6, 7, 8, 9, 10, 12, 16] {
        let script = canary.script(&format!("oci-{n}"));
        let bundle = b.bundle(&format!("b{n}"), &["sh", "-c", &script], |spec| {
            spec["process"]["cwd"] = serde_json::json!(format!("/proc/self/fd/{n}"));
        });
        // The caller leaks a host directory as descriptors 5..=9, as a careless one would.
        let cmd = format!(
            "cd /usr/share; exec 5</ 6</tmp 7</usr 8</etc 9</; exec {} --root {} oci run -b {} c{n}",
            env!("CARGO_BIN_EXE_berth"),
            b.path().join("state").display(),
            bundle.display()
        );
        let out = b.in_netns("sh").arg("-c").arg(&cmd).output().unwrap();
        canary.untouched(&format!("oci process.cwd /proc/self/fd/{n}"), &out);
    }
}

// --- CVE-2019-5736: the host's binaries through /proc/self/exe ---

/// The dynamic libraries `binary` needs (ldd), as (path in the image, content).
fn libraries_of(binary: &str) -> Vec<(String, Vec<u8>)> {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .unwrap();
    let mut libs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux... (0x...)"
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push((
                p.trim_start_matches('/').to_string(),
                std::fs::read(p).unwrap(),
            ));
        }
    }
    assert!(!libs.is_empty(), "ldd {binary} found no libraries");
    libs
}

/// A preload library, built with the C compiler Rust links with: its constructor runs `body`.
fn preload(b: &Berth, name: &str, body: &str) -> Vec<u8> {
    let src = b.path().join(format!("{name}.c"));
    let so = b.path().join(format!("{name}.so"));
    std::fs::write(
        &src,
        format!(
            "#define _GNU_SOURCE\n#include <errno.h>\n#include <fcntl.h>\n#include <stdio.h>\n\
             #include <string.h>\n#include <sys/stat.h>\n#include <unistd.h>\n\
             __attribute__((constructor)) static void probe(void) {{\n{body}\n}}\n"
        ),
    )
    .unwrap();
    let cc = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&so)
        .arg(&src)
        .output()
        .expect("a C compiler (cc) to build the preload library");
    assert!(cc.status.success(), "cc: {}", stderr(&cc));
    std::fs::read(&so).unwrap()
}

/// Prints the device and inode of /proc/self/exe and what an open of it for writing gives.
const PROBE: &str = r#"
    struct stat st;
    int fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) { printf("probe: no exe: %s\n", strerror(errno)); fflush(stdout); _exit(0); }
    int w = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
    printf("probe: exe %lu:%lu write %s\n", (unsigned long)st.st_dev, (unsigned long)st.st_ino,
           w >= 0 ? "OPENED" : strerror(errno));
    fflush(stdout);
    _exit(0);
"#;

/// A layer with the libraries berth-monitor and berth need, and `/probe.so`.
fn probe_layer(so: &[u8]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    let mut seen = std::collections::BTreeSet::new();
    for bin in [
        env!("CARGO_BIN_EXE_berth-monitor"),
        env!("CARGO_BIN_EXE_berth"),
    ] {
        for (path, data) in libraries_of(bin) {
            if !seen.insert(path.clone()) {
                continue;
            }
            let mut dir = String::new();
            for part in Path::new(&path).parent().unwrap().iter() {
                dir.push_str(part.to_str().unwrap());
                dir.push('/');
                if seen.insert(dir.clone()) {
                    add_dir(&mut t, dir.trim_end_matches('/'), 0o755);
                }
            }
            add_file(&mut t, &path, &data, 0o755);
        }
    }
    add_file(&mut t, "probe.so", so, 0o755);
    t.into_inner().unwrap()
}

/// Every `probe:` line of `text` must name a file that is none of `hosts` and that could not
/// be opened for writing.
fn assert_probes_safe(what: &str, text: &str, hosts: &[&Path]) {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("probe: exe "))
        .collect();
    assert!(!lines.is_empty(), "{what}: the probe did not run:\n{text}");
    let ids: Vec<String> = hosts
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).unwrap();
            format!("{}:{}", m.dev(), m.ino())
        })
        .collect();
    for line in lines {
        let rest = line.trim_start_matches("probe: exe ");
        let (id, write) = rest.split_once(" write ").unwrap();
        assert!(
            !ids.contains(&id.to_string()),
            "{what}: the container's process ran a host binary ({line}; host binaries {ids:?})"
        );
        assert_ne!(
            write, "OPENED",
            "{what}: its binary opened for writing ({line})"
        );
    }
}

fn host_binaries() -> [&'static Path; 2] {
    [
        Path::new(env!("CARGO_BIN_EXE_berth-monitor")),
        Path::new(env!("CARGO_BIN_EXE_berth")),
    ]
}

#[test]
fn proc_self_exe_never_reaches_a_host_binary() {
    if !root_or_skip("proc_self_exe_never_reaches_a_host_binary") {
        return;
    }
    let b = Berth::new();
    let so = preload(&b, "probe", PROBE);
    b.busybox_image_with(
        "exe:latest",
        vec![probe_layer(&so)],
        serde_json::json!({"Env": ["PATH=/bin", "LD_PRELOAD=/probe.so"], "Cmd": ["/proc/self/exe"]}),
    );
    let hosts = host_binaries();
    // The container's first process (its monitor's fork).
    let out = b.cli(&["run", "--rm", "--network", "none", "exe:latest"]);
    assert_probes_safe("run", &stdout(&out), &hosts);
    // An exec'd process and a health check (the image's, in exec form) of a running container.
    b.busybox_image_with(
        "exe-hc:latest",
        vec![probe_layer(&so)],
        serde_json::json!({
            "Env": ["PATH=/bin", "LD_PRELOAD=/probe.so"],
            "Cmd": ["sleep", "1000"],
            "Healthcheck": {"Test": ["CMD", "/proc/self/exe"], "Interval": 500_000_000u64},
        }),
    );
    b.cli_ok(&[
        "run",
        "-d",
        "--name",
        "probed",
        "--network",
        "none",
        "exe-hc:latest",
    ]);
    let out = b.cli(&["exec", "probed", "/proc/self/exe"]);
    assert_probes_safe("exec", &stdout(&out), &hosts);
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let v = b.inspect("container", "probed");
        let log = v["State"]["Health"]["Log"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(entry) = log
            .iter()
            .find(|e| e["Output"].as_str().is_some_and(|o| o.contains("probe:")))
        {
            break entry["Output"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no health check ran: {v}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_probes_safe("health check", &health, &hosts);
    b.cli_ok(&["container", "rm", "-f", "probed"]);
}

#[test]
fn proc_self_exe_never_reaches_a_host_binary_from_oci_run() {
    if !root_or_skip("proc_self_exe_never_reaches_a_host_binary_from_oci_run") {
        return;
    }
    let b = Berth::new();
    let so = preload(&b, "probe", PROBE);
    let layer = probe_layer(&so);
    // A PID namespace to join by path (the setup then runs through a first stage).
    let mut holder = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "sleep", "1000"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let joined = loop {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", holder.id()))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            break format!("/proc/{pid}/ns/pid");
        }
        assert!(
            Instant::now() < deadline,
            "unshare --pid did not start its child"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let variants: [(&str, Option<serde_json::Value>); 3] = [
        ("its own PID namespace", None),
        ("the host's PID namespace", Some(serde_json::Value::Null)),
        (
            "a PID namespace joined by path",
            Some(serde_json::json!({"type": "pid", "path": joined})),
        ),
    ];
    for (i, (what, pid_ns)) in variants.into_iter().enumerate() {
        let bundle = b.bundle(&format!("b{i}"), &["/proc/self/exe"], |spec| {
            spec["process"]["env"] = serde_json::json!(["PATH=/bin", "LD_PRELOAD=/probe.so"]);
            if let Some(ns) = &pid_ns {
                let list = spec["linux"]["namespaces"].as_array_mut().unwrap();
                list.retain(|n| n["type"] != "pid");
                if !ns.is_null() {
                    list.push(ns.clone());
                }
            }
        });
        tar::Archive::new(&layer[..])
            .unpack(bundle.join("rootfs"))
            .unwrap();
        let out = b.oci(&[
            "run",
            "-b",
            bundle.to_str().unwrap(),
            &format!("exe-oci-{i}"),
        ]);
        assert_probes_safe(&format!("oci run, {what}"), &stdout(&out), &host_binaries());
    }
    let _ = holder.kill();
    let _ = holder.wait();
}

/// The attack as published: the container's process holds its binary (berth-monitor from the
/// host) by an O_PATH descriptor, execs a shell so that it no longer runs it, and writes
/// through the descriptor once the monitor has handed over to berth-supervisor.
#[test]
fn a_container_cannot_overwrite_berths_binaries() {
    if !root_or_skip("a_container_cannot_overwrite_berths_binaries") {
        return;
    }
    let b = Berth::new();
    // berth installed at a path of the test's own: an escape overwrites that copy only.
    let bin = b.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (from, name) in [
        (env!("CARGO_BIN_EXE_berth"), "berth"),
        (env!("CARGO_BIN_EXE_berth-monitor"), "berth-monitor"),
        (env!("CARGO_BIN_EXE_berth-supervisor"), "berth-supervisor"),
    ] {
        std::fs::copy(from, bin.join(name)).unwrap();
    }
    // Any write changes a file's ctime; the attack's lands at offset 0.
    let state_of = |name: &str| {
        use std::io::Read;
        let m = std::fs::metadata(bin.join(name)).unwrap();
        let mut head = [0u8; 64];
        std::fs::File::open(bin.join(name))
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        (
            name.to_string(),
            m.len(),
            m.ctime(),
            m.ctime_nsec(),
            head.to_vec(),
        )
    };
    let names = ["berth", "berth-monitor", "berth-supervisor"];
    let before: Vec<_> = names.iter().map(|n| state_of(n)).collect();
    let so = preload(
        &b,
        "attack",
        r#"
        int fd = open("/proc/self/exe", O_PATH);
        char script[512];
        snprintf(script, sizeof script,
            "i=0; while [ $i -lt 60 ]; do "
            "if (printf PWNED 1<>/proc/self/fd/%d) 2>/dev/null; then echo OVERWRITTEN; exit 0; fi; "
            "i=$((i+1)); sleep 0.1; done; echo HELD-OFF", fd);
        char *argv[] = {"sh", "-c", script, NULL};
        char *envp[] = {"PATH=/bin", NULL};
        execve("/bin/sh", argv, envp);
        _exit(1);
        "#,
    );
    let run = |args: &[&str]| {
        b.in_netns(bin.join("berth"))
            .arg("--root")
            .arg(b.path().join("state"))
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let layout = b.path().join("attack-layout");
    write_oci_layout_with(
        &layout,
        &[busybox_rootfs_tar(), probe_layer(&so)],
        "latest",
        serde_json::json!({"Env": ["PATH=/bin", "LD_PRELOAD=/probe.so"], "Cmd": ["/proc/self/exe"]}),
    );
    let archive = b.path().join("attack.tar");
    std::fs::write(&archive, tar_dir(&layout)).unwrap();
    let load = run(&[
        "image",
        "load",
        "-q",
        "-i",
        archive.to_str().unwrap(),
        "--name",
        "attack",
    ]);
    assert!(load.status.success(), "{}", stderr(&load));
    let out = run(&["run", "--rm", "--network", "none", "attack:latest"]);
    let after: Vec<_> = names.iter().map(|n| state_of(n)).collect();
    assert_eq!(
        before,
        after,
        "berth's binaries were overwritten: {}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("HELD-OFF") || !stdout(&out).contains("OVERWRITTEN"),
        "{}",
        stdout(&out)
    );
}
