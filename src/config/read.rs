//! Reading one variable: its value or default, parsed, and named in the error when it is
//! malformed. Shapes that several variables share (origins, host names, networks).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

use super::vars::Var;
use super::{Backend, ConfigError};

/// Reads variables through a lookup (the process environment, or a test's map).
pub struct Reader<L> {
    lookup: L,
}

impl<L: Fn(&str) -> Option<String>> Reader<L> {
    pub fn new(lookup: L) -> Self {
        Self { lookup }
    }

    /// A variable that is not a setting of ours (`HOSTNAME`), as set.
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// The value set (not blank), if any.
    pub fn set(&self, var: &Var) -> Option<String> {
        (self.lookup)(var.name).filter(|v| !v.trim().is_empty())
    }

    /// The value set, else the default.
    pub fn text(&self, var: &Var) -> (&'static str, String) {
        (var.name, self.set(var).unwrap_or_else(|| var.default.to_owned()))
    }

    /// The value parsed as `T`; `expected` says what would do.
    pub fn parse<T: FromStr>(&self, var: &Var, expected: &str) -> Result<T, ConfigError> {
        let (name, value) = self.text(var);
        value.trim().parse().map_err(|_| ConfigError::new(name, value, expected))
    }

    /// A whole number more than 0.
    pub fn count<T: FromStr + Default + PartialEq>(&self, var: &Var) -> Result<T, ConfigError> {
        let value: T = self.parse(var, "expected a whole number")?;
        positive(var, value)
    }

    /// Whole seconds, 0 allowed (0 turns the thing off).
    pub fn secs_or_zero(&self, var: &Var) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(self.parse(var, "expected a whole number of seconds")?))
    }

    /// Milliseconds, 0 allowed (0 turns the thing off).
    pub fn millis_or_zero(&self, var: &Var) -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(self.parse(var, "expected milliseconds")?))
    }

    /// Milliseconds, more than 0.
    pub fn millis(&self, var: &Var) -> Result<Duration, ConfigError> {
        let value: u64 = self.parse(var, "expected milliseconds")?;
        Ok(Duration::from_millis(positive(var, value)?))
    }

    /// Whole seconds, more than 0.
    pub fn secs(&self, var: &Var) -> Result<Duration, ConfigError> {
        let value: u64 = self.parse(var, "expected a whole number of seconds")?;
        Ok(Duration::from_secs(positive(var, value)?))
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    pub fn flag(&self, var: &Var) -> Result<bool, ConfigError> {
        let (name, value) = self.text(var);
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::new(name, value, "expected true or false")),
        }
    }

    /// One of `choices` (any case), as its value.
    pub fn choice<T: Copy>(&self, var: &Var, choices: &[(&str, T)]) -> Result<T, ConfigError> {
        let (name, value) = self.text(var);
        let found = choices.iter().find(|(word, _)| value.trim().eq_ignore_ascii_case(word));
        found.map(|(_, choice)| *choice).ok_or_else(|| {
            let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
            let expected = match words.as_slice() {
                [one, two] => format!("expected {one} or {two}"),
                [rest @ .., last] => format!("expected {} or {last}", rest.join(", ")),
                [] => "expected nothing".to_owned(),
            };
            ConfigError::new(name, value, &expected)
        })
    }

    /// The socket address to listen on.
    pub fn address(&self, var: &Var) -> Result<SocketAddr, ConfigError> {
        self.parse(var, "expected host:port, such as 127.0.0.1:3000")
    }
}

fn positive<T: Default + PartialEq>(var: &Var, value: T) -> Result<T, ConfigError> {
    if value == T::default() {
        Err(ConfigError::new(var.name, "0".to_owned(), "must be more than 0"))
    } else {
        Ok(value)
    }
}

/// `*`, or origins (`scheme://host[:port]`, nothing more) separated by commas or spaces.
pub fn origins((name, value): (&'static str, String)) -> Result<Vec<String>, ConfigError> {
    let items: Vec<&str> = value.split([',', ' ']).map(str::trim).filter(|i| !i.is_empty()).collect();
    if items == ["*"] {
        return Ok(vec!["*".to_owned()]);
    }
    items
        .iter()
        .map(|item| {
            let origin = url::Url::parse(item).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/" && !item.ends_with('/')
            });
            origin.map(|u| u.origin().ascii_serialization()).ok_or_else(|| ConfigError {
                name,
                value: value.clone(),
                reason: format!("“{item}” is not an origin such as https://blog.example (or use * alone)"),
            })
        })
        .collect()
}

/// The `Host` names a server answers without `PUBLIC_URL` or `ALLOWED_HOSTS`: loopback's,
/// and the address it listens on.
pub fn default_hosts(bind: SocketAddr) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(str::to_owned).into();
    let own = bind.ip().to_string();
    if !bind.ip().is_unspecified() && !hosts.contains(&own) {
        hosts.push(own);
    }
    hosts
}

/// Comma-separated host names or addresses, without scheme or port: `votes.example, 10.0.0.7`.
pub fn host_names((name, value): (&'static str, String)) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let bare = item.trim_start_matches('[').trim_end_matches(']');
            // As browsers send it: an address as written, a name lowercase and in punycode.
            let host = match bare.parse::<IpAddr>() {
                Ok(address) => Some(address.to_string()),
                Err(_) if !bare.contains(['/', ':', '[', ']']) => {
                    url::Host::parse(bare).ok().map(|h| h.to_string().to_ascii_lowercase())
                }
                Err(_) => None,
            };
            if let Some(host) = host {
                Ok(host)
            } else {
                Err(ConfigError {
                    name,
                    value: value.clone(),
                    reason: format!("“{item}” is not a host name such as votes.example (no scheme, no port)"),
                })
            }
        })
        .collect()
}

/// Comma-separated networks: `10.0.0.0/8`, `::1`, `192.0.2.7`.
pub fn networks((name, value): (&'static str, String)) -> Result<Vec<IpNet>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>().or_else(|_| item.parse::<IpAddr>().map(IpNet::from)).map_err(|_| ConfigError {
                name,
                value: value.clone(),
                reason: format!("“{item}” is not a network such as 10.0.0.0/8 or an address such as 127.0.0.1"),
            })
        })
        .collect()
}

/// A header- and key-safe name: letters, digits, `-`, `_`, `.`.
pub fn identifier((name, value): (&'static str, String)) -> Result<String, ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(value)
    } else {
        Err(ConfigError { name, value, reason: "expected up to 64 letters, digits, '-', '_' or '.'".into() })
    }
}

pub fn backend_of(url: &str) -> Result<Backend, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err("expected a postgres://… or sqlite://… URL".into())
    }
}

/// The URL with its password replaced by `***`, for logs and error messages. Anything
/// else that might hold credentials (an `@` outside a parsed `user:password@host`) is not
/// shown at all.
pub fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.has_authority() => {
            if url.password().is_some() {
                // Only fails for URLs that cannot have credentials, and this one has an authority.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        _ if !raw.contains('@') => raw.to_owned(),
        _ => "(not shown: it may hold a password)".to_owned(),
    }
}
