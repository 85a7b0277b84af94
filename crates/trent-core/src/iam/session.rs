//! STS session tokens. A token is the session (principal, account, expiry, secret access key) wrapped under
//! the root key with the temporary access key id bound as associated data: only Trent can mint one, a token
//! cannot be moved to another access key id, and nothing about sessions needs storing.

use trent_crypto::digest::hex;
use trent_crypto::{RootKey, SecretBytes};

use super::IamError;
use crate::ids::AccountId;
use crate::model::Timestamp;

const FORMAT: &str = "trent-sts-1";

/// What a session token carries.
pub struct SessionClaims {
    pub account: AccountId,
    /// `arn:aws:sts::<acct>:assumed-role/<role>/<session>`.
    pub principal_arn: String,
    pub expires: Timestamp,
    pub secret: SecretBytes,
}

fn binding(access_key_id: &str) -> Vec<u8> {
    format!("sts-session:{access_key_id}").into_bytes()
}

/// Seals `claims` into a session token for `access_key_id`.
pub(crate) fn seal(root: &RootKey, access_key_id: &str, claims: &SessionClaims) -> Result<String, IamError> {
    let header = format!("{FORMAT}\n{}\n{}\n{}\n", claims.expires.0, claims.account, claims.principal_arn);
    let mut plain = Vec::with_capacity(header.len() + claims.secret.len());
    plain.extend_from_slice(header.as_bytes());
    plain.extend_from_slice(claims.secret.expose_secret()); // sealed right away; the buffer is zeroized on drop
    let plain = SecretBytes::new(plain);
    let wrapped = root.wrap(&plain, &binding(access_key_id)).map_err(IamError::internal)?;
    Ok(hex(&wrapped))
}

/// Opens a token; any failure (not hex, not sealed by this root key, other access key id) is
/// `InvalidClientTokenId`, as AWS answers for a token it did not issue. Expiry is the caller's check.
pub(crate) fn open(root: &RootKey, access_key_id: &str, token: &str) -> Result<SessionClaims, IamError> {
    let wrapped = unhex(token).ok_or(IamError::InvalidClientTokenId)?;
    let plain = root.unwrap(&wrapped, &binding(access_key_id)).map_err(|_| IamError::InvalidClientTokenId)?;
    let bytes = plain.expose_secret(); // parsed in place; only the secret part is copied, into SecretBytes
    let mut fields = bytes.splitn(5, |b| *b == b'\n');
    let (Some(format), Some(expires), Some(account), Some(arn), Some(secret)) =
        (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(IamError::InvalidClientTokenId);
    };
    let text = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_owned);
    if format != FORMAT.as_bytes() {
        return Err(IamError::InvalidClientTokenId);
    }
    let expires = text(expires).and_then(|s| s.parse::<i64>().ok()).ok_or(IamError::InvalidClientTokenId)?;
    let account = text(account).and_then(|s| AccountId::parse(&s)).ok_or(IamError::InvalidClientTokenId)?;
    let principal_arn = text(arn).ok_or(IamError::InvalidClientTokenId)?;
    Ok(SessionClaims { account, principal_arn, expires: Timestamp(expires), secret: SecretBytes::new(secret.to_vec()) })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 8192 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    s.as_bytes().chunks(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}
