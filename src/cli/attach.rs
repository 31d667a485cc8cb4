//! The client side of attaching to a container through its monitor: our stdin to the
//! container (Ctrl-P Ctrl-Q detaches on a terminal), its output frames to our stdout/stderr.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// Ctrl-P then Ctrl-Q: Docker's detach keys.
const DETACH: [u8; 2] = [0x10, 0x11];

/// Relays until the monitor closes the stream (the container ended: `false`) or the user
/// detaches (`true`). With `tty`, the caller has put its terminal in raw mode first (before
/// the container starts, so no keystroke is cooked by the line discipline).
pub fn session(stream: UnixStream, tty: bool, send_stdin: bool) -> std::io::Result<bool> {
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if send_stdin {
        let mut to_container = stream.try_clone()?;
        let flag = detached.clone();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            let mut last = 0u8;
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if tty {
                    for (j, &b) in buf[..n].iter().enumerate() {
                        if last == DETACH[0] && b == DETACH[1] {
                            // What came before the keys still goes to the container.
                            let _ = to_container.write_all(&buf[..j.saturating_sub(1)]);
                            flag.store(true, std::sync::atomic::Ordering::SeqCst);
                            let _ = to_container.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        last = b;
                    }
                }
                if to_container.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            // End of our input: the container's stdin closes (without a terminal).
            if !tty {
                let _ = to_container.shutdown(std::net::Shutdown::Write);
            }
        });
    }
    let mut from = std::io::BufReader::new(stream);
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    loop {
        let mut head = [0u8; 5];
        if from.read_exact(&mut head).is_err() {
            break;
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut data = vec![0u8; len];
        if from.read_exact(&mut data).is_err() {
            break;
        }
        let w: &mut dyn Write = if head[0] == 2 { &mut err } else { &mut out };
        w.write_all(&data)?;
        w.flush()?;
    }
    Ok(detached.load(std::sync::atomic::Ordering::SeqCst))
}
