//! Integration tests of the `http-webhook` sink against a scripted HTTP
//! server started in the test (axum, on a free loopback port).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod circuit;
mod compliance;
mod dead_letter;
mod ordering;
mod requests;
mod restart;
mod retries;
mod secrets;
mod support;
mod yaml;
