//! Streaming decryption: a [`Decryptor`] is a `Read` of the plaintext of one message.
//!
//! Order (spec "Decrypt"): parse the header (EDK limit enforced as soon as the count is read), check
//! the commitment policy before any keyring runs, get materials, check the commit key in constant
//! time, verify the header tag, then frames. Nothing from the header is exposed before it is
//! authenticated: a `Decryptor` exists only after that.
//!
//! Release rules: a regular frame's plaintext is released once its tag verifies. The final frame
//! (and a non-framed body) is released only after the footer signature verifies and the input is
//! known to end there. [`DecryptMode::BufferUntilVerified`] releases nothing of a signed message
//! before the signature verifies (memory grows with the message); [`DecryptMode::UnsignedOnly`]
//! refuses signed messages right after the header is parsed.

use std::io::{ErrorKind, Read};

use trent_crypto::SecretBytes;
use trent_crypto::esdk::{EcdsaVerifier, GcmKey, IV_LEN, ParsedIv, TAG_LEN, ct_eq, sequence_iv};

use crate::body::{BodyPart, FINAL_FRAME_MARKER, MAX_NON_FRAMED_LEN, body_aad, derive_message_key};
use crate::context::{self, restrict};
use crate::header::{ContentType, HeaderAuth, HeaderBody, read_header_auth, read_header_body};
use crate::wire::read_exact_growing;
use crate::{Client, DecryptionMaterials, DecryptionRequest, EncryptionContext, Error, MaterialsManager, Result};

/// What to do with signed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecryptMode {
    /// Release each regular frame after its tag verifies; hold the final frame until the signature
    /// verifies. Memory is bounded by the frame length.
    #[default]
    Streaming,
    /// Release nothing of a signed message until the signature verifies (the whole plaintext is
    /// held in memory). Unsigned messages stream as above.
    BufferUntilVerified,
    /// Fail right after parsing the header if the suite is signed ("decrypt unsigned").
    UnsignedOnly,
}

/// Options of one decryption.
#[derive(Debug, Clone)]
pub struct DecryptOptions {
    /// The context the caller expects: stored pairs must match, and pairs that were required-only at
    /// encryption must be supplied here.
    pub reproduced_encryption_context: Option<EncryptionContext>,
    pub mode: DecryptMode,
    /// Largest legacy non-framed body accepted (it is held in memory until its tag verifies).
    /// Default 64 MiB.
    pub max_non_framed_length: u64,
    /// Refuse, before any key is unwrapped, a framed message whose frame length exceeds this, or a
    /// non-framed one whose body does (aws-encryption-cli's `--max-length`). `None`: no such limit.
    pub max_length: Option<u64>,
}

impl Default for DecryptOptions {
    fn default() -> Self {
        Self {
            reproduced_encryption_context: None,
            mode: DecryptMode::Streaming,
            max_non_framed_length: 64 << 20,
            max_length: None,
        }
    }
}

/// Reads the plaintext of one message from `R`.
pub struct Decryptor<R: Read> {
    input: R,
    key: GcmKey,
    header: HeaderBody,
    header_auth: HeaderAuth,
    encryption_context: EncryptionContext,
    verifier: Option<EcdsaVerifier>,
    seq: u32,
    out: Vec<u8>,
    pos: usize,
    done: bool,
    failed: bool,
    buffer_all: bool,
    max_non_framed: u64,
}

