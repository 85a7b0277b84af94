//! Streaming encryption: an [`Encryptor`] is a `Write` that emits a framed message.
//!
//! Memory is one frame: plaintext is collected into a frame buffer, sealed in place and written out.
//! A full buffer is sealed as a regular frame at once, so the final frame written by `finish` is
//! always shorter than the frame length: empty when the plaintext is an exact multiple of it (or
//! empty). The message format also allows a full-length final frame (the Dafny/.NET SDKs write one),
//! but the encrypt specification's algorithm and the Python SDK (aws-encryption-cli 4.x) end with a
//! shorter frame, and Python refuses a full one ("Invalid final frame length: 4096 >= 4096").
//! Decryption accepts both.

use std::io::Write;

use trent_crypto::esdk::{EcdsaSigner, GcmKey, TAG_LEN, sequence_iv};
use trent_crypto::random_array;

use crate::body::{BodyPart, FINAL_FRAME_MARKER, MAX_FRAME_LENGTH, body_aad, derive_message_key};
use crate::context::{self, check_no_reserved_keys, restrict};
use crate::header::{ContentType, HeaderAuth, HeaderBody};
use crate::{AlgorithmSuite, Client, EncryptionContext, EncryptionRequest, Error, MaterialsManager, Result};

/// Options of one encryption.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    /// `None`: the commitment policy's default (0x0578, or 0x0378 under FORBID).
    pub suite: Option<AlgorithmSuite>,
    /// Plaintext bytes per frame, 1 to 2^31 - 1. Default 4096.
    pub frame_length: u32,
    /// When given, the plaintext must have exactly this length (passed to the materials manager).
    pub plaintext_length: Option<u64>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self { suite: None, frame_length: 4096, plaintext_length: None }
    }
}

/// Writes one encrypted message to `W`. Call [`Encryptor::finish`]: dropping it leaves an incomplete
/// message that every decryptor rejects.
pub struct Encryptor<W: Write> {
    out: W,
    key: GcmKey,
    message_id: Vec<u8>,
    signer: Option<EcdsaSigner>,
    frame_len: usize,
    buf: Vec<u8>,
    seq: u32,
    header: HeaderBody,
    written: u64,
    expected_len: Option<u64>,
    failed: bool,
    /// Tests only: hold a full buffer until more plaintext arrives, so an exact multiple ends with a
    /// full-length final frame as the Dafny/.NET SDKs write it (decryption must keep accepting those).
    full_final_frame: bool,
}

impl<W: Write> Encryptor<W> {
    pub(crate) fn new(
        client: &Client,
        cmm: &dyn MaterialsManager,
        encryption_context: &EncryptionContext,
        options: &EncryptOptions,
        mut out: W,
    ) -> Result<Self> {
        if options.frame_length == 0 || options.frame_length > MAX_FRAME_LENGTH {
            return Err(Error::Config(format!("frame length must be 1 to {MAX_FRAME_LENGTH}")));
        }
        check_no_reserved_keys(encryption_context)?;
        let policy = client.commitment_policy;
        if let Some(s) = options.suite {
            policy.check_encrypt(s)?;
        }
        let request = EncryptionRequest {
            encryption_context: encryption_context.clone(),
            commitment_policy: policy,
            suite: options.suite,
            max_plaintext_length: options.plaintext_length,
            required_encryption_context_keys: Default::default(),
        };
        let materials = cmm.get_encryption_materials(request)?;
        let (suite, full_context, required, edks, data_key, signer) = materials.into_parts();
        policy.check_encrypt(suite)?;
        if options.suite.is_some_and(|s| s != suite) {
            return Err(Error::Config("the materials manager changed the requested algorithm suite".into()));
        }
        if let Some(max) = client.max_encrypted_data_keys
            && edks.len() > max
        {
            return Err(Error::TooManyEncryptedDataKeys { count: edks.len(), max });
        }
        let data_key = data_key.ok_or_else(|| Error::Keyring("no data key".into()))?;
        let id: [u8; 32] = random_array()?;
        let message_id = id[..suite.message_id_len()].to_vec();
        let mk = derive_message_key(suite, &data_key, &message_id, false)?;
        drop(data_key);

        // Required-only pairs are authenticated (below) but not stored.
        let stored: EncryptionContext =
            full_context.iter().filter(|(k, _)| !required.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let header = HeaderBody {
            suite,
            message_id: message_id.clone(),
            encryption_context: stored,
            encrypted_data_keys: edks,
            content_type: ContentType::Framed,
            frame_length: options.frame_length,
            commit_key: mk.commit_key,
        };
        let body_bytes = header.serialize()?;
        let mut aad = body_bytes.clone();
        aad.extend_from_slice(&context::serialize(&restrict(&full_context, &required))?);
        // Sequence 0: the all-zero header IV; frames use 1.., so the IV is never reused under this key.
        let tag = mk.key.seal_in_place(0, &aad, &mut [])?;
        let auth = HeaderAuth { iv: (suite.message_format_version() == 1).then(|| sequence_iv(0)), tag };

        let mut signer = signer;
        let auth_bytes = auth.serialize();
        for part in [&body_bytes, &auth_bytes] {
            out.write_all(part)?;
            if let Some(s) = signer.as_mut() {
                s.update(part);
            }
        }
        let frame_len = usize::try_from(options.frame_length).map_err(|_| Error::LimitExceeded("frame length"))?;
        Ok(Self {
            out,
            key: mk.key,
            message_id,
            signer,
            frame_len,
            buf: Vec::with_capacity(frame_len.min(1 << 20) + TAG_LEN),
            seq: 1,
            header,
            written: 0,
            expected_len: options.plaintext_length,
            failed: false,
            full_final_frame: false,
        })
    }

    /// Tests only: end an exact multiple of the frame length with a full-length final frame.
    #[cfg(test)]
    pub(crate) fn with_full_final_frame(mut self) -> Self {
        self.full_final_frame = true;
        self
    }

    /// The header written (the stored encryption context includes `aws-crypto-public-key` for signed
    /// suites).
    pub fn header(&self) -> &HeaderBody {
        &self.header
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes)?;
        if let Some(s) = self.signer.as_mut() {
            s.update(bytes);
        }
        Ok(())
    }

