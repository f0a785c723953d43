//! Configuration, read once from the environment (12-factor).
//!
//! Every variable is documented in the README's Configuration table; defaults make
//! `cargo run -p flagyard-server` work with no setup.

use std::net::IpAddr;
use std::time::Duration;

/// How logs are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default when stdout is not a terminal).
    Json,
    /// Human-readable lines (the default on a terminal).
    Pretty,
}

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://path` (default `sqlite://flagyard.db`) or `postgres://...`.
    pub database_url: String,
    /// `FLAGYARD_BIND`: the address to listen on (default `0.0.0.0`).
    pub bind: IpAddr,
    /// `PORT`: the port (default 8080; 0 picks a free one).
    pub port: u16,
    /// `FLAGYARD_ADMIN_TOKEN`: a bootstrap admin token, stored (hashed) on start.
    pub admin_token: Option<String>,
    /// `FLAGYARD_LOG_FORMAT`: `json` or `pretty`.
    pub log_format: LogFormat,
    /// `FLAGYARD_LOG` (or `RUST_LOG`): a tracing filter (default `info`).
    pub log_filter: String,
    /// `FLAGYARD_MAX_BODY_BYTES`: the largest request body accepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// `FLAGYARD_SHUTDOWN_TIMEOUT_SECS`: how long in-flight requests get after SIGTERM (default 10).
    pub shutdown_timeout: Duration,
    /// `FLAGYARD_DB_MAX_CONNECTIONS`: database pool size (default 10).
    pub db_max_connections: u32,
    /// `FLAGYARD_SSE_HEARTBEAT_SECS`: a comment on quiet SDK streams at least this often (default 15).
    pub sse_heartbeat: Duration,
    /// `FLAGYARD_ENVIRONMENTS`: environments created on a fresh database
    /// (default `development,staging,production`).
    pub initial_environments: Vec<String>,
    /// `FLAGYARD_INGEST_QUEUE_EVENTS`: events waiting for storage before
    /// `POST /sdk/v1/events` answers `429` (default 200,000).
    pub ingest_queue_events: usize,
    /// `FLAGYARD_SESSION_TTL_HOURS`: a web UI session ends after this long
    /// without a request (sliding; default 12 hours).
    pub session_ttl: Duration,
    /// `FLAGYARD_COOKIE_SECURE`: mark the session cookie `Secure` (set `true`
    /// behind TLS; default `false`).
    pub cookie_secure: bool,
    /// `FLAGYARD_ADMIN_PASSWORD`: the password of the `admin` user created
    /// on a database without users (when unset, a random one is printed once).
    pub admin_password: Option<String>,
    /// `FLAGYARD_CREATE_DATABASE`: create the SQLite file when it is missing
    /// (default `true`, said on stdout); `false` refuses to start instead.
    pub create_database: bool,
    /// `FLAGYARD_HEADER_TIMEOUT_SECS`: a connection must send a request's
    /// headers within this long, counted from when it opened or its previous
    /// answer was sent (so also the idle keep-alive timeout; default 20).
    pub header_timeout: Duration,
    /// `FLAGYARD_WRITE_TIMEOUT_SECS`: a connection whose client reads
    /// nothing for this long while an answer waits to be written is closed
    /// (ends streams of clients that stopped reading; default 30).
    pub write_timeout: Duration,
    /// `FLAGYARD_MAX_CONNECTIONS`: open connections at most; more are
    /// answered `503` and closed (default 10,000, and at most what the
    /// process's descriptor limit allows).
    pub max_connections: usize,
    /// `FLAGYARD_TRUSTED_PROXIES`: comma-separated CIDRs of reverse proxies
    /// whose `Forwarded` / `X-Forwarded-For` headers name the client
    /// (default none: the TCP peer is the client).
    pub trusted_proxies: Vec<Cidr>,
    /// `FLAGYARD_TEST_CLOCK` (debug builds only, for tests): an RFC 3339
    /// instant that the release scheduler's clock starts at and stays at
    /// until moved with `POST /api/v1/test/clock`. Unset: the system clock.
    /// A release build refuses the variable.
    pub test_clock: Option<i64>,
}

/// An IP network (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = ();

    fn from_str(s: &str) -> Result<Cidr, ()> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr.trim().parse().map_err(|_| ())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| ())?,
            None => max,
        };
        if prefix > max {
            return Err(());
        }
        Ok(Cidr { network, prefix })
    }
}

