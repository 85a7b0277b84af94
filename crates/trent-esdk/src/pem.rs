//! Minimal PEM reading (RFC 7468) for raw RSA keys.

use base64::Engine;
use trent_crypto::SecretBytes;

use crate::{Error, Result};

/// The label and DER body of the first PEM block in `pem`. The body is returned as a secret because
/// it may be a private key.
pub(crate) fn decode(pem: &str) -> Result<(String, SecretBytes)> {
    let begin = pem.find("-----BEGIN ").ok_or_else(|| Error::InvalidKey("no PEM BEGIN line".into()))?;
    let after = &pem[begin + 11..];
    let label_end = after.find("-----").ok_or_else(|| Error::InvalidKey("bad PEM BEGIN line".into()))?;
    let label = &after[..label_end];
    let body_start = &after[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body_start.find(&end_marker).ok_or_else(|| Error::InvalidKey("no PEM END line".into()))?;
    let b64: String = body_start[..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| Error::InvalidKey("PEM body is not base64".into()))?;
    Ok((label.to_owned(), SecretBytes::new(der)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_rejects() {
        let (label, der) = decode("junk\n-----BEGIN PUBLIC KEY-----\nAAEC\nAw==\n-----END PUBLIC KEY-----\n").unwrap();
        assert_eq!(label, "PUBLIC KEY");
        assert_eq!(der.expose_secret(), &[0, 1, 2, 3]);
        assert!(decode("-----BEGIN X-----\nAAEC\n-----END Y-----").is_err());
        assert!(decode("-----BEGIN X-----\n!!\n-----END X-----").is_err());
        assert!(decode("").is_err());
    }
}
