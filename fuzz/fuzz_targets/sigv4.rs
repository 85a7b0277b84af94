//! SigV4 parameters come from headers and the query string of unauthenticated requests.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trent_api::fuzzing::sigv4(data);
});
