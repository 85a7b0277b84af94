//! `X-Amz-Date`: ISO 8601 basic format, UTC (`20150830T123600Z`).

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::BorrowedFormatItem;

const ISO8601_BASIC: &[BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// `YYYYMMDDTHHMMSSZ` for `t` in UTC.
pub fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_amz_date(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// `YYYYMMDDTHHMMSSZ` for Unix seconds.
pub fn format_amz_date(secs: i64) -> String {
    // Only a clock beyond year 9999 fails to format.
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok();
    t.and_then(|t| t.format(ISO8601_BASIC).ok()).unwrap_or_else(|| "99991231T235959Z".to_owned())
}

/// `YYYYMMDDTHHMMSSZ` to Unix seconds; `None` for anything else, including dates that do not exist.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    // The format alone would also take a signed or longer year.
    if s.len() != 16 || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(time::PrimitiveDateTime::parse(s, ISO8601_BASIC).ok()?.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers_and_refusals() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(parse_amz_date("20240229T000000Z").map(format_amz_date).as_deref(), Some("20240229T000000Z"));
        for bad in ["20150230T000000Z", "20150830T246000Z", "2015-08-30T12:36:00Z", "20150830T123600", "x"] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