/// A variable with a value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// Why it cannot be used.
    pub reason: &'static str,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        fn parse<T: std::str::FromStr>(
            get: &impl Fn(&str) -> Option<String>,
            name: &'static str,
            default: T,
            reason: &'static str,
        ) -> Result<T, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(value) => value.parse().map_err(|_| ConfigError { name, value, reason }),
            }
        }
        let log_format = match get("FLAGYARD_LOG_FORMAT").as_deref() {
            None => {
                use std::io::IsTerminal;
                if std::io::stdout().is_terminal() { LogFormat::Pretty } else { LogFormat::Json }
            }
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(ConfigError {
                    name: "FLAGYARD_LOG_FORMAT",
                    value: other.into(),
                    reason: "expected `json` or `pretty`",
                });
            }
        };
        let initial_environments: Vec<String> = get("FLAGYARD_ENVIRONMENTS")
            .unwrap_or_else(|| "development,staging,production".into())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(bad) = initial_environments.iter().find(|e| !flagyard_eval::is_valid_key(e)) {
            return Err(ConfigError {
                name: "FLAGYARD_ENVIRONMENTS",
                value: bad.clone(),
                reason: "environment keys are letters, digits, `.`, `_`, `-`",
            });
        }
        Ok(Config {
            database_url: get("DATABASE_URL").unwrap_or_else(|| "sqlite://flagyard.db".into()),
            bind: parse(&get, "FLAGYARD_BIND", IpAddr::from([0, 0, 0, 0]), "expected an IP address")?,
            port: parse(&get, "PORT", 8080, "expected a port number")?,
            admin_token: get("FLAGYARD_ADMIN_TOKEN"),
            log_format,
            log_filter: get("FLAGYARD_LOG").or_else(|| get("RUST_LOG")).unwrap_or_else(|| "info".into()),
            max_body_bytes: parse(&get, "FLAGYARD_MAX_BODY_BYTES", 1 << 20, "expected a number of bytes")?,
            shutdown_timeout: Duration::from_secs(parse(
                &get,
                "FLAGYARD_SHUTDOWN_TIMEOUT_SECS",
                10,
                "expected whole seconds",
            )?),
            db_max_connections: parse(&get, "FLAGYARD_DB_MAX_CONNECTIONS", 10, "expected a number")?,
            sse_heartbeat: match parse(&get, "FLAGYARD_SSE_HEARTBEAT_SECS", 15u64, "expected whole seconds")? {
                0 => {
                    return Err(ConfigError {
                        name: "FLAGYARD_SSE_HEARTBEAT_SECS",
                        value: "0".into(),
                        reason: "must be at least 1",
                    });
                }
                secs => Duration::from_secs(secs),
            },
            initial_environments,
            ingest_queue_events: parse(&get, "FLAGYARD_INGEST_QUEUE_EVENTS", 200_000, "expected a number of events")?,
            session_ttl: match parse(&get, "FLAGYARD_SESSION_TTL_HOURS", 12u64, "expected whole hours")? {
                hours @ 1..=8760 => Duration::from_secs(hours * 3600),
                other => {
                    return Err(ConfigError {
                        name: "FLAGYARD_SESSION_TTL_HOURS",
                        value: other.to_string(),
                        reason: "must be between 1 and 8760 (one year)",
                    });
                }
            },
            cookie_secure: parse(&get, "FLAGYARD_COOKIE_SECURE", false, "expected `true` or `false`")?,
            admin_password: match get("FLAGYARD_ADMIN_PASSWORD") {
                Some(p) if p.chars().count() < 10 => {
                    return Err(ConfigError {
                        name: "FLAGYARD_ADMIN_PASSWORD",
                        value: "(hidden)".into(),
                        reason: "passwords have at least 10 characters",
                    });
                }
                other => other,
            },
            create_database: parse(&get, "FLAGYARD_CREATE_DATABASE", true, "expected `true` or `false`")?,
            header_timeout: secs(&get, "FLAGYARD_HEADER_TIMEOUT_SECS", 20)?,
            write_timeout: secs(&get, "FLAGYARD_WRITE_TIMEOUT_SECS", 30)?,
            max_connections: match parse(&get, "FLAGYARD_MAX_CONNECTIONS", 10_000usize, "expected a number")? {
                0 => {
                    return Err(ConfigError {
                        name: "FLAGYARD_MAX_CONNECTIONS",
                        value: "0".into(),
                        reason: "must be at least 1",
                    });
                }
                n => n,
            },
            trusted_proxies: match get("FLAGYARD_TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| {
                        c.parse().map_err(|()| ConfigError {
                            name: "FLAGYARD_TRUSTED_PROXIES",
                            value: c.to_owned(),
                            reason: "expected CIDRs such as 10.0.0.0/8 or ::1/128, separated by commas",
                        })
                    })
                    .collect::<Result<_, _>>()?,
            },
            test_clock: match get("FLAGYARD_TEST_CLOCK") {
                None => None,
                Some(_) if !cfg!(debug_assertions) => {
                    return Err(ConfigError {
                        name: "FLAGYARD_TEST_CLOCK",
                        value: "(set)".into(),
                        reason: "only debug builds (tests) have a test clock",
                    });
                }
                Some(value) => match flagyard_eval::parse_rfc3339_millis(&value) {
                    Some(ms) => Some(ms),
                    None => {
                        return Err(ConfigError {
                            name: "FLAGYARD_TEST_CLOCK",
                            value,
                            reason: "expected an RFC 3339 instant",
                        });
                    }
                },
            },
        })
    }
}

