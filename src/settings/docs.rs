//! The options table of the README, generated from the declarations so that it cannot go
//! stale (`tests/it/config_readme.rs` checks the README against it).

use super::options::{Cli, SETTINGS};
use super::sources::layer_command;

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// How an argument is written on the command line, for the docs: "`-w N`, `--workers N`",
/// or "`--reuse-port[=BOOL]`" for a value that may be left out.
fn flag_cell(arg: &clap::Arg) -> String {
    let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
    let value = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map(|n| match optional {
            true => format!("[={n}]"),
            false => format!(" {n}"),
        })
        .filter(|_| arg.get_action().takes_values())
        .unwrap_or_default();
    let mut forms = Vec::new();
    if let Some(short) = arg.get_short() {
        forms.push(format!("`-{short}{value}`"));
    }
    if let Some(long) = arg.get_long() {
        forms.push(format!("`--{long}{value}`"));
    }
    if forms.is_empty() {
        forms.push(format!("`{}`", value.trim()));
    }
    forms.join(", ")
}

/// User documentation of every option, as Markdown: a table of the settings (flags, TOML
/// key, environment variable, default, description) followed by the command-line-only
/// options. Generated from the declarations, so it cannot go stale.
pub fn markdown_table() -> String {
    let layer = layer_command();
    let mut out = String::from(
        "| Option | TOML key | Environment | Default | Description |\n\
         |---|---|---|---|---|\n",
    );
    for meta in SETTINGS {
        let flags = layer
            .get_arguments()
            .find(|a| a.get_id() == meta.name)
            .map(flag_cell)
            .unwrap_or_default();
        out.push_str(&format!(
            "| {flags} | `{}` | `{}` | {} | {} |\n",
            meta.name,
            meta.env_var(),
            cell(meta.default),
            cell(&meta.doc_paragraph()),
        ));
    }
    out.push_str("\nCommand-line only:\n\n| Option | Description |\n|---|---|\n");
    let cli = <Cli as clap::CommandFactory>::command();
    for arg in cli.get_arguments() {
        if SETTINGS.iter().any(|m| m.name == arg.get_id()) {
            continue;
        }
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        out.push_str(&format!("| {} | {} |\n", flag_cell(arg), cell(&help)));
    }
    out
}
