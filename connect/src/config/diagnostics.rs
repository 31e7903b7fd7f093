//! [`ConfigError`]: every problem found in a configuration, each with the key
//! path and, where known, the line and column; shown one line per problem
//! (`Display`) or, with the configuration text, as the offending source
//! lines with a caret under the column ([`ConfigError::render`]).

use super::render;
use super::tree::Pos;
use std::fmt;
use std::sync::Arc;

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Dotted key path, e.g. `pipelines.orders.settings.rate_limit` (empty for the whole file).
    pub path: String,
    /// Where in the file, when known.
    pub at: Option<Pos>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known: "did you mean `sinks`?".
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem at `path` (dotted), written at `at`.
    pub fn new(path: impl Into<String>, at: Option<Pos>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            at,
            message: message.into(),
            help: None,
        }
    }

    /// The same problem with a suggestion (`None` leaves it without).
    pub fn with_help(mut self, help: impl Into<Option<String>>) -> Self {
        self.help = help.into();
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = self.at {
            write!(f, "{}:{}: ", at.line, at.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "`{}`: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

/// Everything wrong with a configuration, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when loaded from one.
    pub file: Option<String>,
    /// The problems.
    pub diagnostics: Vec<Diagnostic>,
    /// The text as written, for [`ConfigError::render`].
    source: Option<Arc<render::Source>>,
}

impl ConfigError {
    /// An error with these problems (sorted by position).
    pub fn new(mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| d.at.map(|p| (p.line, p.column)).unwrap_or((u64::MAX, 0)));
        diagnostics.dedup();
        Self {
            file: None,
            diagnostics,
            source: None,
        }
    }

    /// The same error quoting `text`, the configuration as written (the
    /// positions of the diagnostics are in it), in [`ConfigError::render`].
    pub fn with_source(self, text: impl Into<String>) -> Self {
        self.with_source_redacted(text.into(), Vec::new())
    }

    /// As [`ConfigError::with_source`]; the scalars written at `secrets`
    /// are shown as `***`.
    pub(crate) fn with_source_redacted(mut self, text: String, secrets: Vec<Pos>) -> Self {
        self.source = Some(Arc::new(render::Source::new(text, secrets)));
        self
    }

    /// Whether `path` (exact, or a key below it) has a problem.
    pub fn mentions(&self, path: &str) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.path == path || d.path.starts_with(&format!("{path}.")))
    }

    /// The error for people: each problem as a header (`error: `path`:
    /// message`), `--> file:line:column`, the source line with a caret
    /// under the offending text and the suggestion as a `help:` line, then
    /// a count. Plain text (no colour); without the source text, the
    /// problems without snippets.
    pub fn render(&self) -> String {
        render::render(self, self.source.as_deref(), false)
    }

    /// As [`ConfigError::render`], with ANSI colours (for a terminal).
    pub fn render_styled(&self) -> String {
        render::render(self, self.source.as_deref(), true)
    }

    /// "invalid configuration `file`: n problems".
    pub(crate) fn summary(&self) -> String {
        let n = self.diagnostics.len();
        format!(
            "invalid configuration{}: {n} problem{}",
            self.file
                .as_deref()
                .map(|p| format!(" `{p}`"))
                .unwrap_or_default(),
            if n == 1 { "" } else { "s" }
        )
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
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

/// "did you mean `x`?", when a candidate is close to `word`.
pub(crate) fn hint<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
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
        assert_eq!(hint("x", keys), None);
        assert_eq!(
            hint("sinsk", keys).as_deref(),
            Some("did you mean `sinks`?")
        );
    }

    #[test]
    fn renders_file_line_column_and_path() {
        let mut e = ConfigError::new(vec![
            Diagnostic::new("b", Some(Pos { line: 9, column: 3 }), "second")
                .with_help("did you mean `c`?".to_string()),
            Diagnostic::new("a.x", Some(Pos { line: 2, column: 5 }), "first"),
        ]);
        e.file = Some("c.yaml".into());
        assert_eq!(
            e.to_string(),
            "invalid configuration `c.yaml`: 2 problems\n  c.yaml:2:5: `a.x`: first\n  c.yaml:9:3: `b`: second (did you mean `c`?)"
        );
        assert!(e.mentions("a") && !e.mentions("a.y"));
    }
}
