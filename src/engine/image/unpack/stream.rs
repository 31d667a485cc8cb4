//! The byte stream under a layer's tar: compression detected by magic bytes, the compressed
//! bytes counted (for the ratio guard) and the uncompressed bytes hashed (the diff ID).

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// Counts the bytes read through it into a shared cell.
pub struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Limits on what a stream may expand to.
#[derive(Clone, Copy)]
pub struct Guard {
    pub max_uncompressed: u64,
    pub max_ratio: u64,
}

/// The uncompressed stream: hashes and counts what passes, and stops a decompression bomb.
pub struct Uncompressed {
    inner: Box<dyn Read>,
    compressed: Rc<Cell<u64>>,
    hasher: Sha256,
    total: u64,
    guard: Guard,
}

/// Bytes a stream may produce before the ratio check applies.
const RATIO_GRACE: u64 = 64 << 20;

impl Uncompressed {
    /// Wraps `reader`, detecting gzip (1f 8b), zstd (28 b5 2f fd) or a plain tar.
    pub fn new<R: Read + 'static>(reader: R, guard: Guard) -> io::Result<Uncompressed> {
        let compressed = Rc::new(Cell::new(0));
        let counting = Counting {
            inner: reader,
            count: compressed.clone(),
        };
        let mut buffered = BufReader::with_capacity(256 << 10, counting);
        let head = buffered.fill_buf()?;
        let inner: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?)
        } else {
            Box::new(buffered)
        };
        Ok(Uncompressed {
            inner,
            compressed,
            hasher: Sha256::new(),
            total: 0,
            guard,
        })
    }

    /// Reads the rest of the stream (trailing zero blocks, the compressor's trailer) so the
    /// digest covers it all and a corrupt end is noticed; returns (diff ID, compressed bytes,
    /// uncompressed bytes).
    pub fn finish(mut self) -> io::Result<(String, u64, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let digest = hex::encode(self.hasher.finalize());
        Ok((
            format!("sha256:{digest}"),
            self.compressed.get(),
            self.total,
        ))
    }
}

impl Read for Uncompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.total += n as u64;
        if self.total > self.guard.max_uncompressed {
            return Err(io::Error::other(format!(
                "the layer expands to more than {} bytes",
                self.guard.max_uncompressed
            )));
        }
        let compressed = self.compressed.get().max(1);
        if self.total > RATIO_GRACE && self.total / compressed > self.guard.max_ratio {
            return Err(io::Error::other(format!(
                "the layer expands more than {}-fold ({} bytes from {}): a decompression bomb?",
                self.guard.max_ratio, self.total, compressed
            )));
        }
        Ok(n)
    }
}
