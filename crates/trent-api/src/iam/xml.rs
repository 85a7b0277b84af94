//! The AWS Query protocol's wire formats: form-encoded requests in, XML out (quick-xml's writer behind a small
//! builder, so handlers never concatenate markup).

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use trent_core::model::Timestamp;

/// Builds `<{Action}Response xmlns=...>[<{Action}Result>...</{Action}Result>]<ResponseMetadata>...` on
/// quick-xml's writer, which escapes every text it is given.
pub(crate) struct XmlWriter {
    w: quick_xml::Writer<Vec<u8>>,
}

impl XmlWriter {
    fn new() -> Self {
        let mut w = Self { w: quick_xml::Writer::new(Vec::with_capacity(512)) };
        w.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        w.w.get_mut().push(b'\n');
        w
    }

    /// Writes one event. The writer writes into a `Vec`, which cannot fail.
    fn event(&mut self, e: Event<'_>) {
        let _ = self.w.write_event(e);
    }

    pub(crate) fn open(&mut self, tag: &str) -> &mut Self {
        self.event(Event::Start(BytesStart::new(tag)));
        self
    }

    fn open_ns(&mut self, tag: &str, namespace: &str) -> &mut Self {
        self.event(Event::Start(BytesStart::new(tag).with_attributes([("xmlns", namespace)])));
        self
    }

    pub(crate) fn close(&mut self, tag: &str) -> &mut Self {
        self.event(Event::End(BytesEnd::new(tag)));
        self
    }

    /// `<tag>escaped text</tag>`.
    pub(crate) fn text(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        // Carriage returns would be normalized away by XML parsers: kept as a character reference.
        let escaped = quick_xml::escape::escape(text);
        let escaped = if escaped.contains('\r') { escaped.replace('\r', "&#13;").into() } else { escaped };
        self.event(Event::Text(BytesText::from_escaped(escaped)));
        self.close(tag)
    }

    pub(crate) fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.text(tag, t);
        }
        self
    }

    pub(crate) fn time(&mut self, tag: &str, t: Timestamp) -> &mut Self {
        self.text(tag, &iso8601(t))
    }

    /// A successful response. `result` writes the content of `<{action}Result>`; `None` for actions whose
    /// response has no result element (DeleteUser, PutUserPolicy, ...).
    pub(crate) fn response(
        action: &str,
        namespace: &str,
        request_id: &str,
        result: Option<&dyn Fn(&mut XmlWriter)>,
    ) -> Vec<u8> {
        let mut w = Self::new();
        let response = format!("{action}Response");
        w.open_ns(&response, namespace);
        if let Some(f) = result {
            let tag = format!("{action}Result");
            w.open(&tag);
            f(&mut w);
            w.close(&tag);
        }
        w.open("ResponseMetadata").text("RequestId", request_id).close("ResponseMetadata");
        w.close(&response);
        w.w.into_inner()
    }

    /// `<ErrorResponse xmlns=...><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
    pub(crate) fn error(namespace: &str, sender: bool, code: &str, message: &str, request_id: &str) -> Vec<u8> {
        let mut w = Self::new();
        w.open_ns("ErrorResponse", namespace);
        w.open("Error")
            .text("Type", if sender { "Sender" } else { "Receiver" })
            .text("Code", code)
            .text("Message", message)
            .close("Error");
        w.text("RequestId", request_id).close("ErrorResponse");
        w.w.into_inner()
    }
}

/// `2026-11-28T17:40:00Z`, as IAM and STS send dates.
pub(crate) fn iso8601(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// Everything but RFC 3986's unreserved characters.
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters: how IAM returns policy documents.
pub(crate) fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Decodes `application/x-www-form-urlencoded` (`+` is a space). Invalid escapes are kept as sent.
pub(crate) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_escaping_and_forms() {
        assert_eq!(iso8601(Timestamp(0)), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(Timestamp(1_795_887_600_000)), "2026-11-28T17:40:00Z");
        let body = XmlWriter::response(
            "GetUser",
            "ns",
            "r1",
            Some(&|w: &mut XmlWriter| {
                w.text("UserName", "a<b&\"c\"");
            }),
        );
        let body = String::from_utf8(body).unwrap_or_default();
        assert!(body.contains("<GetUserResult><UserName>a&lt;b&amp;&quot;c&quot;</UserName></GetUserResult>"));
        assert!(body.contains("<RequestId>r1</RequestId>"));
        assert_eq!(url_encode("{\"a\": 1}"), "%7B%22a%22%3A%201%7D");
        let f = parse_form(b"Action=CreateUser&UserName=a+b%2Fc&Bad=%zz&Empty=&Trail=%4");
        assert_eq!(f[1], ("UserName".into(), "a b/c".into()));
        assert_eq!(f[2].1, "%zz");
        assert_eq!(f[3].1, "");
        assert_eq!(f[4].1, "%4");
    }
}