    /// Seals the buffered plaintext as the next frame and writes it.
    fn write_frame(&mut self, is_final: bool) -> Result<()> {
        let seq = self.seq;
        // Regular frames use 1..=2^32-2; 2^32-1 is left for the final frame (at most 2^32-1 frames).
        if !is_final && seq == FINAL_FRAME_MARKER {
            return Err(Error::LimitExceeded("frame count"));
        }
        let len = self.buf.len();
        let part = if is_final { BodyPart::FinalFrame } else { BodyPart::Frame };
        let aad = body_aad(&self.message_id, part, seq, len as u64);
        let mut head = Vec::with_capacity(24);
        if is_final {
            head.extend_from_slice(&FINAL_FRAME_MARKER.to_be_bytes());
        }
        head.extend_from_slice(&seq.to_be_bytes());
        head.extend_from_slice(&sequence_iv(seq));
        if is_final {
            let l = u32::try_from(len).map_err(|_| Error::LimitExceeded("frame length"))?;
            head.extend_from_slice(&l.to_be_bytes());
        }
        let tag = self.key.seal_in_place(seq, &aad, &mut self.buf)?;
        self.buf.extend_from_slice(&tag);
        let frame = std::mem::take(&mut self.buf);
        let result = self.emit(&head).and_then(|()| self.emit(&frame));
        self.buf = frame;
        self.buf.clear();
        result?;
        if !is_final {
            self.seq = seq + 1; // cannot overflow: checked at the top
        }
        Ok(())
    }

