//! Defensive big-endian reading from a message source. Every read is exact; a short source is
//! [`Error::Truncated`]. Bytes read can be recorded (header authentication covers the original bytes,
//! never a re-serialization) and fed to the signature hash.

use std::io::Read;

use crate::{Error, Result};

/// Reads from `inner`, appending every byte read to `record` when recording is on.
pub(crate) struct Source<'a, R: Read> {
    inner: &'a mut R,
    pub(crate) record: Vec<u8>,
}

impl<'a, R: Read> Source<'a, R> {
    pub(crate) fn new(inner: &'a mut R) -> Self {
        Self { inner, record: Vec::new() }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        self.inner.read_exact(&mut out).map_err(Error::from_read)?;
        self.record.extend_from_slice(&out);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Exactly `n` bytes. The buffer grows only as bytes arrive, so a length field cannot make us
    /// allocate memory the input does not back.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        read_exact_growing(self.inner, n, &mut out)?;
        self.record.extend_from_slice(&out);
        Ok(out)
    }

    /// A u16 length followed by that many bytes.
    pub(crate) fn u16_prefixed(&mut self) -> Result<Vec<u8>> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }
}

/// Reads exactly `n` bytes into `out` (cleared first), growing it only as data arrives (capacity it
/// already has is used at once).
pub(crate) fn read_exact_growing<R: Read + ?Sized>(r: &mut R, n: usize, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    if out.capacity() >= n {
        // The steady state of a body (every frame after the first reuses one buffer): the memory is
        // already there, so fill it directly; `read_to_end` would add probing reads per frame.
        out.resize(n, 0);
        return r.read_exact(out).map_err(|e| {
            out.clear();
            Error::from_read(e)
        });
    }
    let want = u64::try_from(n).map_err(|_| Error::LimitExceeded("length"))?;
    r.take(want).read_to_end(out).map_err(Error::from_read)?;
    if out.len() != n {
        return Err(Error::Truncated);
    }
    Ok(())
}

/// `len` as a u16 length field, or an error naming the field.
pub(crate) fn u16_len(len: usize, what: &'static str) -> Result<u16> {
    u16::try_from(len).map_err(|_| Error::LimitExceeded(what))
}

/// Appends `u16 len ‖ bytes`, failing when `bytes` is longer than 65535.
pub(crate) fn put_u16_prefixed(out: &mut Vec<u8>, bytes: &[u8], what: &'static str) -> Result<()> {
    out.extend_from_slice(&u16_len(bytes.len(), what)?.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}
