//! The kit a [`group!`](super::group) validates its settings with: [`Raw`] is one raw
//! value with its name, [`Check`] turns it into a typed value or into an error that names
//! the option as the user wrote it (`--workers`, `RSGI_WORKERS`, `workers (in rsgi.toml)`),
//! the value, and what is allowed.

use super::ConfigError;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

/// One setting's raw value (`None`: unset and no default), with the setting's name.
#[derive(Debug)]
pub struct Raw<'a, T> {
    /// The setting's name (its TOML key).
    pub name: &'static str,
    /// Its value, with the declared default applied.
    pub value: Option<&'a T>,
}

impl<T> Clone for Raw<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Raw<'_, T> {}

/// Names where each setting's value came from, for error messages.
pub type Label<'a> = &'a dyn Fn(&str) -> String;

/// Validates raw values into typed ones; its errors name the source of the value.
pub struct Check<'a> {
    label: Label<'a>,
}

impl<'a> Check<'a> {
    /// A checker whose errors name settings with `label` (see [`Label`]).
    pub fn new(label: Label<'a>) -> Check<'a> {
        Check { label }
    }

    /// The setting `name` as the user wrote it (`--timeout`, `RSGI_TIMEOUT`...), for an
    /// error that involves a second setting.
    pub fn name(&self, name: &str) -> String {
        (self.label)(name)
    }

    /// The error for `value` of the setting `name`, saying what is `allowed` instead.
    pub fn invalid(&self, name: &str, value: &dyn Display, allowed: &str) -> ConfigError {
        ConfigError::Invalid {
            option: (self.label)(name),
            value: value.to_string(),
            allowed: allowed.to_owned(),
        }
    }

    /// The error for a raw value, saying what is `allowed` instead.
    pub fn refuse<T: Shown>(&self, raw: Raw<'_, T>, allowed: &str) -> ConfigError {
        let value = raw.value.map(Shown::shown).unwrap_or_default();
        self.invalid(raw.name, &value, allowed)
    }

    /// A whole number within `range` (an unset one is the range's start: every number has
    /// a declared default, so that does not happen).
    pub fn whole(&self, raw: Raw<'_, i64>, range: RangeInclusive<i64>) -> Result<i64, ConfigError> {
        let value = raw.value.copied().unwrap_or(*range.start());
        if range.contains(&value) {
            return Ok(value);
        }
        let (min, max) = (range.start(), range.end());
        let allowed = if *max == i64::MAX {
            format!("a whole number, {min} or more")
        } else {
            format!("a whole number from {min} to {max}")
        };
        Err(self.invalid(raw.name, &value, &allowed))
    }

    /// A whole number within `range`, as the type its consumer counts in (the range keeps
    /// it within that type).
    pub fn number<T: TryFrom<i64>>(
        &self,
        raw: Raw<'_, i64>,
        range: RangeInclusive<i64>,
    ) -> Result<T, ConfigError> {
        let value = self.whole(raw, range)?;
        T::try_from(value).map_err(|_| self.invalid(raw.name, &value, "a smaller number"))
    }

    /// A count where 0 means "no limit" or "off": `None` then.
    pub fn count_or_off(&self, raw: Raw<'_, i64>, max: i64) -> Result<Option<u64>, ConfigError> {
        let value = self.whole(raw, 0..=max)?;
        Ok((value > 0).then_some(value as u64))
    }

    /// Whole seconds.
    pub fn seconds(&self, raw: Raw<'_, i64>) -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(self.whole(raw, 0..=i64::MAX)? as u64))
    }

    /// Whole seconds where 0 means "no limit" or "off": `None` then.
    pub fn seconds_or_off(&self, raw: Raw<'_, i64>) -> Result<Option<Duration>, ConfigError> {
        Ok(Some(self.seconds(raw)?).filter(|d| !d.is_zero()))
    }

    /// A boolean (every boolean setting has a declared default).
    pub fn flag(&self, raw: Raw<'_, bool>) -> bool {
        raw.value.copied().unwrap_or_default()
    }

    /// A directory that exists, if set.
    pub fn existing_dir(&self, raw: Raw<'_, PathBuf>) -> Result<Option<PathBuf>, ConfigError> {
        match raw.value {
            Some(dir) if dir.is_dir() => Ok(Some(dir.clone())),
            Some(_) => Err(self.refuse(raw, "an existing directory")),
            None => Ok(None),
        }
    }

    /// Octal permission bits ("660", "0660" or "0o660"), if set; `example` shows a value.
    pub fn octal_mode(
        &self,
        raw: Raw<'_, String>,
        example: &str,
    ) -> Result<Option<u32>, ConfigError> {
        let Some(text) = raw.value else {
            return Ok(None);
        };
        let digits = text.strip_prefix("0o").unwrap_or(text);
        let mode = (!digits.is_empty() && digits.len() <= 4)
            .then(|| u32::from_str_radix(digits, 8).ok())
            .flatten()
            .filter(|m| *m <= 0o777);
        match mode {
            Some(mode) => Ok(Some(mode)),
            None => Err(self.refuse(
                raw,
                &format!("octal permission bits from 0 to 777, e.g. {example}"),
            )),
        }
    }

    /// A value read by `parse` (`None`: not one of the `allowed` spellings). Unset is
    /// `parse("")`'s answer, which for settings with a default does not happen.
    pub fn choice<T>(
        &self,
        raw: Raw<'_, String>,
        parse: impl FnOnce(&str) -> Option<T>,
        allowed: &str,
    ) -> Result<T, ConfigError> {
        let text = raw.value.map_or("", String::as_str);
        parse(text).ok_or_else(|| self.invalid(raw.name, &text, allowed))
    }

    /// Each entry of a list read by `parse`, whose error says what is allowed; an unset list
    /// is empty.
    pub fn each<T>(
        &self,
        raw: Raw<'_, Vec<String>>,
        mut parse: impl FnMut(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, ConfigError> {
        raw.value
            .into_iter()
            .flatten()
            .map(|entry| parse(entry).map_err(|why| self.invalid(raw.name, entry, &why)))
            .collect()
    }
}

/// How a raw value is shown in an error message.
pub trait Shown {
    /// The value as the user wrote it, near enough.
    fn shown(&self) -> String;
}

impl Shown for String {
    fn shown(&self) -> String {
        self.clone()
    }
}

impl Shown for PathBuf {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

impl Shown for Vec<String> {
    fn shown(&self) -> String {
        self.join(",")
    }
}

impl Shown for i64 {
    fn shown(&self) -> String {
        self.to_string()
    }
}
