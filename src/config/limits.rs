//! Limits of a seal request: how large its body may be, how long reading it may take, and how
//! many seals may hold a document in memory at once.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::{ConfigError, Environment};

/// The default of [`SealLimits::max_body_bytes`]: 50 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 50 * 1024 * 1024;

/// The largest accepted value of `PDF_SEAL_MAX_BODY_BYTES`: 1 GiB. A direct seal holds the
/// whole document in memory, so larger documents belong to blob mode.
pub const MAX_MAX_BODY_BYTES: u64 = 1024 * 1024 * 1024;

/// The default of [`SealLimits::body_idle_timeout`], in seconds.
pub const DEFAULT_BODY_IDLE_TIMEOUT_SECS: u64 = 30;

/// The default of [`SealLimits::body_timeout`], in seconds: below the 120 seconds that Power
/// Automate waits for an answer, so that a slow upload gets our 408 rather than its timeout.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 110;

/// The longest accepted body timeout, idle or total, in seconds: one hour.
pub const MAX_BODY_TIMEOUT_SECS: u64 = 3600;

/// The largest accepted value of `PDF_SEAL_MAX_CONCURRENT_SEALS`.
pub const MAX_MAX_CONCURRENT_SEALS: u64 = 4096;

const MAX_BODY_VARIABLE: &str = "PDF_SEAL_MAX_BODY_BYTES";
const IDLE_TIMEOUT_VARIABLE: &str = "PDF_SEAL_BODY_IDLE_TIMEOUT_SECS";
const BODY_TIMEOUT_VARIABLE: &str = "PDF_SEAL_BODY_TIMEOUT_SECS";
const CONCURRENT_VARIABLE: &str = "PDF_SEAL_MAX_CONCURRENT_SEALS";

/// What one seal request may take. The environment gives whole seconds; tests may set any
/// duration here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealLimits {
    /// `PDF_SEAL_MAX_BODY_BYTES`: the largest PDF a direct seal accepts, in bytes.
    pub max_body_bytes: u64,
    /// `PDF_SEAL_BODY_IDLE_TIMEOUT_SECS`: the longest wait for the next part of a request body;
    /// a body that stalls longer is answered 408.
    pub body_idle_timeout: Duration,
    /// `PDF_SEAL_BODY_TIMEOUT_SECS`: the longest time for a whole request body, counted from
    /// when its reading starts; a body that trickles longer is answered 408.
    pub body_timeout: Duration,
    /// `PDF_SEAL_MAX_CONCURRENT_SEALS`: how many seal requests may read a body or seal at once;
    /// one more is answered 503 at once. It bounds the documents held in memory to about this
    /// many times `max_body_bytes`.
    pub max_concurrent_seals: usize,
}

impl Default for SealLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_idle_timeout: Duration::from_secs(DEFAULT_BODY_IDLE_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            max_concurrent_seals: default_max_concurrent_seals(),
        }
    }
}

impl SealLimits {
    /// Reads the limits from the environment; an unset variable takes its default.
    pub fn resolve(env: &Environment) -> Result<Self, ConfigError> {
        let seconds = 1..=MAX_BODY_TIMEOUT_SECS;
        let max_body_bytes = read_number(env, MAX_BODY_VARIABLE, 1..=MAX_MAX_BODY_BYTES, "bytes")?
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        let total_secs = read_number(env, BODY_TIMEOUT_VARIABLE, seconds.clone(), "seconds")?
            .unwrap_or(DEFAULT_BODY_TIMEOUT_SECS);
        let idle_secs = match read_number(env, IDLE_TIMEOUT_VARIABLE, seconds, "seconds")? {
            Some(idle) if idle > total_secs => {
                let reason = format!(
                    "{idle} is longer than {BODY_TIMEOUT_VARIABLE} ({total_secs}), so it would \
                     never apply"
                );
                return Err(ConfigError::new(IDLE_TIMEOUT_VARIABLE, reason));
            }
            Some(idle) => idle,
            None => DEFAULT_BODY_IDLE_TIMEOUT_SECS.min(total_secs),
        };
        let seals = read_number(
            env,
            CONCURRENT_VARIABLE,
            1..=MAX_MAX_CONCURRENT_SEALS,
            "seals",
        )?;
        // At most MAX_MAX_CONCURRENT_SEALS, which fits any usize.
        let max_concurrent_seals = seals.map_or_else(default_max_concurrent_seals, |n| n as usize);

        Ok(Self {
            max_body_bytes,
            body_idle_timeout: Duration::from_secs(idle_secs),
            body_timeout: Duration::from_secs(total_secs),
            max_concurrent_seals,
        })
    }
}

