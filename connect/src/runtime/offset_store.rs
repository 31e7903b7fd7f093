//! Where committed source state lives: [`FileOffsetStore`] (default) and [`MemoryOffsetStore`].

use async_trait::async_trait;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{ConnectorError, Result};
use crate::state::State;

/// Durable storage of each pipeline's committed [`State`].
#[async_trait]
pub trait OffsetStore: Send + Sync + std::fmt::Debug + 'static {
    /// The last committed state of `pipeline`.
    async fn load(&self, pipeline: &str) -> Result<Option<State>>;
    /// Durably replace the committed state of `pipeline`. Must not return before it is durable.
    async fn save(&self, pipeline: &str, state: &State) -> Result<()>;
}

/// Offsets in memory: for tests and for embeddings that keep no state.
#[derive(Debug, Clone, Default)]
pub struct MemoryOffsetStore {
    inner: Arc<Mutex<HashMap<String, State>>>,
}

impl MemoryOffsetStore {
    /// An empty store. Clones share the same contents.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set a pipeline's state directly (e.g. to resume a test from a position).
    pub fn set(&self, pipeline: &str, state: State) {
        self.lock().insert(pipeline.to_string(), state);
    }

    /// A pipeline's state.
    pub fn get(&self, pipeline: &str) -> Option<State> {
        self.lock().get(pipeline).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, State>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl OffsetStore for MemoryOffsetStore {
    async fn load(&self, pipeline: &str) -> Result<Option<State>> {
        Ok(self.get(pipeline))
    }

    async fn save(&self, pipeline: &str, state: &State) -> Result<()> {
        self.set(pipeline, state.clone());
        Ok(())
    }
}

/// One JSON file per pipeline under a directory, replaced atomically
/// (write to a temp file, fsync, rename, fsync the directory).
#[derive(Debug, Clone)]
pub struct FileOffsetStore {
    dir: PathBuf,
}

impl FileOffsetStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `pipeline`'s state.
    pub fn path_for(&self, pipeline: &str) -> PathBuf {
        let safe: String = pipeline
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.offsets.json"))
    }
}

#[async_trait]
impl OffsetStore for FileOffsetStore {
    async fn load(&self, pipeline: &str) -> Result<Option<State>> {
        let path = self.path_for(pipeline);
        match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ConnectorError::data(format!("corrupt offset file {}: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ConnectorError::from(e).context(format!("reading {}", path.display()))),
        }
    }

    async fn save(&self, pipeline: &str, state: &State) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(state)?;
        let dir = self.dir.clone();
        let path = self.path_for(pipeline);
        tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes))
            .await
            .map_err(|e| ConnectorError::io(format!("offset writer task failed: {e}")))?
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let ctx = |what: &str| format!("{what} {}", path.display());
    std::fs::create_dir_all(dir)
        .map_err(|e| ConnectorError::from(e).context(ctx("creating directory for")))?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut file = std::fs::File::create(&tmp)
            .map_err(|e| ConnectorError::from(e).context(ctx("creating temp file for")))?;
        file.write_all(bytes)
            .map_err(|e| ConnectorError::from(e).context(ctx("writing")))?;
        file.sync_all()
            .map_err(|e| ConnectorError::from(e).context(ctx("syncing")))?;
    }
    std::fs::rename(&tmp, path)
        .map_err(|e| ConnectorError::from(e).context(ctx("renaming temp file to")))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Persist the rename; not every filesystem supports syncing a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn file_store_round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileOffsetStore::new(dir.path().join("offsets"));
        assert_eq!(store.load("p/1").await.unwrap(), None);
        let s1 = State::builder().stream_cursor("x", "id", json!(1)).build();
        store.save("p/1", &s1).await.unwrap();
        assert_eq!(store.load("p/1").await.unwrap(), Some(s1));
        let s2 = State::builder().stream_cursor("x", "id", json!(2)).build();
        store.save("p/1", &s2).await.unwrap();
        assert_eq!(store.load("p/1").await.unwrap(), Some(s2));
        let names: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temp files left: {names:?}");
    }

    #[tokio::test]
    async fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileOffsetStore::new(dir.path());
        std::fs::write(store.path_for("p"), b"{not json").unwrap();
        let err = store.load("p").await.unwrap_err().to_string();
        assert!(err.contains("corrupt offset file"), "{err}");
    }

    #[tokio::test]
    async fn memory_store_is_shared_between_clones() {
        let a = MemoryOffsetStore::new();
        let b = a.clone();
        a.save("p", &State::builder().global("g", json!(1)).build())
            .await
            .unwrap();
        assert!(b.load("p").await.unwrap().is_some());
        assert!(b.load("q").await.unwrap().is_none());
    }
}
