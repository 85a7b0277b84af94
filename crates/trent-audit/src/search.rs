//! Search over the trail: filter events, newest first, one page at a time.
//!
//! A linear scan, not an index: segments are read from the newest to the oldest, each from its end towards
//! its start, in blocks of [`BLOCK`] bytes, so memory stays bounded by one block plus one page of results
//! whatever the size of the trail. Cost is proportional to the bytes scanned; an index can replace the scan
//! later behind the same [`search`] signature.
//!
//! Pagination: a [`Cursor`] is the position (segment, byte offset) of the line start of the last event
//! returned; the next page continues strictly before it. Segments are append-only, so a position stays
//! valid, and events appended after the first page never shift later pages.
//!
//! Reading while the writer appends: a segment's last line may be incomplete (a batch being written); it is
//! ignored until its newline is there.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Read as _, Seek as _, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::Value;

use crate::event::format_time;
use crate::record;
use crate::writer::list_segments;

/// Bytes read at a time when walking a segment backwards.
#[cfg(not(test))]
const BLOCK: u64 = 64 * 1024;
/// Tiny in tests, so that lines straddle block boundaries at every alignment.
#[cfg(test)]
const BLOCK: u64 = 13;
/// Marks the cursor format, so that a later format can refuse old tokens cleanly.
const CURSOR_TAG: &str = "tc1";

/// What an event must match; every `Some` is a condition, all must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Inclusive bounds on `eventTime`.
    pub start_time: Option<SystemTime>,
    pub end_time: Option<SystemTime>,
    /// Any of these `eventName`s (empty: any name).
    pub event_names: Vec<String>,
    pub event_id: Option<String>,
    pub event_source: Option<String>,
    /// A key id or ARN: matches `resources[].ARN` (a bare key id matches the ARN's `key/<id>` suffix) and
    /// `requestParameters.keyId`.
    pub resource: Option<String>,
    /// `resources[].type`, e.g. `AWS::KMS::Key`.
    pub resource_type: Option<String>,
    /// `userIdentity.arn`.
    pub principal: Option<String>,
    /// CloudTrail's user name: `root` for an account root, else the last part of the principal ARN.
    pub username: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// `errorCode`.
    pub error_code: Option<String>,
    /// `Some(true)`: only calls without an `errorCode`; `Some(false)`: only failed calls.
    pub succeeded: Option<bool>,
    pub read_only: Option<bool>,
    /// Only events of this account (`recipientAccountId`, else `userIdentity.accountId`).
    pub account: Option<String>,
}

/// Where a page stopped. Opaque to clients: [`Cursor::encode`] / [`Cursor::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    segment: u64,
    offset: u64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{CURSOR_TAG}:{}:{}", self.segment, self.offset))
    }

    pub fn decode(token: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let mut parts = text.split(':');
        if parts.next()? != CURSOR_TAG {
            return None;
        }
        let segment = parts.next()?.parse().ok()?;
        let offset = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self { segment, offset })
    }
}

/// One matching event.
#[derive(Debug, Clone)]
pub struct Found {
    pub event: Value,
    /// The event's JSON exactly as recorded (CloudTrail's `CloudTrailEvent` string).
    pub json: String,
}

#[derive(Debug, Clone)]
pub struct Page {
    /// Newest first.
    pub events: Vec<Found>,
    /// Set when at least one more event matches.
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("cannot read the trail: {0}")]
    Io(String),
    #[error("the pagination token is not valid for this trail")]
    BadCursor,
}

/// Up to `max` events matching `filter`, newest first, continuing before `after` if given.
pub fn search(dir: &Path, filter: &Filter, max: usize, after: Option<Cursor>) -> Result<Page, SearchError> {
    let max = max.max(1);
    let io_err = |e: &dyn std::fmt::Display| SearchError::Io(e.to_string());
    let segments = list_segments(dir).map_err(|e| io_err(&e))?;
    if after.is_some_and(|c| !segments.contains(&c.segment)) {
        return Err(SearchError::BadCursor);
    }
    // Times compare as text: `eventTime` is always `YYYY-MM-DDTHH:MM:SSZ`.
    let start = filter.start_time.map(format_time);
    let end = filter.end_time.map(format_time);
    let mut page = Page { events: Vec::new(), next: None };
    for &n in segments.iter().rev() {
        let limit = match after {
            Some(c) if n > c.segment => continue,
            Some(c) if n == c.segment => Some(c.offset),
            _ => None,
        };
        let path = dir.join(record::segment_name(n));
        let file = File::open(&path).map_err(|e| io_err(&format!("{}: {e}", path.display())))?;
        let len = data_end(&file).map_err(|e| io_err(&format!("{}: {e}", path.display())))?;
        if limit.is_some_and(|l| l > len) {
            return Err(SearchError::BadCursor);
        }
        let mut lines =
            RevLines::new(file, limit.unwrap_or(len)).map_err(|e| io_err(&format!("{}: {e}", path.display())))?;
        while let Some((offset, line)) = lines.next_line().map_err(|e| io_err(&format!("{}: {e}", path.display())))? {
            let Some((event, json)) = event_of(&line) else { continue };
            if !matches(filter, start.as_deref(), end.as_deref(), &event) {
                continue;
            }
            if page.events.len() == max {
                // One more match exists: the page is full and the caller may ask for the next one.
                return Ok(page);
            }
            page.events.push(Found { event, json });
            page.next = Some(Cursor { segment: n, offset });
        }
    }
    // Scanned to the start of the trail: nothing after this page.
    page.next = None;
    Ok(page)
}

