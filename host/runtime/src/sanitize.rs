//! The one rule for showing adapter text to a person: control characters
//! other than newline and tab are shown escaped, as `\u{1b}` (the style of
//! git and cargo), so an adapter cannot clear the screen, move the cursor
//! to rewrite earlier lines, set the window title, write the clipboard
//! (OSC 52), ring the bell, or overprint a line with backspaces or `\r`.
//!
//! Escaped: C0 controls except `\n` and `\t` (ESC, BEL, BS, CR, FF, …),
//! DEL, and the C1 controls U+0080–U+009F (8-bit CSI/OSC). Everything else
//! is kept as it is, so ordinary text is never altered.
//!
//! Where it applies: every adapter log line (always, in the runtime: a log
//! file is read on a terminal later); on the command line, every adapter
//! text written to stderr (errors) and, when stdout is a terminal, to stdout
//! (titles, details, reports, watch records). `--json` is exact (serde
//! escapes control characters), and `watch` records written to a pipe stay
//! the raw bytes the adapter sent (they are the user's data).
//!
//! This module only transforms text; it must not decide where text goes.

use std::borrow::Cow;

/// Whether `c` is shown escaped.
pub fn is_unsafe_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)
}

/// `text` with every unsafe control character shown as `\u{…}`; borrowed
/// (no copy) when there is none.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_newlines_and_tabs_kept() {
        let evil = "a\u{1b}[2J\u{1b}]52;c;eA==\u{7}b\u{8}\rc\u{9b}1A\n\td\u{7f}";
        assert_eq!(
            escape_controls(evil),
            "a\\u{1b}[2J\\u{1b}]52;c;eA==\\u{7}b\\u{8}\\u{d}c\\u{9b}1A\n\td\\u{7f}"
        );
        assert!(matches!(escape_controls("plain é 中"), Cow::Borrowed(_)));
    }
}
