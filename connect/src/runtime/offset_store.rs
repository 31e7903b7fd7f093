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
    /// Where `pipeline`'s state is kept, as a key that two pipelines must not
    /// share (the runtime refuses to start two pipelines with one key). The
    /// default is the name itself; a store that maps names onto something
    /// smaller (file names on a case-insensitive disk) returns what it maps to.
    fn storage_key(&self, pipeline: &str) -> String {
        pipeline.to_string()
    }
    /// Fails, naming where, when the store cannot keep state at all (an
    /// unwritable directory): the runtime calls it before any pipeline
    /// starts, so such a store is a configuration error at once rather than
    /// restarts after the first batch. The default has nothing to check.
    async fn check_writable(&self) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl<T: OffsetStore + ?Sized> OffsetStore for Arc<T> {
    async fn load(&self, pipeline: &str) -> Result<Option<State>> {
        (**self).load(pipeline).await
    }
    async fn save(&self, pipeline: &str, state: &State) -> Result<()> {
        (**self).save(pipeline, state).await
    }
    fn storage_key(&self, pipeline: &str) -> String {
        (**self).storage_key(pipeline)
    }
    async fn check_writable(&self) -> Result<()> {
        (**self).check_writable().await
    }
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

    /// The file holding `pipeline`'s state: `<name>.offsets.json`, where every
    /// byte of the name outside `[A-Za-z0-9._-]` is written as `%XX`, so that
    /// distinct names never share a file (`orders eu` → `orders%20eu`,
    /// `orders_eu` → `orders_eu`) and the name can be read back from the file name.
    pub fn path_for(&self, pipeline: &str) -> PathBuf {
        self.dir
            .join(format!("{}.offsets.json", encode_name(pipeline)))
    }

    /// Where versions before 0.1 kept `pipeline`'s state: other characters
    /// became `_`, so several names could share this file.
    fn legacy_path_for(&self, pipeline: &str) -> Option<PathBuf> {
        let lossy: String = pipeline
            .chars()
            .map(|c| if is_plain(c) { c } else { '_' })
            .collect();
        (lossy != encode_name(pipeline)).then(|| self.dir.join(format!("{lossy}.offsets.json")))
    }
}

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

fn encode_name(name: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if is_plain(b as char) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[async_trait]
impl OffsetStore for FileOffsetStore {
    /// Creates the directory and a probe file in it (removed again).
    async fn check_writable(&self) -> Result<()> {
        let dir = self.dir.clone();
        let unwritable = |e: std::io::Error| {
            ConnectorError::configuration(format!(
                "offset directory {} is not writable: {e}",
                dir.display()
            ))
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(unwritable)?;
        let probe = self.dir.join(format!(
            ".write-probe-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        tokio::fs::write(&probe, b"probe")
            .await
            .map_err(unwritable)?;
        tokio::fs::remove_file(&probe).await.map_err(unwritable)
    }

    async fn load(&self, pipeline: &str) -> Result<Option<State>> {
        let path = self.path_for(pipeline);
        match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ConnectorError::data(format!("corrupt offset file {}: {e}", path.display()))
                    .with_retryable(false)
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match self.legacy_path_for(pipeline) {
                    Some(legacy) if tokio::fs::try_exists(&legacy).await.unwrap_or(false) => {
                        // Starting from nothing would replay or skip silently; which
                        // pipeline the old file belongs to only the operator knows.
                        Err(ConnectorError::configuration(format!(
                            "pipeline `{pipeline}`: found offsets at {} written under the old \
                             naming, which any pipeline whose name differs only in characters \
                             other than letters, digits, `.`, `-` and `_` shared; if they belong \
                             to `{pipeline}`, rename the file to {}, otherwise delete it",
                            legacy.display(),
                            path.display()
                        )))
                    }
                    _ => Ok(None),
                }
            }
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

    /// The file name, lower-cased: two names that differ only in case are one
    /// file on a case-insensitive disk.
    fn storage_key(&self, pipeline: &str) -> String {
        self.path_for(pipeline).to_string_lossy().to_lowercase()
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let ctx = |what: &str| format!("{what} {}", path.display());
    std::fs::create_dir_all(dir)
        .map_err(|e| ConnectorError::from(e).context(ctx("creating directory for")))?;
    // A temp file of its own per save: two saves of one pipeline (or a stale
    // writer) never write into each other's temp file.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".{}.{seq}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    {
        let mut file = std::fs::File::create(&tmp)
            .map_err(|e| ConnectorError::from(e).context(ctx("creating temp file for")))?;
        file.write_all(bytes)
            .map_err(|e| ConnectorError::from(e).context(ctx("writing")))?;
        file.sync_all()
            .map_err(|e| ConnectorError::from(e).context(ctx("syncing")))?;
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(ConnectorError::from(e).context(ctx("renaming temp file to")));
    }
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
    async fn an_unwritable_directory_is_a_configuration_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let ok = FileOffsetStore::new(dir.path().join("offsets"));
        ok.check_writable().await.unwrap();
        // The probe leaves nothing behind.
        assert_eq!(std::fs::read_dir(ok.dir()).unwrap().count(), 0);

        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let bad = FileOffsetStore::new(blocker.join("offsets"));
        let e = bad.check_writable().await.unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Config);
        assert!(e.to_string().contains("file/offsets"), "{e}");
        // The runtime refuses to start on it.
        let err = crate::runtime::Runtime::builder()
            .offset_store(bad)
            .start()
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("not writable"), "{err}");
    }

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

    /// Fails before the fix: `orders eu` and `orders_eu` mapped to one file, so a
    /// new pipeline `orders_eu` started from the other one's offset.
    #[tokio::test]
    async fn names_differing_in_special_characters_never_share_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileOffsetStore::new(dir.path());
        let names = [
            "orders eu",
            "orders_eu",
            "orders/eu",
            "orders%20eu",
            "ördérs",
            "..",
            "a.b",
        ];
        for (i, name) in names.iter().enumerate() {
            let state = State::builder().global("n", json!(i)).build();
            store.save(name, &state).await.unwrap();
        }
        for (i, name) in names.iter().enumerate() {
            let state = store.load(name).await.unwrap().unwrap();
            assert_eq!(state.get_global("n"), Some(&json!(i)), "{name}");
            let file = store.path_for(name);
            assert_eq!(file.parent(), Some(dir.path()), "{name} stays in the dir");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), names.len());
        let keys: std::collections::HashSet<_> =
            names.iter().map(|n| store.storage_key(n)).collect();
        assert_eq!(keys.len(), names.len());
        assert_eq!(store.storage_key("Orders"), store.storage_key("orders"));
    }

    #[tokio::test]
    async fn an_old_lossy_offset_file_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileOffsetStore::new(dir.path());
        std::fs::write(dir.path().join("orders_eu.offsets.json"), b"{}").unwrap();
        let err = store.load("orders eu").await.unwrap_err().to_string();
        assert!(
            err.contains("orders_eu.offsets.json") && err.contains("orders%20eu"),
            "{err}"
        );
        // The plain name that maps to it unchanged still reads it.
        assert!(store.load("orders_eu").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn concurrent_saves_use_their_own_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileOffsetStore::new(dir.path());
        let saves = (0..32).map(|i| {
            let store = store.clone();
            async move {
                let state = State::builder().global("n", json!(i)).build();
                store.save("p", &state).await
            }
        });
        for r in futures::future::join_all(saves).await {
            r.unwrap();
        }
        assert!(store.load("p").await.unwrap().is_some());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
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
