//! Constraint checks on wire fields, with AWS's ValidationException texts. Field names in messages are the
//! lower-camel member names AWS uses (`keyId`, `numberOfBytes`, `tags.1.member.tagKey`).

use base64::Engine as _;
use trent_core::Validation;

use crate::error::ApiError;

#[derive(Default)]
pub(crate) struct Check(Validation);

impl Check {
    /// A required member: `Value null at 'x' failed to satisfy constraint: Member must not be null`.
    pub(crate) fn required<'a, T>(&mut self, v: &'a Option<T>, field: &str) -> Option<&'a T> {
        if v.is_none() {
            self.0.fail_null(field);
        }
        v.as_ref()
    }

    /// String length bounds, in characters as AWS counts them.
    pub(crate) fn len(&mut self, v: &str, field: &str, min: usize, max: usize) {
        let n = v.chars().count();
        if n < min {
            self.0.fail(Some(v), field, &format!("Member must have length greater than or equal to {min}"));
        } else if n > max {
            self.0.fail(Some(v), field, &format!("Member must have length less than or equal to {max}"));
        }
    }

    /// Blob length bounds. Secret blobs are never echoed.
    pub(crate) fn blob_len(&mut self, len: usize, field: &str, min: usize, max: usize) {
        if len < min {
            self.0.fail(None, field, &format!("Member must have length greater than or equal to {min}"));
        } else if len > max {
            self.0.fail(None, field, &format!("Member must have length less than or equal to {max}"));
        }
    }

    pub(crate) fn range(&mut self, v: i64, field: &str, min: i64, max: i64) {
        if v < min {
            self.0.fail(Some(&v.to_string()), field, &format!("Member must have value greater than or equal to {min}"));
        } else if v > max {
            self.0.fail(Some(&v.to_string()), field, &format!("Member must have value less than or equal to {max}"));
        }
    }

    /// Parses an enum member; records AWS's enum-set message on an unknown value.
    pub(crate) fn enumeration<T>(
        &mut self,
        v: Option<&str>,
        field: &str,
        parse: fn(&str) -> Option<T>,
        constraint: fn() -> String,
    ) -> Option<T> {
        let v = v?;
        let parsed = parse(v);
        if parsed.is_none() {
            self.0.fail(Some(v), field, &constraint());
        }
        parsed
    }

    pub(crate) fn finish(self) -> Result<(), ApiError> {
        self.0.finish().map_err(ApiError::from)
    }
}

/// Decodes a base64 blob member. A bad encoding is a SerializationException, as in AWS; the value is not
/// echoed because blobs may be secret.
pub(crate) fn decode_blob(v: &str, member: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD.decode(v).map_err(|e| {
        ApiError::Serialization(Some(format!("Value of member {member} can not be converted to a Blob: {e}")))
    })
}
