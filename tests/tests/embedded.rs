//! The embedded profile: the conformance suite on `ChatService` over SQLite, plus what only a
//! file on disk can show (several processes, a killed process, corrupted counts).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chat_tests::Embedded;

chat_tests::conformance_suite!(Embedded);
