//! The harness's text output: one line per mode (its median run), then the ratios.

use rivven_connect_benches::workloads::{Measured, Mode};

pub(crate) fn render(workload: &str, medians: &[Measured], runs: &[Vec<Measured>]) -> String {
    let mut s = String::new();
    for (m, all) in medians.iter().zip(runs) {
        let (lo, hi) = all.iter().fold((f64::MAX, 0f64), |(lo, hi), r| {
            (lo.min(r.process_seconds), hi.max(r.process_seconds))
        });
        let spread = if all.len() > 1 {
            format!("  [{} runs {lo:.3}–{hi:.3}s]", all.len())
        } else {
            String::new()
        };
        s.push_str(&format!(
            "{workload:<4} {:<11} {:>9} in {:>9} out {:>8.3}s ({:.3}s job) {:>10.0} ev/s {:>6.1} MB/s  CPU {:>7.3}s {:>6.2} µs/ev  peak RSS {:>6.1} MiB{spread}{}\n",
            m.mode.name(),
            m.events_in,
            m.events_out,
            m.process_seconds,
            m.seconds,
            m.events_per_sec(),
            m.mb_per_sec(),
            m.cpu_seconds,
            m.cpu_us_per_event(),
            m.peak_rss as f64 / 1048576.0,
            if m.extra.is_null() { String::new() } else { format!("  {}", m.extra) }
        ));
    }
    let find = |mode: Mode| medians.iter().find(|m| m.mode == mode);
    if let (Some(baseline), Some(runtime)) = (find(Mode::Loop), find(Mode::Runtime)) {
        s.push_str(&format!(
            "{workload:<4} ratio runtime / loop = {:.2}× (medians)\n",
            runtime.events_per_sec() / baseline.events_per_sec().max(1e-9),
        ));
    }
    if let Some(plain) = find(Mode::Plain) {
        // Whole processes, as the issue measured them: speed = plain wall /
        // mode wall (> 1 is faster than the plain loop); CPU per event =
        // mode / plain (< 1 is cheaper).
        for m in medians.iter().filter(|m| m.mode != Mode::Plain) {
            s.push_str(&format!(
                "{workload:<4} {:<11} / plain: speed {:.2}×, CPU per event {:.2}×\n",
                m.mode.name(),
                plain.process_seconds / m.process_seconds.max(1e-9),
                m.cpu_us_per_event() / plain.cpu_us_per_event().max(1e-9),
            ));
        }
    }
    s
}
