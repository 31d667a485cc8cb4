//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"RFC 3339 with nanoseconds"}`, rotated by size
//! (the current file and one older, `<file>.1`). The monitor writes; commands read and follow.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Longest line kept whole; longer output is split into several entries.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Writes a container's output.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    partial: [Vec<u8>; 2],
}

fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

impl LogWriter {
    pub fn open(path: &Path, max_size: u64) -> std::io::Result<LogWriter> {
        // The log is root's alone: a container's output may hold its secrets.
        let file = crate::engine::private::open(path, true)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            max_size: max_size.max(4096),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Adds output of stream 0 (stdout) or 1 (stderr).
    pub fn write(&mut self, stream: usize, data: &[u8]) {
        let mut buf = std::mem::take(&mut self.partial[stream]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            self.emit(stream, &buf[start..start + nl + 1]);
            start += nl + 1;
        }
        while buf.len() - start > MAX_LINE {
            self.emit(stream, &buf[start..start + MAX_LINE]);
            start += MAX_LINE;
        }
        self.partial[stream] = buf[start..].to_vec();
    }

    /// The unfinished lines of stdout and stderr (to hand the writer over across an exec).
    pub fn partial(&self) -> [Vec<u8>; 2] {
        self.partial.clone()
    }

    /// Takes up unfinished lines a previous writer of the same log held.
    pub fn set_partial(&mut self, partial: [Vec<u8>; 2]) {
        self.partial = partial;
    }

    /// Writes what is left of unfinished lines (at the end of the container's output).
    pub fn flush(&mut self) {
        for stream in 0..2 {
            let rest = std::mem::take(&mut self.partial[stream]);
            if !rest.is_empty() {
                self.emit(stream, &rest);
            }
        }
    }

    fn emit(&mut self, stream: usize, line: &[u8]) {
        let entry = Entry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.to_string(),
            time: super::records::now(),
        };
        let mut text = serde_json::to_vec(&entry).expect("serialisable");
        text.push(b'\n');
        if self.size + text.len() as u64 > self.max_size && self.size > 0 {
            let _ = std::fs::rename(&self.path, rotated(&self.path));
            if let Ok(f) = crate::engine::private::open(&self.path, false) {
                self.file = f;
                self.size = 0;
            }
        }
        if self.file.write_all(&text).is_ok() {
            self.size += text.len() as u64;
        }
    }
}

/// Every entry of the log (the rotated file first).
pub fn read_all(path: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for p in [rotated(path), path.to_path_buf()] {
        if let Ok(f) = File::open(&p) {
            for line in BufReader::new(f).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str(&line) {
                    out.push(e);
                }
            }
        }
    }
    out
}

/// How long a follower polls the log before it watches it: an inotify watch costs its
/// process ~1 ms when it goes (closing the instance waits for the kernel to free its marks),
/// more than a short container takes to run and print.
const WATCH_AFTER: std::time::Duration = std::time::Duration::from_millis(100);
/// How often the log is looked at until then.
const EARLY_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// Reads entries appended to the log since the last call (following rotation).
pub struct Follower {
    path: PathBuf,
    reader: Option<BufReader<File>>,
    inode: u64,
    pending: String,
    /// Wakes [`Follower::wait`] on changes in the log's directory.
    watch: Option<std::os::fd::OwnedFd>,
    since: std::time::Instant,
}

impl Follower {
    /// Starts at the beginning of the log (of the current file).
    pub fn at_start(path: &Path) -> Follower {
        let mut f = Follower::at_end(path);
        if let Some(r) = &mut f.reader {
            let _ = r.seek(SeekFrom::Start(0));
        }
        f
    }

    /// Waits until the log's directory changes (a write, a rotation, a new exit record) or
    /// `timeout` passes.
    pub fn wait(&mut self, timeout: std::time::Duration) {
        self.wait_or(timeout, None);
    }

