//! Runnable examples of governor (never published): one short program per
//! capability, and HTTP servers run as governor services, under
//! `examples/`. See the README's "Examples" section for the list, and
//! `tests/http.rs` for the HTTP servers driven end to end with `curl`.
