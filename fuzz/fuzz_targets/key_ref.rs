//! Every KeyId request member goes through KeyRef::parse and alias parsing. A parsed KeyRef writes back
//! exactly the text it came from (the service quotes it in AWS's error messages).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_core::ids::{AliasName, KeyRef};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = KeyRef::parse(s) {
            assert_eq!(k.to_string(), s);
        }
        let _ = AliasName::parse_for_create(s);
    }
});