/// `eventTime` of the oldest event in the trail (where tracking starts); reads only the first lines.
pub fn earliest_event_time(dir: &Path) -> Result<Option<String>, SearchError> {
    let segments = list_segments(dir).map_err(|e| SearchError::Io(e.to_string()))?;
    for n in segments {
        let path = dir.join(record::segment_name(n));
        let io_err = |e: io::Error| SearchError::Io(format!("{}: {e}", path.display()));
        let mut time = None;
        for_each_event(File::open(&path).map_err(io_err)?, |event, _| {
            time = Some(event["eventTime"].as_str().map(str::to_owned));
            ControlFlow::Break(())
        })
        .map_err(io_err)?;
        if let Some(time) = time {
            return Ok(time);
        }
    }
    Ok(None)
}

/// The events of a segment file in trail order, each with its recorded text, up to the preallocated zeros
/// of an open segment; digest and unreadable lines are skipped. `f` may stop early.
pub(crate) fn for_each_event(file: File, mut f: impl FnMut(Value, String) -> ControlFlow<()>) -> io::Result<()> {
    for line in BufReader::with_capacity(1 << 16, file).split(b'\n') {
        let line = line?;
        if line.first().is_none_or(|&b| b == 0) {
            break;
        }
        if let Some((event, text)) = event_of(&line)
            && f(event, text).is_break()
        {
            break;
        }
    }
    Ok(())
}

/// The event of an event line, as a value and as its recorded text; `None` for digests and unreadable
/// lines (`trent audit verify` reports those; search skips them).
pub(crate) fn event_of(line: &[u8]) -> Option<(Value, String)> {
    // The writer builds `{"seq":N,"prev":"<hex>","event":<json>}` by concatenation (`record::event_line`);
    // the hex `prev` cannot contain the marker, so its first occurrence starts the event.
    const MARKER: &[u8] = b",\"event\":";
    let at = line.windows(MARKER.len()).position(|w| w == MARKER)?;
    let body = line.get(at + MARKER.len()..line.len().checked_sub(1)?)?;
    let event: Value = serde_json::from_slice(body).ok()?;
    event.is_object().then(|| (event, String::from_utf8_lossy(body).into_owned()))
}

fn matches(f: &Filter, start: Option<&str>, end: Option<&str>, e: &Value) -> bool {
    let s = |v: &Value| v.as_str().map(str::to_owned);
    let field = |name: &str| e.get(name).and_then(Value::as_str);
    let ident = |name: &str| e.get("userIdentity").and_then(|u| u.get(name)).and_then(Value::as_str);
    let time = field("eventTime").unwrap_or("");
    if start.is_some_and(|t| time < t) || end.is_some_and(|t| time > t) {
        return false;
    }
    if !f.event_names.is_empty() && !f.event_names.iter().any(|n| Some(n.as_str()) == field("eventName")) {
        return false;
    }
    let eq = |want: &Option<String>, have: Option<&str>| want.as_ref().is_none_or(|w| Some(w.as_str()) == have);
    if !eq(&f.event_id, field("eventID"))
        || !eq(&f.event_source, field("eventSource"))
        || !eq(&f.principal, ident("arn"))
        || !eq(&f.access_key_id, ident("accessKeyId"))
        || !eq(&f.error_code, field("errorCode"))
        || !eq(&f.username, username(e).as_deref())
    {
        return false;
    }
    if f.succeeded.is_some_and(|ok| ok == e.get("errorCode").is_some()) {
        return false;
    }
    if f.read_only.is_some_and(|ro| Some(ro) != e.get("readOnly").and_then(Value::as_bool)) {
        return false;
    }
    if let Some(account) = &f.account {
        let of_event = field("recipientAccountId").or_else(|| ident("accountId"));
        if of_event != Some(account.as_str()) {
            return false;
        }
    }
    let resources: Vec<(Option<String>, Option<String>)> = e
        .get("resources")
        .and_then(Value::as_array)
        .map(|rs| rs.iter().map(|r| (r.get("ARN").and_then(s), r.get("type").and_then(s))).collect())
        .unwrap_or_default();
    if f.resource_type.as_ref().is_some_and(|t| !resources.iter().any(|(_, kind)| kind.as_deref() == Some(t.as_str())))
    {
        return false;
    }
    if let Some(want) = &f.resource {
        let key_id = e.get("requestParameters").and_then(|p| p.get("keyId")).and_then(Value::as_str);
        let by_arn = resources.iter().any(|(arn, _)| arn.as_deref().is_some_and(|a| same_key(a, want)));
        let by_param = key_id.is_some_and(|k| k == want || same_key(want, k));
        if !by_arn && !by_param {
            return false;
        }
    }
    true
}