/// Four seals per CPU that the process may use: sealing is mostly hashing, so a few per CPU
/// keep it busy while others wait on their upload or the signer.
fn default_max_concurrent_seals() -> usize {
    4 * std::thread::available_parallelism().map_or(1, usize::from)
}

/// Reads `variable` as a whole number of `unit` within `range`, or `None` when it is not set.
/// An empty value is an error rather than the default, so that a slip in a deployment shows.
pub(crate) fn read_number(
    env: &Environment,
    variable: &str,
    range: RangeInclusive<u64>,
    unit: &str,
) -> Result<Option<u64>, ConfigError> {
    let Some(text) = env.get(variable)? else {
        return Ok(None);
    };
    let invalid = || {
        let (low, high) = (range.start(), range.end());
        let reason = format!("expected a number of {unit} from {low} to {high}, found {text:?}");
        ConfigError::new(variable, reason)
    };

    let number: u64 = text.trim().parse().map_err(|_| invalid())?;
    if !range.contains(&number) {
        return Err(invalid());
    }
    Ok(Some(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn defaults_to_50_mib_30_and_110_seconds_and_four_seals_per_cpu() {
        let limits = SealLimits::resolve(&env(&[])).unwrap();

        assert_eq!(limits.max_body_bytes, 52_428_800);
        assert_eq!(limits.body_idle_timeout, Duration::from_secs(30));
        assert_eq!(limits.body_timeout, Duration::from_secs(110));
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(limits.max_concurrent_seals, 4 * cpus);
    }

    #[test]
    fn reads_every_limit_from_the_environment() {
        let limits = SealLimits::resolve(&env(&[
            (MAX_BODY_VARIABLE, "1024"),
            (IDLE_TIMEOUT_VARIABLE, "5"),
            (BODY_TIMEOUT_VARIABLE, " 60 "),
            (CONCURRENT_VARIABLE, "1"),
        ]))
        .unwrap();

        assert_eq!(limits.max_body_bytes, 1024);
        assert_eq!(limits.body_idle_timeout, Duration::from_secs(5));
        assert_eq!(limits.body_timeout, Duration::from_secs(60));
        assert_eq!(limits.max_concurrent_seals, 1);
    }

    #[test]
    fn refuses_a_body_limit_of_zero_words_or_too_many_bytes() {
        for bad in ["0", "fifty", "", "1073741825"] {
            let error = SealLimits::resolve(&env(&[(MAX_BODY_VARIABLE, bad)]));

            assert_eq!(error.unwrap_err().variable, MAX_BODY_VARIABLE, "{bad:?}");
        }
    }

    #[test]
    fn refuses_timeouts_and_seal_counts_out_of_range_naming_the_variable() {
        let cases = [
            (IDLE_TIMEOUT_VARIABLE, "0"),
            (IDLE_TIMEOUT_VARIABLE, "1.5"),
            (BODY_TIMEOUT_VARIABLE, "3601"),
            (BODY_TIMEOUT_VARIABLE, "-1"),
            (CONCURRENT_VARIABLE, "0"),
            (CONCURRENT_VARIABLE, "4097"),
            (CONCURRENT_VARIABLE, ""),
            (BODY_TIMEOUT_VARIABLE, ""),
        ];

        for (variable, bad) in cases {
            let error = SealLimits::resolve(&env(&[(variable, bad)])).unwrap_err();

            assert_eq!(error.variable, variable, "{bad:?}");
            assert!(error.reason.contains("from 1 to"), "{error}");
        }
    }

    #[test]
    fn the_default_idle_timeout_shrinks_to_a_shorter_body_timeout() {
        let limits = SealLimits::resolve(&env(&[(BODY_TIMEOUT_VARIABLE, "20")])).unwrap();

        assert_eq!(limits.body_idle_timeout, Duration::from_secs(20));
    }

    #[test]
    fn refuses_an_idle_timeout_longer_than_the_whole_body_timeout() {
        let error = SealLimits::resolve(&env(&[
            (IDLE_TIMEOUT_VARIABLE, "90"),
            (BODY_TIMEOUT_VARIABLE, "60"),
        ]))
        .unwrap_err();

        assert_eq!(error.variable, IDLE_TIMEOUT_VARIABLE);
        assert!(error.reason.contains(BODY_TIMEOUT_VARIABLE), "{error}");
    }
}
