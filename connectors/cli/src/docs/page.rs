//! The Markdown page of one connector or transform.

use rivven_connect::registry::ConnectorMetadata;
use rivven_connect::{ConnectorKind, ConnectorSpec};

use super::example::{example_yaml, scalar_or_flow_value};
use super::schema::{options, ConfigOption};
use super::{category_name, kind_name, EXPRESSIONS_PAGE, GENERATED_NOTE};

/// The page of `meta` (whose spec is `spec`).
pub(crate) fn connector_page(meta: &ConnectorMetadata, spec: &ConnectorSpec) -> String {
    let opts = options(spec, true);
    let mut out = format!(
        "# `{}` ({})\n\n{GENERATED_NOTE}\n\n{}\n\n",
        meta.name,
        kind_name(meta.kind),
        sentence(&meta.description)
    );
    out.push_str("| | |\n|---|---|\n");
    out.push_str(&format!("| kind | {} |\n", kind_name(meta.kind)));
    out.push_str(&format!(
        "| category | {} |\n",
        category_name(meta.category)
    ));
    if !meta.tags.is_empty() {
        out.push_str(&format!("| tags | {} |\n", code_list(&meta.tags)));
    }
    if !meta.aliases.is_empty() {
        out.push_str(&format!("| also named | {} |\n", code_list(&meta.aliases)));
    }
    if meta.kind == ConnectorKind::Source {
        out.push_str(&format!(
            "| incremental | {} |\n",
            yes_no(spec.supports_incremental)
        ));
    }
    out.push('\n');

    out.push_str("## Options\n\n");
    if opts.is_empty() {
        out.push_str("None.\n\n");
    } else {
        out.push_str(&options_table(&opts));
        if opts.iter().any(|o| o.secret) {
            out.push_str(
                "\nOptions marked **secret** are redacted in logs, diagnostics and \
                 status; give them as `${VAR}` or `file://path` rather than in the file.\n",
            );
        }
        out.push('\n');
    }
    if opts
        .iter()
        .any(|o| o.description.to_lowercase().contains("filter expression"))
    {
        out.push_str(&format!(
            "The condition language: [Filter expressions](../{EXPRESSIONS_PAGE}).\n\n"
        ));
    }

    out.push_str("## Example\n\n```yaml\n");
    out.push_str(&example_yaml(meta.kind, &meta.name, &opts));
    out.push_str("```\n");
    if meta.kind == ConnectorKind::Transform {
        out.push_str(&format!(
            "\nA pipeline applies it by name: `transforms: [my-{}]`.\n",
            meta.name
        ));
    }
    out
}

fn options_table(opts: &[ConfigOption]) -> String {
    let mut out = String::from(
        "| option | type | required | default | description |\n|---|---|---|---|---|\n",
    );
    for o in opts {
        let mut desc = cell(&o.description);
        if o.secret {
            desc = if desc.is_empty() {
                "**secret**".into()
            } else {
                format!("**secret**. {desc}")
            };
        }
        for (value, what) in &o.variants {
            desc.push_str(&format!("<br>`{}`: {}", cell(value), cell(what)));
        }
        if !o.constraints.is_empty() {
            desc.push_str(&format!(
                "<br>Constraints: {}.",
                cell(&o.constraints.join(", "))
            ));
        }
        if let Some(e) = o.examples.first() {
            desc.push_str(&format!(
                "<br>Example: `{}`.",
                cell(&scalar_or_flow_value(e))
            ));
        }
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            o.path,
            cell(&o.ty),
            if o.required { "yes" } else { "" },
            o.shown_default()
                .map(|d| format!("`{}`", cell(&d)))
                .unwrap_or_default(),
            desc
        ));
    }
    out
}

/// Text for a table cell: `|` escaped; outside code spans `<` escaped so
/// that `sources.<name>` is not read as an HTML tag.
pub(crate) fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '|' => out.push_str("\\|"),
            '<' if !in_code => out.push_str("&lt;"),
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` ending with a full stop.
pub(crate) fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() || text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

fn code_list(items: &[String]) -> String {
    items
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_and_tags_but_not_code() {
        assert_eq!(
            cell("`a | b` or sources.<name>, `x<y>`"),
            "`a \\| b` or sources.&lt;name>, `x<y>`"
        );
        assert_eq!(sentence("Keep events"), "Keep events.");
        assert_eq!(sentence("Keep events."), "Keep events.");
    }
}
