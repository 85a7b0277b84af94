//! Buffered input whose buffer is wiped when dropped (it holds plaintext on encrypt), lent out
//! through [`BufRead`] so the copy loop hands it to the encryptor without another copy.
//!
//! A read-ahead thread was tried (reading a file costs the kernel a copy per byte, about a third of
//! encrypting it): on this project's 2-core machines under load it made 1 GiB slower, not faster
//! (0.46 s against 0.375 s), so input is read on the encrypting thread.

use std::io::{BufRead, Read};

use zeroize::Zeroizing;

use super::output::CHUNK;

/// `BufReader` with a zeroizing buffer (allocated, zero-filled, on the first read).
pub(super) struct SecretBufReader<R> {
    inner: R,
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
    filled: usize,
}

impl<R: Read> SecretBufReader<R> {
    pub(super) fn new(inner: R) -> Self {
        Self { inner, buf: Zeroizing::new(Vec::new()), pos: 0, filled: 0 }
    }
}

impl<R: Read> Read for SecretBufReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.fill_buf()?.len().min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for SecretBufReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.filled {
            if self.buf.is_empty() {
                self.buf.resize(CHUNK, 0);
            }
            // Nothing stale is handed out after an error.
            (self.pos, self.filled) = (0, 0);
            self.filled = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn drain(mut r: impl BufRead) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = r.fill_buf().unwrap();
            if b.is_empty() {
                return out;
            }
            let n = b.len().min(1000); // consume in odd pieces
            out.extend_from_slice(&b[..n]);
            r.consume(n);
        }
    }

    #[test]
    fn returns_the_input_exactly() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            assert_eq!(drain(SecretBufReader::new(&data[..])), data, "{len}");
            let mut via_read = Vec::new();
            SecretBufReader::new(&data[..]).read_to_end(&mut via_read).unwrap();
            assert_eq!(via_read, data);
        }
    }

    #[test]
    fn read_errors_reach_the_consumer() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
        }
        let err = std::io::copy(&mut SecretBufReader::new(Failing(CHUNK + 10)), &mut std::io::sink()).unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
    }
}
