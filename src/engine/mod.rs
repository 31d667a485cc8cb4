//! The container engine: images, runtime, network, volumes, monitor and state.
//!
//! The engine knows containers, images, networks and volumes; it never imports the stack file,
//! the graph or the reconciler. Its parts arrive with their own issues.

pub mod container;
pub mod image;
pub mod internal;
pub mod monitor;
pub mod network;
pub mod private;
pub mod runtime;
pub mod state;
pub mod volume;

/// 64 random hex digits: the IDs of containers, networks and anonymous volumes (the
/// kernel's randomness, with the process and the time mixed in should /dev/urandom fail).
pub fn random_id() -> String {
    use sha2::Digest;
    let mut seed = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut seed);
    }
    let mut h = sha2::Sha256::new();
    h.update(seed);
    h.update(std::process::id().to_le_bytes());
    h.update(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_le_bytes(),
    );
    hex::encode(h.finalize())
}
