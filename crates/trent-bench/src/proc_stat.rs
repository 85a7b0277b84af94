//! CPU time of a process from `/proc/<pid>/stat` (Linux), with std only.

/// Clock ticks per second in `/proc/*/stat`. This is the kernel's USER_HZ, fixed at 100 in the Linux ABI on
/// every architecture Trent builds for (it is not CONFIG_HZ), so std needs no `sysconf` call.
const USER_HZ: f64 = 100.0;

/// User + system CPU seconds used so far by `pid` (this process if `None`), all threads included.
/// `None` where /proc is missing or unreadable.
pub(crate) fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    parse_cpu_seconds(&std::fs::read_to_string(path).ok()?)
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses; everything after the last ')' is fixed.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_after_the_command_name() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_cpu_seconds(line), Some(3.0));
        assert!(cpu_seconds(None).is_some_and(|s| s >= 0.0));
    }
}
