//! The byte stream under a layer's tar: compression detected by magic bytes, the compressed
//! bytes counted (for the ratio guard) and the uncompressed bytes hashed (the diff ID) and
//! metered (see [`Meter`]).

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

/// What the tar reader took from the uncompressed stream, shared with the unpacker while the
/// reader holds the stream: the bytes so far (a read of an entry that took none returned
/// zeros the reader made up, a sparse file's hole), and how far the headers of the entry
/// being parsed may reach.
#[derive(Default)]
pub struct Meter {
    consumed: Cell<u64>,
    headers_end: Cell<Option<u64>>,
    over_limit: Cell<bool>,
    over_headers: Cell<bool>,
}

/// Most bytes of headers one entry may have (PAX records, GNU long names, the extension
/// blocks of a sparse map), which the tar reader holds in memory.
pub const MAX_HEADER_BYTES: u64 = 16 << 20;

impl Meter {
    /// Bytes taken from the stream so far.
    pub fn consumed(&self) -> u64 {
        self.consumed.get()
    }

    /// From now until [`Meter::headers_done`], at most [`MAX_HEADER_BYTES`] may be read.
    pub fn headers_start(&self) {
        self.headers_end
            .set(Some(self.consumed.get().saturating_add(MAX_HEADER_BYTES)));
    }

    pub fn headers_done(&self) {
        self.headers_end.set(None);
    }

    /// Whether the stream stopped at its size limit.
    pub fn over_limit(&self) -> bool {
        self.over_limit.get()
    }

    /// Whether the stream stopped at an entry's header budget.
    pub fn over_headers(&self) -> bool {
        self.over_headers.get()
    }
}

/// The uncompressed stream: hashes and counts what passes, and stops a decompression bomb.
pub struct Uncompressed {
    inner: Box<dyn Read>,
    compressed: Rc<Cell<u64>>,
    hasher: Sha256,
    meter: Rc<Meter>,
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
            meter: Rc::default(),
            guard,
        })
    }

    /// The stream's meter, shared.
    pub fn meter(&self) -> Rc<Meter> {
        self.meter.clone()
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
            self.meter.consumed(),
        ))
    }
}

impl Read for Uncompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        let total = self.meter.consumed.get() + n as u64;
        self.meter.consumed.set(total);
        if total > self.guard.max_uncompressed {
            self.meter.over_limit.set(true);
            return Err(io::Error::other(format!(
                "the layer expands to more than {} bytes",
                self.guard.max_uncompressed
            )));
        }
        if self.meter.headers_end.get().is_some_and(|end| total > end) {
            self.meter.over_headers.set(true);
            return Err(io::Error::other(format!(
                "an entry's headers take more than {MAX_HEADER_BYTES} bytes"
            )));
        }
        let compressed = self.compressed.get().max(1);
        if total > RATIO_GRACE && total / compressed > self.guard.max_ratio {
            return Err(io::Error::other(format!(
                "the layer expands more than {}-fold ({} bytes from {}): a decompression bomb?",
                self.guard.max_ratio, total, compressed
            )));
        }
        Ok(n)
    }
}
