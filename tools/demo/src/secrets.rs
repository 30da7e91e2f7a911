//! After the run, every log line of every process is searched for what must never be
//! logged: the admin's API key, the server's and each kiosk's private key, and the badge
//! UIDs (in every spelling the product accepts), which would let anyone clone a badge.

use std::path::Path;

use anyhow::Context;

use mtime_core::badge::BadgeUid;

/// What must not appear, each with a label for the report.
#[derive(Debug, Default)]
pub struct Secrets {
    needles: Vec<(String, String)>,
}

impl Secrets {
    /// A secret, searched for as written.
    pub fn add(&mut self, label: &str, secret: &str) {
        let secret = secret.trim();
        if secret.len() >= 8 {
            self.needles.push((label.to_owned(), secret.to_owned()));
        }
    }

    /// The text of a key file, as a secret.
    pub fn add_file(&mut self, label: &str, path: &Path) -> anyhow::Result<()> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        self.add(label, &text);
        Ok(())
    }

    /// A badge UID, in upper and lower case, bare and with colons.
    pub fn add_badge(&mut self, badge: &BadgeUid) {
        let hex = badge.to_string();
        let pairs: Vec<String> =
            hex.as_bytes().chunks(2).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
        for spelling in
            [hex.clone(), hex.to_lowercase(), pairs.join(":"), pairs.join(":").to_lowercase()]
        {
            self.needles.push((format!("badge {hex}"), spelling));
        }
    }

    /// How many secrets and spellings are searched for.
    pub fn len(&self) -> usize {
        self.needles.len()
    }

    /// Every `*.log` file in `dir` that holds a secret, with the secret's label.
    pub fn found_in_logs(&self, dir: &Path) -> anyhow::Result<(usize, Vec<String>)> {
        let mut files = 0;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "log") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path)?;
            for (label, needle) in &self.needles {
                if text.contains(needle.as_str()) {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    found.push(format!("{label} in {name}"));
                }
            }
        }
        found.sort();
        found.dedup();
        Ok((files, found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_badge_and_a_key_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut secrets = Secrets::default();
        secrets.add("api key", "mtime_ak_0123456789abcdef");
        secrets.add_badge(&"04E87577DE9811".parse().unwrap());
        std::fs::write(dir.path().join("a.log"), "tap uid=04:e8:75:77:de:98:11\n").unwrap();
        std::fs::write(dir.path().join("b.log"), "request key=mtime_ak_0123456789abcdef\n")
            .unwrap();
        std::fs::write(dir.path().join("c.txt"), "04E87577DE9811").unwrap();
        let (files, found) = secrets.found_in_logs(dir.path()).unwrap();
        assert_eq!(files, 2);
        assert_eq!(found, vec!["api key in b.log", "badge 04E87577DE9811 in a.log"]);
    }
}