impl<R: Read> Decryptor<R> {
    pub(crate) fn new(
        client: &Client,
        cmm: &dyn MaterialsManager,
        mut input: R,
        options: &DecryptOptions,
    ) -> Result<Self> {
        let (header, raw) = read_header_body(&mut input, client.max_encrypted_data_keys)?;
        if let Some(max) = options.max_length
            && header.content_type == ContentType::Framed
            && u64::from(header.frame_length) > max
        {
            return Err(Error::LimitExceeded("frame length above --max-length"));
        }
        let suite = header.suite;
        client.commitment_policy.check_decrypt(suite)?;
        if suite.is_signed() && options.mode == DecryptMode::UnsignedOnly {
            return Err(Error::SignedMessageRefused);
        }
        let auth = read_header_auth(&mut input, suite)?;
        let request = DecryptionRequest {
            suite,
            commitment_policy: client.commitment_policy,
            encrypted_data_keys: header.encrypted_data_keys.clone(),
            encryption_context: header.encryption_context.clone(),
            reproduced_encryption_context: options.reproduced_encryption_context.clone(),
        };
        let materials = cmm.decrypt_materials(request)?;
        if materials.suite() != suite {
            return Err(Error::Config("the materials manager changed the algorithm suite".into()));
        }
        client.commitment_policy.check_decrypt(materials.suite())?;
        let data_key = materials.plaintext_data_key().ok_or_else(|| Error::Keyring("no data key".into()))?;
        let key = match verify_header(&header, &raw, &auth, &materials, data_key, false) {
            Err(Error::HeaderAuthentication) if client.net_v4_0_0_retry => {
                verify_header(&header, &raw, &auth, &materials, data_key, true)?
            }
            other => other?,
        };
        let verifier = match (suite.signature(), materials.verification_key()) {
            (Some(curve), Some(point)) => {
                let mut v =
                    EcdsaVerifier::new(curve, point).map_err(|_| Error::Malformed("bad aws-crypto-public-key"))?;
                v.update(&raw);
                v.update(&auth.serialize());
                Some(v)
            }
            (None, _) => None,
            (Some(_), None) => {
                return Err(Error::Malformed("signed message without verification key"));
            }
        };
        Ok(Self {
            input,
            key,
            encryption_context: materials.encryption_context().clone(),
            header,
            header_auth: auth,
            verifier,
            seq: 1,
            out: Vec::new(),
            pos: 0,
            done: false,
            failed: false,
            buffer_all: options.mode == DecryptMode::BufferUntilVerified && suite.is_signed(),
            max_non_framed: options
                .max_non_framed_length
                .min(options.max_length.unwrap_or(u64::MAX))
                .min(MAX_NON_FRAMED_LEN),
        })
    }

    /// The authenticated header.
    pub fn header(&self) -> &HeaderBody {
        &self.header
    }

    /// The header authentication fields as read (the CLI's metadata records them).
    pub fn header_auth(&self) -> &HeaderAuth {
        &self.header_auth
    }

