//! Unit tests of the shell reader.

use super::*;

fn programs(s: &str) -> Vec<String> {
    parse(s).unwrap().commands.iter().filter_map(|c| c.words.first().cloned()).collect()
}

#[test]
fn compound_lines_are_one_script() {
    assert_eq!(
        programs("export RUN_DIR=a && mkdir -p \"$RUN_DIR\" && KMP=1 python x.py --out \"$RUN_DIR/x.log\""),
        ["export", "mkdir", "python"]
    );
    assert_eq!(
        programs("(/usr/bin/time -v timeout 3600 env A=1 pytest -vv tests/) 2>r/time.txt | tee r/log"),
        ["/usr/bin/time", "tee"]
    );
    assert_eq!(
        programs("STAMP=$(date -u +%Y%m%dT%H%M%SZ); mkdir -p r/$STAMP && timeout 1200 env pytest x"),
        ["mkdir", "timeout"]
    );
    let s = parse("STAMP=$(date -u +%Y)").unwrap();
    assert_eq!((s.commands.len(), s.commands[0].words.len()), (1, 0));
    assert_eq!(programs("ts=$(date); a |& tee \"$ts.log\""), ["a", "tee"]);
    assert_eq!(programs("for f in a b; do echo $f; done"), ["echo"]);
    assert_eq!(programs("python - <<'PY'\nprint(1)\nPY\n"), ["python"]);
}

#[test]
fn what_a_shell_refuses() {
    for bad in [
        "python - <<'PY'",
        "STAMP=\\$(date -u +%Y%m%dT%H%M%SZ) python x",
        "a &&",
        "&& b",
        "echo 'open",
        "echo \"open",
        "(a",
        "a)",
        "echo > ",
        "if true; then echo",
        "x $(echo 'y)",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn expansions_are_found_where_the_shell_expands() {
    let s = parse("echo $STAMP '$STAMP' \"${STAMP}/x\" \\$STAMP $STAMP_DIR").unwrap();
    let names: Vec<&str> = s.expansions.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["STAMP", "STAMP", "STAMP_DIR"]);
    assert_eq!(s.expansions[1].0, 22..30);
}