/// `arn` names the key `want` (its ARN or, for a key ARN, its bare id).
fn same_key(arn: &str, want: &str) -> bool {
    arn == want || arn.rsplit_once(":key/").is_some_and(|(_, id)| id == want)
}

/// CloudTrail's `Username` of an event: `root` for an account root, an IAM user's `userName`, an assumed
/// role's session name (the last part of its ARN, as CloudTrail's event history shows it); `None` when the
/// caller was not authenticated or is known only by id (`AWSAccount`).
pub fn username(e: &Value) -> Option<String> {
    let u = e.get("userIdentity")?;
    if u.get("type").and_then(Value::as_str) == Some("Root") {
        return Some("root".into());
    }
    if let Some(name) = u.get("userName").and_then(Value::as_str) {
        return Some(name.to_owned());
    }
    let arn = u.get("arn").and_then(Value::as_str)?;
    Some(arn.rsplit('/').next().unwrap_or(arn).to_owned())
}

/// Parses `2026-11-28T17:53:09Z` (fractional seconds allowed, `Z` or no zone meaning UTC), `2026-11-28`, or
/// seconds since the epoch.
pub fn parse_time(s: &str) -> Option<SystemTime> {
    use time::macros::format_description;
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    let s = s.strip_suffix('Z').unwrap_or(s);
    let t = match s.contains('T') {
        true => time::PrimitiveDateTime::parse(
            s,
            format_description!("[year]-[month]-[day]T[hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"),
        )
        .ok()?,
        false => time::Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?.midnight(),
    };
    let t = t.assume_utc();
    (t.unix_timestamp() >= 0).then(|| SystemTime::from(t))
}

/// Where a segment's records end: an open segment ends in preallocated zeros (see `writer`). Records hold no
/// NUL byte and the zeros follow them without a gap, so a binary search finds the first zero of the tail.
fn data_end(file: &File) -> io::Result<u64> {
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata()?.len();
    let is_zero = |at: u64| -> io::Result<bool> {
        let mut b = [0u8; 1];
        file.read_exact_at(&mut b, at)?;
        Ok(b[0] == 0)
    };
    if len == 0 || !is_zero(len - 1)? {
        return Ok(len);
    }
    // Invariant: the byte at `hi` is zero; every zero lies at or after the first zero of the tail.
    let (mut lo, mut hi) = (0, len - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if is_zero(mid)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

/// Complete lines of a file from the last towards the first, each with the offset of its first byte.
struct RevLines {
    file: File,
    /// Bytes `[chunk_start, chunk_start + chunk.len())` of the file, read but not yet returned.
    chunk: Vec<u8>,
    chunk_start: u64,
    /// Lines end (their newline included) before this offset.
    end: u64,
}

impl RevLines {
    /// Lines that end before `limit`; a trailing partial line (no newline yet) is skipped.
    fn new(file: File, limit: u64) -> io::Result<Self> {
        let mut r = Self { file, chunk: Vec::new(), chunk_start: limit, end: limit };
        r.end = r.newline_before(limit)?.map_or(0, |nl| nl + 1);
        r.chunk.truncate((r.end - r.chunk_start) as usize);
        Ok(r)
    }

    fn next_line(&mut self) -> io::Result<Option<(u64, Vec<u8>)>> {
        if self.end == 0 {
            return Ok(None);
        }
        // `end - 1` is this line's newline; the line starts after the newline before it.
        let start = self.newline_before(self.end - 1)?.map_or(0, |nl| nl + 1);
        let from = (start - self.chunk_start) as usize;
        let to = (self.end - 1 - self.chunk_start) as usize;
        let line = self.chunk[from..to].to_vec();
        self.chunk.truncate(from);
        self.end = start;
        Ok(Some((start, line)))
    }

    /// Offset of the last newline before `pos`, reading earlier blocks as needed.
    fn newline_before(&mut self, pos: u64) -> io::Result<Option<u64>> {
        // `pos` may lie just before the chunk when a block boundary fell on a line start.
        while pos < self.chunk_start {
            self.read_block()?;
        }
        let mut scan_to = (pos - self.chunk_start) as usize;
        loop {
            if let Some(i) = self.chunk[..scan_to].iter().rposition(|&b| b == b'\n') {
                return Ok(Some(self.chunk_start + i as u64));
            }
            if self.chunk_start == 0 {
                return Ok(None);
            }
            // Only the new block is left to scan.
            scan_to = self.read_block()?;
        }
    }

    /// Prepends the block before the chunk; returns its length. Called only while `chunk_start > 0`.
    fn read_block(&mut self) -> io::Result<usize> {
        let n = BLOCK.min(self.chunk_start);
        let mut block = vec![0u8; n as usize];
        self.file.seek(SeekFrom::Start(self.chunk_start - n))?;
        self.file.read_exact(&mut block)?;
        block.extend_from_slice(&self.chunk);
        self.chunk = block;
        self.chunk_start -= n;
        Ok(n as usize)
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
