//! `check` results as every CDC source reports them.

use rivven_connect::CheckResult;

/// `result` with its first failure (`name: message`) as the one-line
/// summary, so `rivven-connect check` prints the fix first.
///
/// ```
/// use rivven_connect::CheckResult;
/// use rivven_connect_cdc::common::check::summarized;
/// let r = summarized(CheckResult::builder().check_passed("connect").check_failed("binlog", "set binlog_format=ROW").finish());
/// assert_eq!(r.message.as_deref(), Some("binlog: set binlog_format=ROW"));
/// ```
pub fn summarized(result: CheckResult) -> CheckResult {
    if result.is_success() {
        return result;
    }
    let first = result
        .failed_checks()
        .next()
        .map(|c| format!("{}: {}", c.name, c.message.clone().unwrap_or_default()))
        .unwrap_or_default();
    CheckResult {
        message: Some(first),
        ..result
    }
}
