//! What the AWS JSON 1.1 protocols (KMS, SSM) share on the wire: request parsing and blob encoding.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize, Serializer};
use trent_crypto::SecretBytes;

use crate::error::ApiError;

/// Parses a request body. An empty body is an empty object, as the SDKs send `{}` for no members. Malformed
/// JSON is a `SerializationException` without a message (as AWS sends it); a wrong member type says which.
pub(crate) fn parse<'a, T: Deserialize<'a> + Default>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::Serialization(None)
        } else {
            ApiError::Serialization(Some(e.to_string()))
        }
    })
}

/// A public blob, base64 in JSON.
pub(crate) struct B64<'a>(pub(crate) &'a [u8]);

impl Serialize for B64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // One encode into a string, then one plain string write: `collect_str` with a `Display` went through
        // `fmt::write` and serde_json's escape scan chunk by chunk, 3% of the server's CPU in the profile.
        s.serialize_str(&STANDARD.encode(self.0))
    }
}

/// A secret blob (plaintext, data key), base64 in JSON. The only place secret bytes meet a wire encoder.
pub(crate) struct SecretB64<'a>(pub(crate) &'a SecretBytes);

impl Serialize for SecretB64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The response carries it; the encoded copy is wiped when dropped.
        let text = zeroize::Zeroizing::new(STANDARD.encode(self.0.expose_secret()));
        s.serialize_str(&text)
    }
}
