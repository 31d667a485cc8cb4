//! The container's standard streams as the monitor holds them, and the attach socket.
//!
//! - Without a terminal: pipes for stdout and stderr (and stdin with `-i`), put on the
//!   monitor's own 0/1/2 while the runtime creates the container, which inherits them.
//! - With a terminal: the runtime sends the pty master over a console socket; output is one
//!   stream, input goes to the master.
//!
//! Attach clients connect to `<run>/<id>/attach.sock`. The monitor sends them output frames
//! (`[stream: 1 = stdout, 2 = stderr][length: u32 big-endian][bytes]`) and writes what they send
//! to the container's input; a client closing its side closes stdin (without a terminal).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engine::runtime;

/// The container's streams for one run.
pub struct Streams {
    /// (stream index 0 = stdout / 1 = stderr, read end or pty master)
    pub outputs: Vec<(usize, OwnedFd)>,
    /// Where input goes (stdin pipe's write end or the pty master).
    pub input: Option<OwnedFd>,
    console: Option<(UnixListener, PathBuf)>,
    saved: Option<[OwnedFd; 3]>,
    tty: bool,
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

impl Streams {
    /// Prepares the streams and, without a terminal, points the monitor's 0/1/2 at them
    /// until [`Streams::after_create`].
    pub fn before_create(run_dir: &Path, tty: bool, stdin: bool) -> Result<Streams, String> {
        // The monitor's own streams (/dev/null in, its log file out), restored after create.
        let own = |fd: std::os::fd::BorrowedFd<'_>| {
            rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(|e| format!("dup: {e}"))
        };
        let saved = [
            own(rustix::stdio::stdin())?,
            own(rustix::stdio::stdout())?,
            own(rustix::stdio::stderr())?,
        ];
        if tty {
            let path = run_dir.join("console.sock");
            let _ = std::fs::remove_file(&path);
            let l =
                runtime::unixsock::bind(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            return Ok(Streams {
                outputs: Vec::new(),
                input: None,
                console: Some((l, path)),
                saved: Some(saved),
                tty,
            });
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        rustix::stdio::dup2_stdout(&out_w).map_err(|e| format!("dup2: {e}"))?;
        rustix::stdio::dup2_stderr(&err_w).map_err(|e| format!("dup2: {e}"))?;
        let mut input = None;
        if stdin {
            let (in_r, in_w) = pipe()?;
            rustix::stdio::dup2_stdin(&in_r).map_err(|e| format!("dup2: {e}"))?;
            input = Some(in_w);
        }
        Ok(Streams {
            outputs: vec![(0, out_r), (1, err_r)],
            input,
            console: None,
            saved: Some(saved),
            tty,
        })
    }

    /// The console socket the runtime sends the pty master to, with a terminal.
    pub fn console_socket(&self) -> Option<PathBuf> {
        self.console.as_ref().map(|(_, p)| p.clone())
    }

    /// Puts /dev/null back on the monitor's 0/1/2; with a terminal, takes the pty master.
    pub fn after_create(&mut self, created: bool) -> Result<(), String> {
        if let Some([i, o, e]) = self.saved.take() {
            let _ = rustix::stdio::dup2_stdin(&i);
            let _ = rustix::stdio::dup2_stdout(&o);
            let _ = rustix::stdio::dup2_stderr(&e);
        }
        if let Some((l, path)) = self.console.take() {
            let _ = std::fs::remove_file(&path);
            if !created {
                return Ok(());
            }
            let master = runtime::take_console(&l, "").map_err(|e| e.to_string())?;
            let input =
                rustix::io::fcntl_dupfd_cloexec(&master, 0).map_err(|e| format!("dup: {e}"))?;
            self.outputs = vec![(0, master)];
            self.input = Some(input);
        }
        Ok(())
    }

    pub fn tty(&self) -> bool {
        self.tty
    }
}

/// Output a slow client may have queued before its chunks are dropped.
const MAX_UNSENT: usize = 1 << 20;

/// One attached client.
pub struct Client {
    pub stream: UnixStream,
    /// Still sending input (false once it closed its side).
    pub reading: bool,
    /// Still receiving output (false once it went away or shut its side).
    pub writing: bool,
    /// Frames (whole ones only) the client has not taken yet.
    pub unsent: Vec<u8>,
}

impl Client {
    /// Sends what is queued without blocking; a write error ends the output side.
    pub fn flush(&mut self) {
        while self.writing && !self.unsent.is_empty() {
            match rustix::io::write(&self.stream, &self.unsent) {
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return,
                Err(_) => {
                    self.writing = false;
                    self.unsent.clear();
                }
            }
        }
    }

    /// A client is kept while it still sends input (which must reach the container even
    /// when it no longer takes output) or takes output.
    pub fn alive(&self) -> bool {
        self.reading || self.writing
    }
}

/// The attach socket and its clients.
pub struct Attach {
    listener: UnixListener,
    pub clients: Vec<Client>,
}

impl Attach {
    pub fn bind(run_dir: &Path) -> Result<Attach, String> {
        let path = run_dir.join("attach.sock");
        let _ = std::fs::remove_file(&path);
        let listener =
            runtime::unixsock::bind(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(Attach {
            listener,
            clients: Vec::new(),
        })
    }

    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    /// An attach socket already bound (handed over across an exec), with its clients.
    pub fn from_parts(listener: UnixListener, clients: Vec<Client>) -> Attach {
        Attach { listener, clients }
    }

    /// Accepts the clients waiting.
    pub fn accept(&mut self) {
        while let Ok((c, _)) = self.listener.accept() {
            let _ = c.set_nonblocking(true);
            self.clients.push(Client {
                stream: c,
                reading: true,
                writing: true,
                unsent: Vec::new(),
            });
        }
    }

    /// Waits up to `timeout` for a first client (a `run -i/-t` attaches before the start).
    pub fn wait_for_client(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.clients.is_empty() && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let ts = rustix::event::Timespec::try_from(left).ok();
            let mut fds = [rustix::event::PollFd::new(
                &self.listener,
                rustix::event::PollFlags::IN,
            )];
            let _ = rustix::event::poll(&mut fds, ts.as_ref());
            self.accept();
        }
    }

    /// Queues output for every client as a frame `[stream+1][len u32 BE][data]`; a client
    /// that cannot keep up loses whole chunks, never part of one.
    pub fn broadcast(&mut self, stream: usize, data: &[u8]) {
        let mut frame = Vec::with_capacity(data.len() + 5);
        frame.push(stream as u8 + 1);
        frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
        frame.extend_from_slice(data);
        for c in &mut self.clients {
            c.flush();
            if c.writing && c.unsent.len() + frame.len() <= MAX_UNSENT {
                c.unsent.extend_from_slice(&frame);
                c.flush();
            }
        }
        self.clients.retain(Client::alive);
    }

    /// Hands every client what is still queued (for up to a second each), then drops them:
    /// the container is done.
    pub fn close_all(&mut self) {
        for c in &mut self.clients {
            if c.writing && !c.unsent.is_empty() {
                let _ = c.stream.set_nonblocking(false);
                let _ = c.stream.set_write_timeout(Some(Duration::from_secs(1)));
                let _ = std::io::Write::write_all(&mut c.stream, &c.unsent);
            }
        }
        self.clients.clear();
    }
}

/// Writes input to the container, dropping it when the container does not read.
pub fn feed(input: &impl AsFd, data: &[u8]) {
    let mut rest = data;
    while !rest.is_empty() {
        match rustix::io::write(input, rest) {
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}