/// A duration in whole seconds, at least 1.
fn secs(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match get(name) {
        None => Ok(Duration::from_secs(default)),
        Some(value) => match value.parse::<u64>() {
            Ok(n @ 1..) => Ok(Duration::from_secs(n)),
            _ => Err(ConfigError { name, value, reason: "expected whole seconds, at least 1" }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work() {
        let c = with(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://flagyard.db");
        assert_eq!(c.port, 8080);
        assert_eq!(c.initial_environments, ["development", "staging", "production"]);
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert_eq!(c.session_ttl, Duration::from_secs(12 * 3600));
        assert!(!c.cookie_secure && c.admin_password.is_none());
    }

    #[test]
    fn account_settings_are_checked() {
        let c = with(&[
            ("FLAGYARD_SESSION_TTL_HOURS", "2"),
            ("FLAGYARD_COOKIE_SECURE", "true"),
            ("FLAGYARD_ADMIN_PASSWORD", "correct horse"),
        ])
        .unwrap();
        assert_eq!(c.session_ttl, Duration::from_secs(7200));
        assert!(c.cookie_secure);
        assert_eq!(c.admin_password.as_deref(), Some("correct horse"));
        assert!(with(&[("FLAGYARD_SESSION_TTL_HOURS", "0")]).is_err());
        assert!(with(&[("FLAGYARD_COOKIE_SECURE", "yes")]).is_err());
        let short = with(&[("FLAGYARD_ADMIN_PASSWORD", "short")]).unwrap_err();
        assert!(!short.to_string().contains("short"), "the password is not echoed: {short}");
    }

    #[test]
    fn connection_settings_and_trusted_proxies() {
        let c = with(&[]).unwrap();
        assert!(c.create_database && c.trusted_proxies.is_empty());
        assert_eq!(
            (c.header_timeout, c.write_timeout, c.max_connections),
            (Duration::from_secs(20), Duration::from_secs(30), 10_000)
        );
        let c = with(&[("FLAGYARD_TRUSTED_PROXIES", "10.0.0.0/8, ::1, 192.0.2.7/32")]).unwrap();
        let inside = |ip: &str| c.trusted_proxies.iter().any(|p| p.contains(ip.parse().unwrap()));
        assert!(inside("10.200.1.1") && inside("::1") && inside("192.0.2.7") && inside("::ffff:10.1.2.3"));
        assert!(!inside("11.0.0.1") && !inside("192.0.2.8") && !inside("::2"));
        assert!(with(&[("FLAGYARD_TRUSTED_PROXIES", "10.0.0.0/33")]).is_err());
        assert!(with(&[("FLAGYARD_TRUSTED_PROXIES", "proxy.local")]).is_err());
        assert!(with(&[("FLAGYARD_HEADER_TIMEOUT_SECS", "0")]).is_err());
        assert!(with(&[("FLAGYARD_MAX_CONNECTIONS", "0")]).is_err());
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = with(&[("PORT", "eighty")]).unwrap_err();
        assert_eq!(e.name, "PORT");
        assert!(with(&[("FLAGYARD_LOG_FORMAT", "xml")]).is_err());
        assert!(with(&[("FLAGYARD_ENVIRONMENTS", "prod,bad env")]).is_err());
        assert_eq!(
            with(&[("PORT", "0"), ("FLAGYARD_ENVIRONMENTS", " a, b ,")]).unwrap().initial_environments,
            ["a", "b"]
        );
    }
}
