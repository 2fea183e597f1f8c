//! `trainer flows`: the JSON lines it prints, its exit codes and messages.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .expect("trainer runs")
}

fn flows_json(paths: &[&Path]) -> Output {
    let mut args = vec!["flows".to_string(), "--json".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    trainer(&args)
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The flows of dlms.pcap, as tshark sees them (`tshark -r tests/data/dlms.pcap
/// -q -z conv,tcp -z conv,udp`: 18 frames / 3462 bytes and 9 frames / 785
/// bytes; first and last `frame.time_epoch` of each).
#[test]
fn json_lines_have_the_documented_shape_and_values() {
    let path = data("dlms.pcap");
    let out = flows_json(&[&path]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let v = lines(&out);
    assert_eq!(v.len(), 3);
    let flow_keys = [
        "bytes", "dport", "dst", "file", "first_ts", "last_ts", "packets", "proto", "sport", "src",
    ];
    for f in &v[..2] {
        assert_eq!(keys(f), flow_keys);
        assert_eq!(f["file"], path.display().to_string());
    }
    let tcp = &v[0];
    assert_eq!(
        (
            &tcp["proto"],
            &tcp["src"],
            &tcp["sport"],
            &tcp["dst"],
            &tcp["dport"]
        ),
        (
            &Value::from("tcp"),
            &Value::from("192.168.137.20"),
            &Value::from(60797),
            &Value::from("192.168.137.189"),
            &Value::from(4060)
        )
    );
    assert_eq!(
        (&tcp["packets"], &tcp["bytes"]),
        (&Value::from(18), &Value::from(3462))
    );
    let ts = |v: &Value| v.as_f64().expect("a number");
    assert!((ts(&tcp["first_ts"]) - 1_520_780_595.035_623).abs() < 1e-6);
    assert!((ts(&tcp["last_ts"]) - 1_520_780_595.062_256).abs() < 1e-6);
    let udp = &v[1];
    assert_eq!(udp["proto"], "udp");
    assert_eq!(
        (&udp["src"], &udp["sport"]),
        (&Value::from("10.1.1.1"), &Value::from(0))
    );
    assert_eq!(
        (&udp["dst"], &udp["dport"]),
        (&Value::from("10.2.2.2"), &Value::from(4059))
    );
    assert_eq!(
        (&udp["packets"], &udp["bytes"]),
        (&Value::from(9), &Value::from(785))
    );

    let summary = &v[2];
    assert_eq!(keys(summary), ["summary"]);
    assert_eq!(keys(&summary["summary"]), ["flows", "packets", "skipped"]);
    assert_eq!(summary["summary"]["packets"], 27);
    assert_eq!(summary["summary"]["flows"], 2);
    assert_eq!(summary["summary"]["skipped"], serde_json::json!({}));
}

/// Several files: each flow names its file, one summary adds them up, the
/// skipped packets by reason (ARP in tcp_scan.pcapng, SLARP and CDP in the
/// Cisco HDLC capture, non-first fragments in dns_fragmented.pcap).
#[test]
fn several_files_one_summary() {
    let (a, b, c) = (
        data("tcp_scan.pcapng"),
        data("HDLC.pcap"),
        data("dns_fragmented.pcap"),
    );
    let out = flows_json(&[&a, &b, &c]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = lines(&out);
    let (flows, summary) = v.split_at(v.len() - 1);
    assert_eq!(flows.len(), 7 + 1 + 21);
    assert!(flows[..7]
        .iter()
        .all(|f| f["file"] == a.display().to_string()));
    assert_eq!(flows[7]["file"], b.display().to_string());
    assert_eq!(flows[7]["proto"], "icmp");
    assert!(flows[8..]
        .iter()
        .all(|f| f["file"] == c.display().to_string()));
    assert_eq!(
        summary[0],
        serde_json::json!({"summary": {"packets": 30 + 38 + 66, "flows": 29,
            "skipped": {"not IP": 12 + 28, "IP fragment (not first)": 7}}})
    );
}

/// A corrupt capture: exit code 2, a message naming the file and the
/// fault on stderr, no panic; the good file before it is still printed.
#[test]
fn corrupt_file_exits_2_with_a_message() {
    let good = data("mongodb.pcap");
    let bad = data("fuzz-2021-10-13.pcap");
    let out = flows_json(&[&good, &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(&format!("error: {}", bad.display())) && err.contains("524501 captured bytes"),
        "{err}"
    );
    let v = lines(&out);
    assert_eq!(v.len(), 5 + 1);
    assert_eq!(v[5]["summary"]["packets"], 27);
}

/// A capture cut in the middle of a record: the flows read before the cut
/// are printed, then the error.
#[test]
fn truncated_file_keeps_the_flows_before_the_fault() {
    let bytes = std::fs::read(data("tcp_scan.pcapng")).expect("fixture");
    // Records of tcp_scan.pcapng (a legacy pcap): 24-byte header, then
    // 16-byte record headers; cut inside the 20th packet record.
    let mut pos = 24;
    for _ in 0..19 {
        let caplen = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().expect("4 bytes"));
        pos += 16 + caplen as usize;
    }
    let cut = pos + 20;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tcp_scan_cut.pcap");
    std::fs::write(&path, &bytes[..cut]).expect("temp file");
    let out = flows_json(&[&path]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("the capture ends in the middle of a record: 20 bytes of a")
            && err.contains(&format!("record at byte {pos}")),
        "{err}"
    );
    let v = lines(&out);
    let summary = &v[v.len() - 1]["summary"];
    assert_eq!(summary["packets"], 19);
    // Packets 1-19 of the capture (`tshark -r tests/data/tcp_scan.pcapng -c 19`):
    // 7 ARP and the first four TCP connections (12 packets).
    assert_eq!(v.len() - 1, 4);
    let in_flows: u64 = v[..v.len() - 1]
        .iter()
        .map(|f| f["packets"].as_u64().expect("packets"))
        .sum();
    let skipped = summary["skipped"]["not IP"].as_u64().expect("not IP");
    assert_eq!(in_flows + skipped, 19);
}

#[test]
fn missing_file_exits_2_with_a_message() {
    let path = data("no-such-capture.pcap");
    let out = flows_json(&[&path]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("cannot open") && err.contains("no-such-capture.pcap"),
        "{err}"
    );
}

/// Not a capture at all.
#[test]
fn not_a_capture_exits_2() {
    let out = flows_json(&[&data("SOURCES.md")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("not a pcap or pcapng capture"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
