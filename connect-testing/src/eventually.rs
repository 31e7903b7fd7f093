//! [`eventually`]: poll a condition instead of sleeping a fixed time.

use std::time::{Duration, Instant};

/// Poll `cond` every 5 ms until it holds or `timeout` passes; returns whether it held.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use rivven_connect_testing::eventually;
/// use std::time::Duration;
/// let start = std::time::Instant::now();
/// assert!(eventually(|| start.elapsed() > Duration::from_millis(20), Duration::from_secs(5)).await);
/// assert!(!eventually(|| false, Duration::from_millis(30)).await);
/// # }
/// ```
pub async fn eventually(mut cond: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
