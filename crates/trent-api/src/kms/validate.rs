//! Constraint checks on wire fields, with AWS's ValidationException texts. Field names in messages are the
//! lower-camel member names AWS uses (`keyId`, `numberOfBytes`, `tags.1.member.tagKey`).

use base64::Engine as _;
use trent_core::Validation;

use crate::error::ApiError;

/// A member after its checks: `None` only when the member failed and the failure was recorded in the `Check`
/// (a required member that was absent, an enum value that is not in the set, a number out of range).
pub(crate) type Checked<T> = Option<T>;

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

    /// `range`, giving the value in the type the service takes when it is in range. `min` must be at least 0,
    /// so every in-range value converts.
    pub(crate) fn in_range<T: TryFrom<i64>>(&mut self, v: i64, field: &str, min: i64, max: i64) -> Checked<T> {
        if v < min || v > max {
            self.range(v, field, min, max);
            return None;
        }
        let converted = T::try_from(v).ok();
        if converted.is_none() {
            // Only when `T` cannot hold `max` (a caller's mistake): refused all the same.
            self.0.fail(Some(&v.to_string()), field, &format!("Member must have value less than or equal to {max}"));
        }
        converted
    }

    /// `in_range` for an optional member: `Some(None)` when absent, `None` when present and out of range.
    pub(crate) fn optional_in_range<T: TryFrom<i64>>(
        &mut self,
        v: Option<i64>,
        field: &str,
        min: i64,
        max: i64,
    ) -> Checked<Option<T>> {
        match v {
            Some(v) => self.in_range(v, field, min, max).map(Some),
            None => Some(None),
        }
    }

    /// A required enum member: null, or AWS's enum-set message on an unknown value.
    pub(crate) fn required_enumeration<T>(
        &mut self,
        v: Option<&str>,
        field: &str,
        parse: fn(&str) -> Option<T>,
        constraint: fn() -> String,
    ) -> Checked<T> {
        if v.is_none() {
            self.0.fail_null(field);
        }
        self.enumeration(v, field, parse, constraint)
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

    /// Ends the checks: the checked members, or every recorded failure as one ValidationException. A `None`
    /// member is one whose failure is recorded, so the error is the same one `finish` gives; should a `None`
    /// ever come without a recorded failure, the request is still refused, never completed with a default.
    pub(crate) fn finish_with<M: Members>(self, members: M) -> Result<M::Values, ApiError> {
        match members.present() {
            Some(values) if self.0.is_empty() => Ok(values),
            _ => Err(ApiError::from(self.0.into_error())),
        }
    }
}

/// Checked members, one or several, that `Check::finish_with` unwraps together.
pub(crate) trait Members {
    type Values;
    fn present(self) -> Option<Self::Values>;
}

impl<A> Members for Checked<A> {
    type Values = A;
    fn present(self) -> Option<A> {
        self
    }
}

impl<A: Members, B: Members> Members for (A, B) {
    type Values = (A::Values, B::Values);
    fn present(self) -> Option<Self::Values> {
        Some((self.0.present()?, self.1.present()?))
    }
}

impl<A: Members, B: Members, C: Members> Members for (A, B, C) {
    type Values = (A::Values, B::Values, C::Values);
    fn present(self) -> Option<Self::Values> {
        Some((self.0.present()?, self.1.present()?, self.2.present()?))
    }
}
/// Decodes a base64 blob member. A bad encoding is a SerializationException, as in AWS; the value is not
/// echoed because blobs may be secret.
pub(crate) fn decode_blob(v: &str, member: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD.decode(v).map_err(|e| {
        ApiError::Serialization(Some(format!("Value of member {member} can not be converted to a Blob: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: ApiError) -> String {
        match e {
            ApiError::Kms(k) => k.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn finish_with_gives_the_members_or_every_failure() {
        let mut c = Check::default();
        let a = c.required(&Some("a".to_owned()), "a").cloned();
        let n: Checked<u32> = c.in_range(7, "n", 1, 365);
        assert_eq!(c.finish_with((a, n)).unwrap(), ("a".to_owned(), 7));

        let mut c = Check::default();
        let a = c.required(&None::<String>, "a").cloned();
        let n: Checked<u32> = c.in_range(0, "n", 1, 365);
        let b = c.required(&Some(1), "b").copied();
        assert_eq!(
            message(c.finish_with(((a, n), b)).unwrap_err()),
            "2 validation errors detected: Value null at 'a' failed to satisfy constraint: Member must not be null; \
             Value '0' at 'n' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );

        // Present members do not hide a failure recorded for another one.
        let mut c = Check::default();
        c.len("", "s", 1, 10);
        assert!(c.finish_with(Some(1)).is_err());
    }

    #[test]
    fn optional_members_are_absent_or_checked_never_defaulted() {
        let mut c = Check::default();
        assert_eq!(c.optional_in_range::<u32>(None, "d", 1, 365), Some(None));
        assert_eq!(c.optional_in_range::<u32>(Some(400), "d", 1, 365), None);
        assert!(c.finish().is_err());
    }
}
