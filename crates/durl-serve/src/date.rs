//! Dates for listings and the access log: UTC calendar time from Unix seconds (Howard
//! Hinnant's `civil_from_days`), RFC 3339, the Common Log Format's form, a short display
//! form, and the relative age ("5 minutes ago") a reader takes in at a glance.

/// Year, month (1–12), day, hour, minute, second of `secs` since the Unix epoch, in UTC.
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil_from_days: eras of 400 years (146,097 days) starting on 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "bounded above"
    )]
    (
        year,
        month as u32,
        day as u32,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    )
}

/// RFC 3339 in UTC, whole seconds: `2026-12-02T06:47:11Z`.
pub(crate) fn rfc3339(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// The Common Log Format's `[10/Oct/2000:13:55:36 +0000]` form (without the brackets).
pub(crate) fn clf(secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s) = civil(secs);
    let month = MONTHS[(mo as usize).saturating_sub(1) % 12];
    format!("{d:02}/{month}/{y:04}:{h:02}:{mi:02}:{s:02} +0000")
}

/// The listing's column: `2026-12-02 06:47` (UTC).
pub(crate) fn display(secs: i64) -> String {
    let (y, mo, d, h, mi, _) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

/// How long before `now` `secs` was, in the largest whole unit: "just now", "1 minute ago",
/// "3 days ago"; a time ahead of `now` (clock skew, a file touched into the future) is "in
/// the future".
pub(crate) fn relative(secs: i64, now: i64) -> String {
    const UNITS: [(i64, &str); 6] = [
        (365 * 86_400, "year"),
        (30 * 86_400, "month"),
        (7 * 86_400, "week"),
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ];
    let age = now - secs;
    if age < -60 {
        return "in the future".to_owned();
    }
    for (unit, name) in UNITS {
        let n = age / unit;
        if n >= 1 {
            let s = if n == 1 { "" } else { "s" };
            return format!("{n} {name}{s} ago");
        }
    }
    "just now".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates() {
        #[rustfmt::skip]
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (784_111_777, "1994-11-06T08:49:37Z"),      // RFC 9110's example date
            (951_782_400, "2000-02-29T00:00:00Z"),      // a leap day of a century leap year
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (1_798_761_599, "2026-12-31T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
        ];
        for (secs, want) in cases {
            assert_eq!(rfc3339(*secs), *want, "{secs}");
        }
        assert_eq!(display(784_111_777), "1994-11-06 08:49");
        assert_eq!(clf(971_186_136), "10/Oct/2000:13:55:36 +0000");
    }

    #[test]
    fn relative_ages() {
        let now = 1_000_000_000;
        #[rustfmt::skip]
        let cases: &[(i64, &str)] = &[
            (0, "just now"),
            (59, "just now"),
            (60, "1 minute ago"),
            (150, "2 minutes ago"),
            (3600, "1 hour ago"),
            (86_400 * 2, "2 days ago"),
            (86_400 * 8, "1 week ago"),
            (86_400 * 65, "2 months ago"),
            (86_400 * 800, "2 years ago"),
            (-30, "just now"),                         // a little clock skew
            (-3600, "in the future"),
        ];
        for (age, want) in cases {
            assert_eq!(relative(now - age, now), *want, "{age}");
        }
    }
}
