//! Decoded sound files shared by every playback of them: a file is read and resampled
//! once per rate and kept while it fits the cache's byte budget (least recently used
//! first out), so a thousand callers hearing one long announcement hold one copy of it,
//! not a thousand. A file changed on disk (other length or modification time) is read
//! again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::OnceCell;

/// What decoding a file gave: its samples at the asked rate, or nothing (unreadable).
pub(crate) type Decoded = Option<Arc<[i16]>>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    path: PathBuf,
    rate: u32,
    len: u64,
    modified: Option<SystemTime>,
}

#[derive(Debug)]
struct Entry {
    cell: Arc<OnceCell<Decoded>>,
    /// When it was last asked for (a counter, for least-recently-used eviction).
    used: u64,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Key, Entry>,
    tick: u64,
}

/// The cache; cheap to share.
#[derive(Debug)]
pub(crate) struct SoundCache {
    entries: Mutex<Entries>,
    /// Bytes of decoded samples kept at most (files in use stay alive in their
    /// playbacks even when evicted).
    budget: usize,
}

/// The default budget: room for about an hour and a half of 16 kHz audio.
pub(crate) const DEFAULT_BUDGET: usize = 256 * 1024 * 1024;

impl SoundCache {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            entries: Mutex::default(),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The samples of `path` at `rate`, decoding them with `decode` on first use (once,
    /// however many ask at the same time).
    pub(crate) async fn get<F, Fut>(&self, path: &Path, rate: u32, decode: F) -> Decoded
    where
        F: FnOnce(PathBuf, u32) -> Fut,
        Fut: std::future::Future<Output = Decoded>,
    {
        let meta = std::fs::metadata(path).ok();
        let key = Key {
            path: path.to_owned(),
            rate,
            len: meta.as_ref().map_or(0, std::fs::Metadata::len),
            modified: meta.and_then(|m| m.modified().ok()),
        };
        let cell = {
            let mut entries = self.lock();
            entries.tick += 1;
            let tick = entries.tick;
            let entry = entries.map.entry(key.clone()).or_insert_with(|| Entry {
                cell: Arc::new(OnceCell::new()),
                used: tick,
            });
            entry.used = tick;
            entry.cell.clone()
        };
        let decoded = cell
            .get_or_init(|| decode(key.path.clone(), rate))
            .await
            .clone();
        match &decoded {
            Some(_) => self.evict(),
            // Not kept: a file that could not be read may be fixed by the next call.
            None => {
                self.lock().map.remove(&key);
            }
        }
        decoded
    }

    /// Bytes of the decoded files kept now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        Self::size(&self.lock())
    }

    fn size(entries: &Entries) -> usize {
        entries
            .map
            .values()
            .filter_map(|e| e.cell.get().and_then(Option::as_ref))
            .map(|samples| samples.len() * 2)
            .sum()
    }

    /// Drops least recently used files until the rest fit the budget (the newest
    /// stays even when it alone is over it).
    fn evict(&self) {
        let mut entries = self.lock();
        while Self::size(&entries) > self.budget && entries.map.len() > 1 {
            let oldest = entries
                .map
                .iter()
                .filter(|(_, e)| e.cell.get().is_some())
                .min_by_key(|(_, e)| e.used)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => entries.map.remove(&key),
                None => break,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn file(name: &str, bytes: usize) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchboard-sound-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        std::fs::write(&path, vec![0u8; bytes]).expect("write");
        path
    }

    #[tokio::test]
    async fn a_file_is_decoded_once_and_shared() {
        let cache = SoundCache::new(1 << 20);
        let decodes = Arc::new(AtomicUsize::new(0));
        let path = file("shared.raw", 100);
        let decode = |decodes: Arc<AtomicUsize>| {
            move |_: PathBuf, _: u32| async move {
                decodes.fetch_add(1, Ordering::SeqCst);
                Some(Arc::from(vec![1i16; 1000]))
            }
        };
        let (a, b) = tokio::join!(
            cache.get(&path, 8000, decode(decodes.clone())),
            cache.get(&path, 8000, decode(decodes.clone()))
        );
        let (a, b) = (a.expect("decoded"), b.expect("decoded"));
        assert!(Arc::ptr_eq(&a, &b), "one copy for both");
        assert_eq!(decodes.load(Ordering::SeqCst), 1);
        // Another rate is another rendering.
        cache.get(&path, 16000, decode(decodes.clone())).await;
        assert_eq!(decodes.load(Ordering::SeqCst), 2);
        assert_eq!(cache.bytes(), 4000);
        // A changed file is read again.
        std::fs::write(&path, vec![0u8; 200]).expect("rewrite");
        cache.get(&path, 8000, decode(decodes.clone())).await;
        assert_eq!(decodes.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_least_recently_used_go_first_and_failures_are_not_kept() {
        let cache = SoundCache::new(5000);
        let (a, b, c) = (file("a.raw", 1), file("b.raw", 2), file("c.raw", 3));
        let two_k = |_: PathBuf, _: u32| async { Some(Arc::from(vec![0i16; 1000])) };
        cache.get(&a, 8000, two_k).await;
        cache.get(&b, 8000, two_k).await;
        cache.get(&a, 8000, two_k).await;
        cache.get(&c, 8000, two_k).await;
        // 6000 bytes > 5000: b, the least recently used, went.
        assert_eq!(cache.bytes(), 4000);
        let calls = AtomicUsize::new(0);
        let counted = |_: PathBuf, _: u32| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Some(Arc::from(vec![0i16; 1000]))
        };
        cache.get(&a, 8000, counted).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "a stayed");
        let failing = |_: PathBuf, _: u32| async { None };
        assert!(cache
            .get(&file("bad.raw", 4), 8000, failing)
            .await
            .is_none());
        assert_eq!(cache.bytes(), 4000);
    }
}
