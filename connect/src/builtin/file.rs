//! The `file` source and sink: JSON Lines, and the appendable formats of the
//! format registry ([`crate::format::registry`], e.g. CSV from
//! rivven-connect-storage).

mod lines;
mod sink;
mod source;

pub use sink::{FileSink, FileSinkConfig, FileSinkConfigSpec, FileSinkFormat};
pub use source::{FileSource, FileSourceConfig, FileSourceConfigSpec, FileSourceFormat};

/// `file:<absolute path>` with `.`/`..` resolved and the directory's symlinks
/// followed when it exists, so `out.jsonl`, `./out.jsonl` and `/cwd/out.jsonl`
/// are one target.
pub(crate) fn target_key(path: &std::path::Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut clean = std::path::PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    let resolved = match (clean.parent(), clean.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or(clean),
        _ => clean,
    };
    format!("file:{}", resolved.display())
}
