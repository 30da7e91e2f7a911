//! Where a webhook may point: an http or https URL without credentials, on a host the
//! server's `webhook_hosts` setting allows.

use std::net::IpAddr;

use url::{Host, Url};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// The hosts webhooks may point at, as the operator configured them. Empty allows any
/// host. Names match exactly (case aside; `example.com` does not allow
/// `api.example.com`); addresses match by value, so `[::1]` and `::1` are the same entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAllowlist {
    hosts: Vec<String>,
}

impl HostAllowlist {
    /// The list of `hosts`: names or IP addresses, without scheme, port or path.
    pub fn new<S: AsRef<str>>(hosts: impl IntoIterator<Item = S>) -> Result<Self, String> {
        let mut out: Vec<String> = Vec::new();
        for host in hosts {
            let host = normal_entry(host.as_ref())?;
            if !out.contains(&host) {
                out.push(host);
            }
        }
        Ok(Self { hosts: out })
    }

    /// Whether every host is allowed (the list is empty).
    pub fn allows_any(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The entries, normalised.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    fn allows(&self, host: &str) -> bool {
        self.allows_any() || self.hosts.iter().any(|h| h == host)
    }
}

/// An allowlist entry as it is compared: addresses in their canonical form, names in
/// lowercase without a trailing dot.
fn normal_entry(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(trimmed);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    let name = bare.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !name.starts_with('.');
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "webhook host {text:?} is not a host name or IP address (give hosts alone, without \
             scheme, port or path)"
        ))
    }
}

/// The host of a parsed URL in the allowlist's form.
fn normal_host(host: Host<&str>) -> String {
    match host {
        Host::Domain(name) => name.trim_end_matches('.').to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    }
}

/// Checks a webhook URL; the answer says what is wrong, for a 400.
pub fn check_url(text: &str, allowed: &HostAllowlist) -> Result<Url, String> {
    if text.chars().count() > MAX_URL_LEN {
        return Err(format!("url must be at most {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(text.trim())
        .map_err(|e| format!("url is not an absolute http or https URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("url must use http or https, not {:?}", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry a user name or password; the signature proves the \
                    sender"
            .to_owned());
    }
    let host = url.host().map(normal_host).ok_or("url must name a host")?;
    if !allowed.allows(&host) {
        return Err(format!(
            "webhooks may not point at {host}; the server allows: {}",
            allowed.hosts().join(", ")
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_hosts_alone_and_compared_in_one_form() {
        let list = HostAllowlist::new(["127.0.0.1", "[::1]", "Hooks.Example.", "::1"]).unwrap();
        assert_eq!(list.hosts(), ["127.0.0.1", "::1", "hooks.example"]);
        for bad in ["", "127.0.0.1:8080", "http://x", "a/b", "x y", ".example"] {
            assert!(HostAllowlist::new([bad]).is_err(), "{bad:?}");
        }
        assert!(HostAllowlist::new(Vec::<String>::new()).unwrap().allows_any());
    }

    #[test]
    fn urls_need_http_a_host_allowed_and_no_credentials() {
        let list = HostAllowlist::new(["127.0.0.1", "::1", "hooks.example"]).unwrap();
        for good in [
            "http://127.0.0.1:9000/in",
            "https://[::1]/x?y=1",
            "https://HOOKS.example/a",
            // The same address, written as one number: still loopback, still allowed.
            "http://2130706433/",
        ] {
            assert!(check_url(good, &list).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("ftp://127.0.0.1/", "http or https"),
            ("file:///etc/passwd", "http or https"),
            ("http://user:pw@127.0.0.1/", "user name or password"),
            ("http://user@127.0.0.1/", "user name or password"),
            ("http://127.0.0.2/", "may not point at 127.0.0.2"),
            ("https://api.hooks.example/", "may not point at"),
            ("http://[::ffff:127.0.0.1]/", "may not point at"),
            ("not a url", "absolute"),
            ("/relative", "absolute"),
        ] {
            let err = check_url(bad, &list).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let long = format!("http://127.0.0.1/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long, &list).unwrap_err().contains("at most"));
        let open = HostAllowlist::default();
        assert!(check_url("https://anything.example/", &open).is_ok());
    }
}