    /// As [`Follower::wait`], also waking when `also` turns readable (a pidfd that does when
    /// its process exits).
    pub fn wait_or(
        &mut self,
        timeout: std::time::Duration,
        also: Option<std::os::fd::BorrowedFd<'_>>,
    ) {
        use rustix::fs::inotify;
        let ts = |d: std::time::Duration| rustix::event::Timespec::try_from(d).ok();
        if self.watch.is_none() && self.since.elapsed() < WATCH_AFTER {
            let short = ts(timeout.min(EARLY_POLL));
            match also {
                Some(a) => {
                    let mut fds = [rustix::event::PollFd::new(&a, rustix::event::PollFlags::IN)];
                    let _ = rustix::event::poll(&mut fds, short.as_ref());
                }
                None => std::thread::sleep(timeout.min(EARLY_POLL)),
            }
            return;
        }
        if self.watch.is_none() {
            if let (Ok(fd), Some(dir)) = (
                inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK),
                self.path.parent(),
            ) {
                let mask = inotify::WatchFlags::MODIFY
                    | inotify::WatchFlags::MOVED_TO
                    | inotify::WatchFlags::CREATE;
                if inotify::add_watch(&fd, dir, mask).is_ok() {
                    self.watch = Some(fd);
                    // Changes before the watch existed are read by the next poll.
                    return;
                }
            }
        }
        let ts = ts(timeout);
        match &self.watch {
            Some(fd) => {
                let mut fds = vec![rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
                if let Some(a) = &also {
                    fds.push(rustix::event::PollFd::new(a, rustix::event::PollFlags::IN));
                }
                let _ = rustix::event::poll(&mut fds, ts.as_ref());
                let mut buf = [0u8; 4096];
                while matches!(rustix::io::read(fd, &mut buf), Ok(n) if n > 0) {}
            }
            None => std::thread::sleep(timeout),
        }
    }

    /// Starts at the current end of the log.
    pub fn at_end(path: &Path) -> Follower {
        let mut f = Follower {
            path: path.to_path_buf(),
            reader: None,
            inode: 0,
            pending: String::new(),
            watch: None,
            since: std::time::Instant::now(),
        };
        if let Ok(mut file) = File::open(path) {
            use std::os::unix::fs::MetadataExt;
            f.inode = file.metadata().map(|m| m.ino()).unwrap_or(0);
            let _ = file.seek(SeekFrom::End(0));
            f.reader = Some(BufReader::new(file));
        }
        f
    }

    /// Entries written since the last call.
    pub fn poll(&mut self) -> Vec<Entry> {
        use std::os::unix::fs::MetadataExt;
        let mut out = Vec::new();
        loop {
            if let Some(r) = &mut self.reader {
                loop {
                    let mut line = String::new();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            self.pending.push_str(&line);
                            if self.pending.ends_with('\n') {
                                if let Ok(e) = serde_json::from_str(&self.pending) {
                                    out.push(e);
                                }
                                self.pending.clear();
                            }
                        }
                    }
                }
            }
            // Rotated (or created) under us: continue in the new file from its start.
            let now = std::fs::metadata(&self.path).map(|m| m.ino()).unwrap_or(0);
            if now == self.inode || now == 0 {
                return out;
            }
            self.inode = now;
            self.pending.clear();
            self.reader = File::open(&self.path).ok().map(BufReader::new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_streams_rotation_and_following() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c-json.log");
        let mut w = LogWriter::open(&path, 4096).unwrap();
        let mut follow = Follower::at_end(&path);
        w.write(0, b"hello\nwor");
        w.write(1, b"oops\n");
        w.write(0, b"ld\n");
        let got: Vec<(String, String)> = read_all(&path)
            .into_iter()
            .map(|e| (e.stream, e.log))
            .collect();
        assert_eq!(
            got,
            [
                ("stdout".into(), "hello\n".into()),
                ("stderr".into(), "oops\n".into()),
                ("stdout".into(), "world\n".into())
            ]
        );
        assert_eq!(follow.poll().len(), 3);
        for i in 0..100 {
            w.write(0, format!("line {i:03} of a log that rotates\n").as_bytes());
        }
        w.write(1, b"no newline");
        w.flush();
        assert!(rotated(&path).exists());
        let all = read_all(&path);
        assert!(all.len() < 103, "the oldest entries went with the rotation");
        assert_eq!(all.last().unwrap().log, "no newline");
        let followed = follow.poll();
        assert_eq!(followed.last().unwrap().log, "no newline");
        assert!(followed.iter().any(|e| e.log.starts_with("line 099")));
    }
}
