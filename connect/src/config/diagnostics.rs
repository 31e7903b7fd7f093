//! [`ConfigError`]: every problem found in a configuration, each with the key
//! path and, where known, the line and column.

use super::tree::Pos;
use std::fmt;

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Dotted key path, e.g. `pipelines.orders.settings.rate_limit` (empty for the whole file).
    pub path: String,
    /// Where in the file, when known.
    pub at: Option<Pos>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = self.at {
            write!(f, "{}:{}: ", at.line, at.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "`{}`: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Everything wrong with a configuration, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when loaded from one.
    pub file: Option<String>,
    /// The problems.
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// An error with these problems (sorted by position).
    pub fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| d.at.map(|p| (p.line, p.column)).unwrap_or((u64::MAX, 0)));
        diagnostics.dedup();
        Self {
            file: None,
            diagnostics,
        }
    }

    /// Whether `path` (exact, or a key below it) has a problem.
    pub fn mentions(&self, path: &str) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.path == path || d.path.starts_with(&format!("{path}.")))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        write!(
            f,
            "invalid configuration{}: {n} problem{}",
            self.file
                .as_deref()
                .map(|p| format!(" `{p}`"))
                .unwrap_or_default(),
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            f.write_str("\n  ")?;
            if let Some(file) = &self.file {
                write!(f, "{file}:")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for crate::error::ConnectorError {
    fn from(e: ConfigError) -> Self {
        crate::error::ConnectorError::configuration(e.to_string())
    }
}

/// The candidate closest to `word`, when close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_l = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word_l, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)`, or nothing.
pub(crate) fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Edit distance where swapping two adjacent characters counts as one edit
/// (optimal string alignment), so `cuont` is one edit from `count`.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let mut best = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
            if i > 0 && j > 0 && *ca == b[j - 1] && a[i - 1] == *cb {
                best = best.min(before[j - 1] + 1);
            }
            current[j + 1] = best;
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["sources", "sinks", "pipelines", "transforms"];
        assert_eq!(did_you_mean("sorces", keys), Some("sources"));
        assert_eq!(did_you_mean("pipeline", keys), Some("pipelines"));
        assert_eq!(did_you_mean("Sinks", keys), Some("sinks"));
        assert_eq!(did_you_mean("banana", keys), None);
        assert_eq!(did_you_mean("cuont", ["count", "start"]), Some("count"));
        assert_eq!(hint("x", keys), "");
    }

    #[test]
    fn renders_file_line_column_and_path() {
        let mut e = ConfigError::new(vec![
            Diagnostic {
                path: "b".into(),
                at: Some(Pos { line: 9, column: 3 }),
                message: "second".into(),
            },
            Diagnostic {
                path: "a.x".into(),
                at: Some(Pos { line: 2, column: 5 }),
                message: "first".into(),
            },
        ]);
        e.file = Some("c.yaml".into());
        assert_eq!(
            e.to_string(),
            "invalid configuration `c.yaml`: 2 problems\n  c.yaml:2:5: `a.x`: first\n  c.yaml:9:3: `b`: second"
        );
        assert!(e.mentions("a") && !e.mentions("a.y"));
    }
}
