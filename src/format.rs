//! How numbers are written on the page.

/// `1234567` as `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte size with a binary unit: `512 B`, `1.5 KiB`, `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// A duration in nanoseconds, to three significant-ish figures:
/// `0 s`, `850 µs`, `12.5 ms`, `3.20 s`, `4 min 05 s`.
pub fn duration_ns(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if ns == 0 {
        "0 s".to_string()
    } else if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.0} µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else if s < 60.0 {
        format!("{s:.2} s")
    } else {
        let total = s as u64;
        format!("{} min {:02} s", total / 60, total % 60)
    }
}

/// Share of `done` in `total`, in whole percent (0 when `total` is 0).
pub fn percent(done: u64, total: u64) -> u64 {
    if total == 0 {
        0
    } else {
        (done.min(total) as u128 * 100 / total as u128) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 << 20), "5.0 MiB");
        assert_eq!(duration_ns(0), "0 s");
        assert_eq!(duration_ns(850_000), "850 µs");
        assert_eq!(duration_ns(12_500_000), "12.5 ms");
        assert_eq!(duration_ns(3_200_000_000), "3.20 s");
        assert_eq!(duration_ns(245_000_000_000), "4 min 05 s");
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 0);
    }
}
