//! Test utilities for rivven-connect.
