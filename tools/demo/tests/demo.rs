//! The main job end to end: real processes, real HTTPS, the real punch log.

#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_demo_matches_every_pair_of_the_punch_log() {
    let output = Command::new(env!("CARGO_BIN_EXE_mtime-demo")).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");

    assert!(stdout.lines().any(|l| l == "intervals matched: 330/330"), "{stdout}");
    // 35 employee-weeks; E01's first holds the 19-hour pair the clock shortened, which
    // mtime flags over-long on its own.
    assert!(stdout.lines().any(|l| l == "weeks matched: 34/35"), "{stdout}");
    assert_eq!(stdout.lines().last().unwrap_or_default(), "weeks excused: 1", "{stdout}");
    assert!(stdout.contains("excused week: E01 week of 2025-05-12"), "{stdout}");
    assert!(stdout.contains("1 rotation(s) reported by the kiosk"), "{stdout}");
    assert!(stdout.contains("secrets in logs: none ("), "{stdout}");
    // Kiosk A's Friday morning with its clock at 1970: every such tap dated within it.
    let unset = stdout.lines().find(|l| l.starts_with("clock at 1970:")).unwrap();
    assert!(unset.ends_with("; 0 held now"), "{unset}");
    let taps: usize = unset.split("; ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(taps > 0, "{unset}");
    assert!(unset.contains(&format!("({taps} within that morning)")), "{unset}");
    assert!(stdout.contains("extra intervals: 0"), "{stdout}");
    assert!(stdout.contains("corrected: 2 (2 of 2 with author and note as entered)"), "{stdout}");
    assert!(stdout.contains("API read during the outage showed 0 of them"), "{stdout}");
    let outage = stdout.lines().find(|l| l.starts_with("outage:")).unwrap();
    assert!(!outage.contains(" 0 failed upload attempts"), "{outage}");
}

#[test]
fn an_export_with_a_skipped_local_time_is_refused_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("employees.csv"),
        "employee,badge_uid,department\nE01,04E87577DE9811,D\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("taps.csv"),
        "local_time,employee,badge_uid,direction,source,note\n2025-03-09T02:15,E01,04E87577DE9811,in,tap,\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("expected_pairs.csv"),
        "employee,in_local,out_local,regular_minutes,weekly_overtime_minutes,out_flag\n",
    )
    .unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_mtime-demo"))
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("taps.csv row 1") && stderr.contains("does not exist in America/Chicago"),
        "{stderr}"
    );
}
