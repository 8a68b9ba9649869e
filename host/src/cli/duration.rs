//! Durations on the command line: flags read `90s`, `1m30s`, `500ms` (or a
//! bare number of seconds, as before), and printed durations read the same
//! way. Parsing and printing go through `humantime`; this module must not
//! invent a format of its own.

use std::time::Duration;

use clap::builder::TypedValueParser;

/// A clap parser for a positive duration: `humantime` text (`90s`, `1m 30s`,
/// `250ms`) or a bare number of seconds (`1.5`).
pub fn duration_parser() -> impl TypedValueParser<Value = Duration> {
    clap::builder::StringValueParser::new().try_map(|text| parse_duration(&text))
}

/// [`duration_parser`]'s rule, with an error that says what is expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Duration::try_from_secs_f64(secs).ok(),
        Ok(_) => None,
        Err(_) => humantime::parse_duration(text).ok(),
    };
    parsed.filter(|d| !d.is_zero()).ok_or_else(|| {
        format!("`{text}` is not a positive duration: give seconds (`30`) or a duration such as `90s`, `1m30s` or `500ms`")
    })
}

/// A clap parser for a wait: [`duration_parser`]'s durations, or zero
/// (`0`, `0s`: do not wait).
pub fn wait_parser() -> impl TypedValueParser<Value = Duration> {
    clap::builder::StringValueParser::new().try_map(|text| {
        let zero = text.trim().parse::<f64>().is_ok_and(|s| s == 0.0)
            || humantime::parse_duration(text.trim()).is_ok_and(|d| d.is_zero());
        if zero {
            Ok(Duration::ZERO)
        } else {
            parse_duration(&text)
        }
    })
}

/// `d` for people: `1.234s`, `2m 5s`, `15ms` (to the millisecond above a
/// second, to the microsecond below).
pub fn show(d: Duration) -> String {
    let rounded = if d >= Duration::from_secs(1) {
        Duration::from_millis(d.as_millis().try_into().unwrap_or(u64::MAX))
    } else {
        Duration::from_micros(d.as_micros().try_into().unwrap_or(u64::MAX))
    };
    humantime::format_duration(rounded).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_humantime_text_are_read() {
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-1", "0s", "NaN", "inf", "soon", "", "1e400"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("not a positive duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_wait_may_be_zero() {
        let parse = |t: &str| {
            let cmd = clap::Command::new("t").arg(clap::Arg::new("d").value_parser(wait_parser()));
            cmd.try_get_matches_from(["t", t])
                .map(|m| *m.get_one::<Duration>("d").unwrap())
        };
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert!(parse("-1").is_err());
        assert!(parse("soon").is_err());
    }

    #[test]
    fn durations_print_for_people() {
        assert_eq!(show(Duration::from_millis(1234)), "1s 234ms");
        assert_eq!(show(Duration::from_secs(125)), "2m 5s");
        assert_eq!(show(Duration::from_nanos(15_400_321)), "15ms 400us");
        assert_eq!(show(Duration::from_nanos(1_000_000_321)), "1s");
    }
}
