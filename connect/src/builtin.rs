//! placeholder (helper B)