    fn write_plaintext(&mut self, mut data: &[u8]) -> Result<()> {
        if self.failed {
            return Err(Error::Config("a previous write failed; the message is unusable".into()));
        }
        self.written = self.written.saturating_add(data.len() as u64);
        if self.expected_len.is_some_and(|n| self.written > n) {
            return Err(Error::Config("more plaintext than the declared plaintext length".into()));
        }
        while !data.is_empty() {
            if self.buf.len() == self.frame_len {
                self.write_frame(false)?; // only reached when full_final_frame held it
            }
            let n = (self.frame_len - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            // Seal a full frame now: `finish` then writes the rest (< frame length, maybe nothing) as
            // the final frame, as the encrypt specification does.
            if self.buf.len() == self.frame_len && !self.full_final_frame {
                self.write_frame(false)?;
            }
        }
        Ok(())
    }

    /// Writes the final frame and, for signed suites, the footer; returns the writer (flushed).
    pub fn finish(mut self) -> Result<W> {
        if self.failed {
            return Err(Error::Config("a previous write failed; the message is unusable".into()));
        }
        if self.expected_len.is_some_and(|n| n != self.written) {
            return Err(Error::Config("less plaintext than the declared plaintext length".into()));
        }
        self.write_frame(true)?;
        if let Some(signer) = self.signer.take() {
            let sig = signer.finish()?;
            let len = u16::try_from(sig.len()).map_err(|_| Error::LimitExceeded("signature"))?;
            self.out.write_all(&len.to_be_bytes())?;
            self.out.write_all(&sig)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self.write_plaintext(data) {
            Ok(()) => Ok(data.len()),
            Err(e) => {
                self.failed = true;
                Err(e.into())
            }
        }
    }

    /// Flushes the underlying writer; buffered plaintext stays until its frame is complete.
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use trent_crypto::SecretBytes;

    use super::*;
    use crate::{CommitmentPolicy, DecryptOptions, DefaultMaterialsManager, RawAesKeyring};

    fn cmm() -> DefaultMaterialsManager {
        let ring = RawAesKeyring::new("trent-test", "k", SecretBytes::new(vec![3; 32])).unwrap();
        DefaultMaterialsManager::new(Arc::new(ring))
    }

    fn client() -> Client {
        Client::new().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
    }

    fn encrypt(suite: AlgorithmSuite, frame: u32, pt: &[u8], full_final: bool, chunk: usize) -> Vec<u8> {
        let opts = EncryptOptions { suite: Some(suite), frame_length: frame, plaintext_length: None };
        let mut e = client().encryptor(&cmm(), &EncryptionContext::new(), &opts, Vec::new()).unwrap();
        if full_final {
            e = e.with_full_final_frame();
        }
        for c in pt.chunks(chunk.max(1)) {
            e.write_all(c).unwrap();
        }
        e.finish().unwrap()
    }

    /// The body's frames as (is final, sequence number, content length).
    fn frames(msg: &[u8], frame: usize) -> Vec<(bool, u32, usize)> {
        let (_, _, mut at) = crate::header::parse_header(msg).unwrap();
        let u32_at = |i: usize| u32::from_be_bytes(msg[i..i + 4].try_into().unwrap());
        let mut out = Vec::new();
        loop {
            if u32_at(at) == FINAL_FRAME_MARKER {
                let len = u32_at(at + 4 + 4 + 12) as usize;
                out.push((true, u32_at(at + 4), len));
                return out;
            }
            out.push((false, u32_at(at), frame));
            at += 4 + 12 + frame + TAG_LEN;
        }
    }

    #[test]
    fn final_frame_is_shorter_than_the_frame_length() {
        let frame = 16usize;
        for suite in
            [AlgorithmSuite::Aes256GcmHkdfSha512CommitKey, AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384]
        {
            for len in [0, 1, frame - 1, frame, frame + 1, 2 * frame, 5 * frame] {
                // Whole, byte by byte, and in chunks that straddle frame boundaries: the same frames.
                for chunk in [len, 1, 7] {
                    let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
                    let msg = encrypt(suite, frame as u32, &pt, false, chunk);
                    let f = frames(&msg, frame);
                    let regular = len / frame;
                    assert_eq!(f.len(), regular + 1, "len {len} chunk {chunk}: {f:?}");
                    for (i, (is_final, seq, _)) in f.iter().enumerate() {
                        assert_eq!((*is_final, *seq), (i == regular, i as u32 + 1), "len {len}: {f:?}");
                    }
                    assert_eq!(f[regular].2, len % frame, "final frame length, len {len}");
                    assert_eq!(client().decrypt(&cmm(), &msg, &DecryptOptions::default()).unwrap().plaintext, pt);
                }
            }
        }
    }

    /// Other writers (Dafny, .NET) end an exact multiple with a full-length final frame: still decrypted,
    /// whole and streaming with small reads.
    #[test]
    fn full_length_final_frames_still_decrypt() {
        let frame = 16usize;
        for suite in
            [AlgorithmSuite::Aes256GcmHkdfSha512CommitKey, AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384]
        {
            for len in [frame, 2 * frame, 5 * frame] {
                let pt: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                let msg = encrypt(suite, frame as u32, &pt, true, 5);
                let f = frames(&msg, frame);
                assert_eq!(f.len(), len / frame, "{f:?}");
                assert_eq!(f.last(), Some(&(true, (len / frame) as u32, frame)), "a full final frame: {f:?}");
                assert_eq!(client().decrypt(&cmm(), &msg, &DecryptOptions::default()).unwrap().plaintext, pt);
                let c = client();
                let mut d = c.decryptor(&cmm(), msg.as_slice(), &DecryptOptions::default()).unwrap();
                let (mut out, mut buf) = (Vec::new(), [0u8; 3]);
                loop {
                    let n = d.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                }
                assert_eq!(out, pt);
            }
        }
    }
}
