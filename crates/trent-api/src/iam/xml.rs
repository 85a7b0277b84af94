//! The AWS Query protocol's wire formats: form-encoded requests in, XML out. A tiny writer that escapes every
//! text it is given, so handlers never concatenate markup.

use trent_core::model::Timestamp;

/// Builds `<{Action}Response xmlns=...>[<{Action}Result>...</{Action}Result>]<ResponseMetadata>...`.
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    fn new() -> Self {
        Self { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") }
    }

    pub(crate) fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub(crate) fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>escaped text</tag>`.
    pub(crate) fn text(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        escape_into(&mut self.out, text);
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
        w.out.push_str(&format!("<{action}Response xmlns=\"{namespace}\">"));
        if let Some(f) = result {
            let tag = format!("{action}Result");
            w.open(&tag);
            f(&mut w);
            w.close(&tag);
        }
        w.open("ResponseMetadata").text("RequestId", request_id).close("ResponseMetadata");
        w.close(&format!("{action}Response"));
        w.out.into_bytes()
    }

    /// `<ErrorResponse xmlns=...><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
    pub(crate) fn error(namespace: &str, sender: bool, code: &str, message: &str, request_id: &str) -> Vec<u8> {
        let mut w = Self::new();
        w.out.push_str(&format!("<ErrorResponse xmlns=\"{namespace}\">"));
        w.open("Error")
            .text("Type", if sender { "Sender" } else { "Receiver" })
            .text("Code", code)
            .text("Message", message)
            .close("Error");
        w.text("RequestId", request_id).close("ErrorResponse");
        w.out.into_bytes()
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Carriage returns would be normalized away by XML parsers; keep them.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
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
