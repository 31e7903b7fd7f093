//! Derive macros for rivven-connect (arrive with issue 3).
