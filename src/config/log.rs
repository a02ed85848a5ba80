//! Settings of the logs, which always go to standard error.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

use super::{ConfigError, Environment};

const FILTER_VARIABLE: &str = "PDF_SEAL_LOG";
const FORMAT_VARIABLE: &str = "PDF_SEAL_LOG_FORMAT";

/// How log events are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "text" => Ok(Self::Text),
            _ => Err(format!("expected json or text, found {text:?}")),
        }
    }
}

/// Settings of the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// `PDF_SEAL_LOG`: which events to keep, as a `tracing` env-filter (`info`,
    /// `pdf_seal=debug,actix_web=warn`, ...). Defaults to `info`.
    pub filter: String,
    /// `PDF_SEAL_LOG_FORMAT`: `json` or `text`; by default `text` on a terminal, else `json`.
    pub format: LogFormat,
}

impl LogSettings {
    /// Reads the settings; `stderr_is_terminal` picks the default format.
    pub fn resolve(env: &Environment, stderr_is_terminal: bool) -> Result<Self, ConfigError> {
        let filter = env
            .get_non_empty(FILTER_VARIABLE)?
            .unwrap_or_else(|| "info".to_owned());
        if let Err(error) = EnvFilter::builder().parse(&filter) {
            return Err(ConfigError::new(
                FILTER_VARIABLE,
                format!("not a valid filter ({error}); try info, debug or pdf_seal=debug"),
            ));
        }

        let format = match env.get_non_empty(FORMAT_VARIABLE)? {
            Some(text) => text
                .parse()
                .map_err(|reason| ConfigError::new(FORMAT_VARIABLE, reason))?,
            None if stderr_is_terminal => LogFormat::Text,
            None => LogFormat::Json,
        };
        Ok(Self { filter, format })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_info_and_json_when_not_on_a_terminal() {
        let settings = LogSettings::resolve(&Environment::default(), false).unwrap();

        assert_eq!(settings.filter, "info");
        assert_eq!(settings.format, LogFormat::Json);
    }

    #[test]
    fn defaults_to_text_on_a_terminal() {
        let settings = LogSettings::resolve(&Environment::default(), true).unwrap();

        assert_eq!(settings.format, LogFormat::Text);
    }

    #[test]
    fn an_explicit_format_wins_over_the_terminal_default() {
        let env = Environment::from_pairs([(FORMAT_VARIABLE, "json")]);

        assert_eq!(
            LogSettings::resolve(&env, true).unwrap().format,
            LogFormat::Json
        );
    }

    #[test]
    fn refuses_an_unknown_format_naming_the_variable() {
        let env = Environment::from_pairs([(FORMAT_VARIABLE, "xml")]);

        let error = LogSettings::resolve(&env, false).unwrap_err();

        assert_eq!(error.variable, FORMAT_VARIABLE);
    }

    #[test]
    fn refuses_a_filter_that_does_not_parse_naming_the_variable() {
        let env = Environment::from_pairs([(FILTER_VARIABLE, "pdf_seal=loud")]);

        let error = LogSettings::resolve(&env, false).unwrap_err();

        assert_eq!(error.variable, FILTER_VARIABLE);
    }
}
