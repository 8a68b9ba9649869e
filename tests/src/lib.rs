//! Harness for end-to-end tests: starts real services on 127.0.0.1.
