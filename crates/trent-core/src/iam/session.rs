//! STS session tokens. A token is the session (principal, account, expiry, secret access key) wrapped under
//! the root key with the temporary access key id bound as associated data: only Trent can mint one, a token
//! cannot be moved to another access key id, and nothing about sessions needs storing.

use trent_crypto::digest::hex;
use trent_crypto::{RootKey, SecretBytes};

use super::IamError;
use crate::ids::AccountId;
use crate::model::Timestamp;

/// Version 2 adds the role's unique id, its ARN and the issue time. Version 1 tokens (no role id) are refused
/// as tokens Trent did not issue: they cannot be checked against the role as it is now, and accepting them
/// would let a session outlive its role's deletion and inherit a recreated role of the same name (security
/// review finding 12) for up to 12 hours after the upgrade. Their holders assume the role again.
const FORMAT: &str = "trent-sts-2";

/// What a session token carries.
pub struct SessionClaims {
    pub account: AccountId,
    /// `arn:aws:sts::<acct>:assumed-role/<role>/<session>`.
    pub principal_arn: String,
    /// The unique id (`AROA...`) of the role the session was issued for: a session acts only while the role
    /// of that name is still this one.
    pub role_id: String,
    /// The role's ARN, with its path (the assumed-role ARN has no path): CloudTrail's `sessionIssuer.arn`.
    pub role_arn: String,
    pub issued: Timestamp,
    pub expires: Timestamp,
    pub secret: SecretBytes,
}

fn binding(access_key_id: &str) -> Vec<u8> {
    format!("sts-session:{access_key_id}").into_bytes()
}

/// Seals `claims` into a session token for `access_key_id`.
pub(crate) fn seal(root: &RootKey, access_key_id: &str, claims: &SessionClaims) -> Result<String, IamError> {
    let header = format!(
        "{FORMAT}\n{}\n{}\n{}\n{}\n{}\n{}\n",
        claims.issued.0, claims.expires.0, claims.account, claims.principal_arn, claims.role_id, claims.role_arn
    );
    let mut plain = Vec::with_capacity(header.len() + claims.secret.len());
    plain.extend_from_slice(header.as_bytes());
    plain.extend_from_slice(claims.secret.expose_secret()); // sealed right away; the buffer is zeroized on drop
    let plain = SecretBytes::new(plain);
    let wrapped = root.wrap(&plain, &binding(access_key_id)).map_err(IamError::internal)?;
    Ok(hex(&wrapped))
}

/// Opens a token; any failure (not hex, not sealed by this root key, other access key id, an older format) is
/// `InvalidClientTokenId`, as AWS answers for a token it did not issue. Expiry and the role binding are the
/// caller's checks.
pub(crate) fn open(root: &RootKey, access_key_id: &str, token: &str) -> Result<SessionClaims, IamError> {
    let wrapped = unhex(token).ok_or(IamError::InvalidClientTokenId)?;
    let plain = root.unwrap(&wrapped, &binding(access_key_id)).map_err(|_| IamError::InvalidClientTokenId)?;
    let bytes = plain.expose_secret(); // parsed in place; only the secret part is copied, into SecretBytes
    let mut fields = bytes.splitn(8, |b| *b == b'\n');
    let mut next = || fields.next().ok_or(IamError::InvalidClientTokenId);
    if next()? != FORMAT.as_bytes() {
        return Err(IamError::InvalidClientTokenId);
    }
    let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_owned).map_err(|_| IamError::InvalidClientTokenId);
    let time = |b: &[u8]| text(b)?.parse::<i64>().map(Timestamp).map_err(|_| IamError::InvalidClientTokenId);
    let issued = time(next()?)?;
    let expires = time(next()?)?;
    let account = AccountId::parse(&text(next()?)?).ok_or(IamError::InvalidClientTokenId)?;
    let principal_arn = text(next()?)?;
    let role_id = text(next()?)?;
    let role_arn = text(next()?)?;
    let secret = SecretBytes::new(next()?.to_vec());
    Ok(SessionClaims { account, principal_arn, role_id, role_arn, issued, expires, secret })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    // Tokens are issued in lower-case hex; any other spelling is not a token Trent issued.
    if s.len() > 8192 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    hex::decode(s).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn root() -> RootKey {
        RootKey::from_secret(&SecretBytes::new(vec![5; 32])).unwrap()
    }

    fn claims() -> SessionClaims {
        SessionClaims {
            account: AccountId::parse("111122223333").unwrap(),
            principal_arn: "arn:aws:sts::111122223333:assumed-role/app/s1".into(),
            role_id: "AROAABCDEFGHIJKLMNOPQ".into(),
            role_arn: "arn:aws:iam::111122223333:role/team/app".into(),
            issued: Timestamp(1_000),
            expires: Timestamp(3_601_000),
            secret: SecretBytes::new(b"secret/with+chars".to_vec()),
        }
    }

    #[test]
    fn a_token_carries_the_role_id_and_opens_only_for_its_key_id() {
        let r = root();
        let token = seal(&r, "ASIAAAAAAAAAAAAAAAAA", &claims()).unwrap();
        let c = open(&r, "ASIAAAAAAAAAAAAAAAAA", &token).unwrap();
        assert_eq!(
            (c.role_id.as_str(), c.role_arn.as_str()),
            ("AROAABCDEFGHIJKLMNOPQ", "arn:aws:iam::111122223333:role/team/app")
        );
        assert_eq!(
            (c.issued, c.expires, c.principal_arn.as_str()),
            (Timestamp(1_000), Timestamp(3_601_000), "arn:aws:sts::111122223333:assumed-role/app/s1")
        );
        assert_eq!(c.secret.expose_secret(), b"secret/with+chars");
        assert!(matches!(open(&r, "ASIABBBBBBBBBBBBBBBB", &token), Err(IamError::InvalidClientTokenId)));
    }

    #[test]
    fn a_version_1_token_is_refused() {
        // The format before role binding: no role id, so no way to tell whether its role still exists.
        let r = root();
        let plain = SecretBytes::new(
            b"trent-sts-1\n3601000\n111122223333\narn:aws:sts::111122223333:assumed-role/app/s1\nsecret".to_vec(),
        );
        let token = hex(&r.wrap(&plain, &binding("ASIAAAAAAAAAAAAAAAAA")).unwrap());
        assert!(matches!(open(&r, "ASIAAAAAAAAAAAAAAAAA", &token), Err(IamError::InvalidClientTokenId)));
    }
}
