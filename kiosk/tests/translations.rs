//! Every message the screens show has a translation in every language the kiosk offers.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

/// The messages of the views: every `@tr("…")`.
fn messages() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "slint") {
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("@tr(\"").skip(1) {
                found.insert(unescape(until_quote(piece)));
            }
        }
    }
    found
}

fn until_quote(s: &str) -> &str {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return &s[..i],
            _ => escaped = false,
        }
    }
    s
}

fn unescape(s: &str) -> String {
    s.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// The translated messages of one `.po` file (empty translations left out).
fn translated(po: &str) -> BTreeSet<String> {
    let mut done = BTreeSet::new();
    let mut id = None;
    for line in po.lines() {
        if let Some(rest) = line.strip_prefix("msgid \"") {
            id = Some(unescape(rest.trim_end_matches('"')));
        } else if let Some(rest) = line.strip_prefix("msgstr \"") {
            let id = id.take().filter(|id| !id.is_empty());
            if let Some(id) = id.filter(|_| !rest.trim_end_matches('"').is_empty()) {
                done.insert(id);
            }
        }
    }
    done
}

#[test]
fn every_message_is_translated_to_norwegian() {
    let po = include_str!("../lang/nb/LC_MESSAGES/mtime-kiosk.po");
    let messages = messages();
    assert!(messages.len() > 50, "found only {} messages", messages.len());
    let translated = translated(po);
    let missing: Vec<_> = messages.difference(&translated).collect();
    assert!(missing.is_empty(), "not translated to nb: {missing:?}");
}

#[test]
fn the_extractor_reads_escaped_quotes() {
    assert_eq!(until_quote(r#"a \"b\" c") d"#), r#"a \"b\" c"#);
    assert_eq!(unescape(r#"a \"b\""#), r#"a "b""#);
}
