//! CPU time and memory of the platform's processes, from `/proc` (Linux only).
//!
//! CPU is `utime + stime` of `/proc/<pid>/stat` (every thread of the process, user and
//! kernel), read at the start and the end of a measurement window and converted from clock
//! ticks to milliseconds. Memory is `VmRSS` of `/proc/<pid>/status`, sampled every tick:
//! the peak is the largest sample in the window (`VmHWM`, the lifetime peak, is reported
//! beside it). The machine's busy share comes from the first line of `/proc/stat`.

use std::{fs, io, process::Command};

use serde::Serialize;

/// A process to watch: a label and its pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// Label in the report (`ingest`, `kafka`...).
    pub name: String,
    /// Its pid.
    pub pid: u32,
}

impl std::str::FromStr for Watched {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, pid) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected name=pid"))?;
        let pid = pid
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: pid is not a number"))?;
        Ok(Self {
            name: name.trim().to_string(),
            pid,
        })
    }
}

/// One reading of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// utime + stime, clock ticks.
    pub cpu_ticks: u64,
    /// Start time since boot, clock ticks: tells a restarted process (same pid) apart.
    pub start_ticks: u64,
    /// Resident set, kB.
    pub rss_kb: u64,
    /// Lifetime peak resident set, kB.
    pub hwm_kb: u64,
}

/// Parses `/proc/<pid>/stat` and `/proc/<pid>/status` contents.
pub fn parse(stat: &str, status: &str) -> Option<Reading> {
    // The command name is in parentheses and may hold spaces or parentheses itself.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Reading {
        cpu_ticks: num(11)? + num(12)?,
        start_ticks: num(19)?,
        rss_kb: kb("VmRSS:").unwrap_or(0),
        hwm_kb: kb("VmHWM:").unwrap_or(0),
    })
}

/// Reads one process now.
pub fn read(pid: u32) -> io::Result<Reading> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse(&stat, &status).ok_or_else(|| io::Error::other(format!("unreadable /proc/{pid}/stat")))
}

/// Busy and total clock ticks of the whole machine (first line of `/proc/stat`).
pub fn parse_machine(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn read_machine() -> Option<(u64, u64)> {
    parse_machine(&fs::read_to_string("/proc/stat").ok()?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know of).
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// What one process used in a window.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    /// Label.
    pub name: String,
    /// Pid.
    pub pid: u32,
    /// CPU time in the window, ms (user + system, all threads).
    pub cpu_ms: f64,
    /// Largest `VmRSS` sampled in the window, MiB.
    pub peak_rss_mib: f64,
    /// `VmHWM` at the end: the process's lifetime peak, MiB.
    pub lifetime_peak_rss_mib: f64,
    /// Why the numbers are incomplete, if they are (`gone`, `restarted`, `unreadable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// CPU and memory over a window, for a fixed set of processes.
#[derive(Debug)]
pub struct Monitor {
    watched: Vec<Watched>,
    start: Vec<Option<Reading>>,
    peak_rss_kb: Vec<u64>,
    machine_start: Option<(u64, u64)>,
    ticks_per_sec: u64,
}

impl Monitor {
    /// Takes the start readings.
    pub fn start(watched: Vec<Watched>) -> Self {
        let start: Vec<Option<Reading>> = watched.iter().map(|w| read(w.pid).ok()).collect();
        let peak_rss_kb = start.iter().map(|r| r.map_or(0, |r| r.rss_kb)).collect();
        Self {
            watched,
            start,
            peak_rss_kb,
            machine_start: read_machine(),
            ticks_per_sec: clock_ticks(),
        }
    }

    /// Samples memory, and returns the CPU used by all watched processes so far (ms).
    pub fn tick(&mut self) -> f64 {
        let mut cpu = 0u64;
        for (i, w) in self.watched.iter().enumerate() {
            if let Ok(r) = read(w.pid) {
                self.peak_rss_kb[i] = self.peak_rss_kb[i].max(r.rss_kb);
                if let Some(s) = self.start[i] {
                    cpu += r.cpu_ticks.saturating_sub(s.cpu_ticks);
                }
            }
        }
        self.ms(cpu)
    }

    fn ms(&self, ticks: u64) -> f64 {
        ticks as f64 * 1000.0 / self.ticks_per_sec as f64
    }

    /// End readings: per process usage, and the machine's busy share in the window (0–1).
    pub fn finish(&mut self) -> (Vec<Usage>, Option<f64>) {
        self.tick();
        let usage = self
            .watched
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let end = read(w.pid).ok();
                let (cpu_ms, hwm, problem) = match (self.start[i], end) {
                    (Some(s), Some(e)) if s.start_ticks == e.start_ticks => (
                        self.ms(e.cpu_ticks.saturating_sub(s.cpu_ticks)),
                        e.hwm_kb,
                        None,
                    ),
                    (Some(_), Some(e)) => (self.ms(e.cpu_ticks), e.hwm_kb, Some("restarted")),
                    (Some(_), None) => (0.0, 0, Some("gone")),
                    (None, _) => (0.0, 0, Some("unreadable")),
                };
                Usage {
                    name: w.name.clone(),
                    pid: w.pid,
                    cpu_ms,
                    peak_rss_mib: self.peak_rss_kb[i] as f64 / 1024.0,
                    lifetime_peak_rss_mib: hwm as f64 / 1024.0,
                    problem: problem.map(str::to_string),
                }
            })
            .collect();
        let busy = match (self.machine_start, read_machine()) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                Some((b1 - b0) as f64 / (t1 - t0) as f64)
            }
            _ => None,
        };
        (usage, busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "6287 (java (x) y) S 1 6286 6286 0 -1 4194560 97351 0 3 0 \
                        1523 377 0 0 20 0 83 0 4455 4573577216 105000 18446744073709551615";
    const STATUS: &str =
        "Name:\tjava\nVmPeak:\t 4466384 kB\nVmHWM:\t  460000 kB\nVmRSS:\t  420000 kB\n";

    #[test]
    fn parses_cpu_start_and_memory() {
        let r = parse(STAT, STATUS).unwrap();
        assert_eq!(r.cpu_ticks, 1523 + 377);
        assert_eq!(r.start_ticks, 4455);
        assert_eq!((r.rss_kb, r.hwm_kb), (420_000, 460_000));
        assert_eq!(parse("garbage", STATUS), None);
    }

    #[test]
    fn reads_itself_and_the_machine() {
        let me = read(std::process::id()).unwrap();
        assert!(me.rss_kb > 0);
        let (busy, total) = parse_machine("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1 2\n").unwrap();
        assert_eq!((busy, total), (15, 100));
        assert!(read_machine().is_some());
        let w: Watched = "kafka=6287".parse().unwrap();
        assert_eq!((w.name.as_str(), w.pid), ("kafka", 6287));
        assert!("kafka".parse::<Watched>().is_err());
        let mut m = Monitor::start(vec![Watched {
            name: "me".into(),
            pid: std::process::id(),
        }]);
        let (u, busy) = m.finish();
        assert_eq!(u[0].problem, None);
        assert!(u[0].peak_rss_mib > 0.0);
        assert!(busy.is_none_or(|b| (0.0..=1.0).contains(&b)));
    }
}