    /// The authenticated context: the stored pairs plus reproduced required-only pairs.
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.encryption_context
    }

    /// Reads `n` body bytes into `into`, feeding the signature hash.
    fn take(&mut self, n: usize, into: &mut Vec<u8>) -> Result<()> {
        read_exact_growing(&mut self.input, n, into)?;
        if let Some(v) = self.verifier.as_mut() {
            v.update(into);
        }
        Ok(())
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        self.input.read_exact(&mut a).map_err(Error::from_read)?;
        if let Some(v) = self.verifier.as_mut() {
            v.update(&a);
        }
        Ok(a)
    }

    fn take_u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take_array()?))
    }

    /// The stored IV must be the one the IV rule gives for `seq`.
    fn take_iv(&mut self, seq: u32) -> Result<()> {
        let iv: [u8; IV_LEN] = self.take_array()?;
        if iv != sequence_iv(seq) { Err(Error::Malformed("IV does not match the sequence number")) } else { Ok(()) }
    }

    /// Reads, authenticates and decrypts the next frame (or the non-framed body) into `self.out`.
    fn next_part(&mut self) -> Result<()> {
        let mut buf = std::mem::take(&mut self.out);
        let result = self.next_part_into(&mut buf);
        self.out = buf;
        self.pos = 0;
        if result.is_err() {
            self.out.clear();
        }
        result
    }

    fn next_part_into(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let (seq, part, len) = match self.header.content_type {
            ContentType::Framed => {
                let first = self.take_u32()?;
                let is_final = first == FINAL_FRAME_MARKER;
                let seq = if is_final { self.take_u32()? } else { first };
                if seq != self.seq {
                    return Err(Error::Malformed("frame out of sequence"));
                }
                self.take_iv(seq)?;
                let len = if is_final {
                    let l = self.take_u32()?;
                    if l > self.header.frame_length {
                        return Err(Error::Malformed("final frame longer than the frame length"));
                    }
                    l
                } else {
                    self.header.frame_length
                };
                (seq, if is_final { BodyPart::FinalFrame } else { BodyPart::Frame }, u64::from(len))
            }
            ContentType::NonFramed => {
                self.take_iv(1)?;
                let len = u64::from_be_bytes(self.take_array()?);
                if len > self.max_non_framed {
                    return Err(Error::LimitExceeded("non-framed body length"));
                }
                (1, BodyPart::SingleBlock, len)
            }
        };
        let n = usize::try_from(len).map_err(|_| Error::LimitExceeded("frame length"))?;
        self.take(n + TAG_LEN, buf)?;
        let aad = body_aad(&self.header.message_id, part, seq, len);
        let plain = self.key.open_in_place(seq, &aad, buf).map_err(|_| Error::BodyAuthentication)?;
        buf.truncate(plain);
        if part == BodyPart::Frame {
            // A regular frame's seq is below the marker, so this cannot overflow.
            self.seq = seq + 1;
        } else {
            self.finish_message()?;
        }
        Ok(())
    }

    /// After the last body part: verify the footer, and require the input to end.
    fn finish_message(&mut self) -> Result<()> {
        if let Some(v) = self.verifier.take() {
            let mut len = [0u8; 2];
            self.input.read_exact(&mut len).map_err(Error::from_read)?;
            let mut sig = Vec::new();
            read_exact_growing(&mut self.input, usize::from(u16::from_be_bytes(len)), &mut sig)?;
            v.verify(&sig).map_err(|_| Error::Signature)?;
        }
        let mut probe = [0u8; 1];
        loop {
            match self.input.read(&mut probe) {
                Ok(0) => break,
                Ok(_) => return Err(Error::TrailingBytes),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io(e)),
            }
        }
        self.done = true;
        Ok(())
    }

    fn fill(&mut self) -> Result<()> {
        if !self.buffer_all {
            return self.next_part();
        }
        let mut all = Vec::new();
        while !self.done {
            self.next_part()?;
            all.extend_from_slice(&self.out);
        }
        self.out = all;
        self.pos = 0;
        Ok(())
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.failed {
                return Err(std::io::Error::new(ErrorKind::InvalidData, "decryption already failed"));
            }
            if self.pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.pos);
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            if let Err(e) = self.fill() {
                self.failed = true;
                return Err(e.into());
            }
        }
    }
}

/// Checks the commit key and the header tag; returns the content key. `net_v4_0_0` reproduces the
/// ESDK-.NET 4.0.0 bugs (HKDF info without message id; `00 00` appended to the header AAD for an
/// empty authenticate-only context).
fn verify_header(
    header: &HeaderBody,
    raw: &[u8],
    auth: &HeaderAuth,
    materials: &DecryptionMaterials,
    data_key: &SecretBytes,
    net_v4_0_0: bool,
) -> Result<GcmKey> {
    let mk = derive_message_key(header.suite, data_key, &header.message_id, net_v4_0_0)?;
    if let Some(derived) = mk.commit_key {
        let stored = header.commit_key.ok_or(Error::Malformed("committing suite without commit key"))?;
        // Before the key is used for anything (spec: decrypt "Get the decryption materials").
        if !ct_eq(&derived, &stored) {
            return Err(Error::Commitment);
        }
    }
    let authenticate_only =
        context::serialize(&restrict(materials.encryption_context(), materials.required_encryption_context_keys()))?;
    let mut aad = Vec::with_capacity(raw.len() + authenticate_only.len() + 2);
    aad.extend_from_slice(raw);
    aad.extend_from_slice(&authenticate_only);
    if net_v4_0_0 && authenticate_only.is_empty() {
        aad.extend_from_slice(&[0, 0]);
    }
    let mut tag = auth.tag.to_vec();
    let opened = match auth.iv {
        // v1: the spec says use the stored IV (every known writer stores zeros).
        Some(iv) => mk.key.open_with_iv(&ParsedIv::from_message_bytes(&iv)?, &aad, &mut tag),
        None => mk.key.open_in_place(0, &aad, &mut tag),
    };
    opened.map_err(|_| Error::HeaderAuthentication)?;
    Ok(mk.key)
}
