//! placeholder (runtime)
