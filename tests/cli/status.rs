use crate::common::*;
use regex::Regex;

fn count(re: &str, text: &str) -> usize {
    Regex::new(re).unwrap().find_iter(text).count()
}

#[test]
fn status_reports_the_real_workspace() {
    let root = nanobragg("workspace");
    let o = run(&root, &["status", "--root", root.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("Focus item [VECTOR-TRICUBIC-002]"), "{s}");
    assert!(s.contains("attempts  2 (last: Attempt #2 2025-10-09 success"), "{s}");
    assert!(s.contains("plan      plans/active/vectorization.md"), "{s}");

    let j = json(&run(&root, &["status", "--json", "--root", root.to_str().unwrap()]));
    let item = j["ledger"]["items"].as_array().unwrap().iter().find(|i| i["id"] == "VECTOR-TRICUBIC-002").unwrap();
    assert_eq!(item["attempts"].as_array().unwrap().len(), 2);
    let plan = j["plans"].as_array().unwrap().iter().find(|p| p["path"] == "plans/active/vectorization.md").unwrap();
    let ids: Vec<&str> = plan["phases"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A", "B", "C", "D", "E"]);
    for p in &plan["phases"].as_array().unwrap()[..2] {
        assert!(p["tasks"].as_array().unwrap().iter().all(|t| t["state"] == "done"));
    }
    let c1 = &plan["phases"][2]["tasks"][0];
    assert_eq!((c1["id"].as_str(), c1["state"].as_str()), (Some("C1"), Some("todo")));
    assert_eq!(plan["initiative"], "VECTOR-TRICUBIC-002");
    assert!(j["protected"].as_array().unwrap().iter().any(|p| p == "input.md"));
}

/// Counts taken with plain regexes over the files agree with the parser on every fixture.
#[test]
fn json_lists_every_heading_attempt_phase_and_task() {
    let heading = Regex::new(r"(?m)^#{2,3} \[[A-Za-z0-9][^\]]*\]").unwrap();
    for name in ["workspace", "after-attempt", "large"] {
        let root = nanobragg(name);
        let o = run(&root, &["status", "--json", "--root", root.to_str().unwrap()]);
        let j = json(&o);
        let ledger = std::fs::read_to_string(root.join("docs/fix_plan.md")).unwrap();
        let items = j["ledger"]["items"].as_array().unwrap();
        let heading_lines: Vec<usize> =
            heading.find_iter(&ledger).map(|m| 1 + ledger[..m.start()].matches('\n').count()).collect();
        for line in &heading_lines {
            assert!(items.iter().any(|i| i["line"] == *line), "{name}: heading at line {line} missing");
        }
        let dated =
            items.iter().flat_map(|i| i["attempts"].as_array().unwrap()).filter(|a| a["date"].is_string()).count();
        assert_eq!(
            dated,
            count(r"(?m)^\s*[*-] \[\d{4}-\d{2}-\d{2}[^\]]*\] Attempt #\d+", &ledger),
            "{name}: dated attempts"
        );
        let (mut phases, mut tasks) = (0, 0);
        let plans = j["plans"].as_array().unwrap();
        for p in plans {
            let text = std::fs::read_to_string(root.join(p["path"].as_str().unwrap())).unwrap();
            let got = p["phases"].as_array().unwrap();
            phases += got.len();
            tasks += got.iter().map(|ph| ph["tasks"].as_array().unwrap().len()).sum::<usize>();
            assert_eq!(got.len(), count(r"(?m)^#{2,4} Phase [A-Za-z0-9.]+ (—|-) ", &text), "{}", p["path"]);
        }
        let mut want_tasks = 0;
        for p in plans {
            let text = std::fs::read_to_string(root.join(p["path"].as_str().unwrap())).unwrap();
            // Task rows: a table row whose third cell starts with a state marker.
            want_tasks += count(r"(?m)^\| *[^|]+\|[^|]*\| *\[[^\]]{0,3}\][^|]*\|", &text);
        }
        assert_eq!(tasks, want_tasks, "{name}: tasks");
        if name == "workspace" {
            assert_eq!(plans.len(), 16);
            assert!(phases > 50);
        }
    }
}

#[test]
fn model_is_lossless_on_every_fixture_file() {
    let mut files = Vec::new();
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p)
            }
        }
    }
    walk(&nanobragg(""), &mut files);
    assert!(files.len() > 20);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let doc = ledger_loop::markdown::Document::parse("f", text.clone());
        let joined: String = doc.spans().iter().map(|(_, r)| &text[r.clone()]).collect();
        assert_eq!(joined, text, "{}", f.display());
    }
}

#[test]
fn duplicated_ids_are_kept_and_reported() {
    let root = nanobragg("large");
    let j = json(&run(&root, &["status", "--json", "--root", root.to_str().unwrap()]));
    let dups = j["ledger"]["items"].as_array().unwrap().iter().filter(|i| i["id"] == "STAGEA-PARAM-001").count();
    assert_eq!(dups, 2);
    assert!(j["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["line"] == 980 && d["message"].as_str().unwrap().contains("STAGEA-PARAM-001")));
}

#[test]
fn embedded_workspace_status_works() {
    let o = run(&repo_root(), &["status", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = json(&o);
    assert!(j["ledger"]["items"].as_array().unwrap().iter().any(|i| i["id"] == "LOOP-SIM-001"));
    assert!(j["protected"].as_array().unwrap().iter().any(|p| p == "README.md"));
    assert!(!j["protected"].as_array().unwrap().iter().any(|p| p == "docs/fix_plan.md"));
}

fn minimal(dir: &std::path::Path) {
    write(dir, "docs/fix_plan.md", "# Ledger\n\n## [A-1] Thing\n- Status: open\n");
}

#[test]
fn bad_input_is_exit_2_with_file_and_line() {
    // Missing ledger.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "loop.yaml", "plans: plans/*.md\n");
    let o = run(d.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("docs/fix_plan.md: ledger not found"), "{}", stderr(&o));

    // Non-UTF-8 ledger.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", "");
    std::fs::write(d.path().join("docs/fix_plan.md"), b"# L\n\n## [A-1] \xff\n").unwrap();
    let o = run(d.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("docs/fix_plan.md:3: not valid UTF-8"), "{}", stderr(&o));

    // Unterminated table in a plan.
    let d = tempfile::tempdir().unwrap();
    minimal(d.path());
    write(
        d.path(),
        "plans/active/p.md",
        "### Phase A — x\n\n| ID | Task Description | State | How |\n| A1 | t | [ ] | g |\n",
    );
    let o = run(d.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("plans/active/p.md:3: error: unterminated table"), "{}", stdout(&o));

    // Heading with no ID.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "docs/fix_plan.md", "# L\n\n## [] Nothing here\n- Status: open\n");
    let o = run(d.path(), &["status", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let j = json(&o);
    assert_eq!(j["diagnostics"][0]["line"], 3);
    assert_eq!(j["diagnostics"][0]["file"], "docs/fix_plan.md");

    // --root that does not exist.
    let o = run(d.path(), &["status", "--root", "/no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/no/such/dir"), "{}", stderr(&o));

    // Unknown key in loop.yaml.
    let d = tempfile::tempdir().unwrap();
    minimal(d.path());
    write(d.path(), "loop.yaml", "ledger: docs/fix_plan.md\nreport_dir: out\n");
    let o = run(d.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("loop.yaml:2: unknown field `report_dir`"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn closed_stdout_pipe_is_quiet_success() {
    let root = nanobragg("large");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("loop"))
        .args(["status", "--json", "--root", root.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stderr.is_empty());
}

#[test]
fn argument_errors_with_json_print_one_json_document() {
    let d = tempfile::tempdir().unwrap();
    for (args, said) in [
        (&["stauts", "--json"][..], "unrecognized subcommand 'stauts'"),
        (&["next", "--json", "--bogus"][..], "unexpected argument '--bogus'"),
    ] {
        let o = cmd(d.path()).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let v = json(&o);
        assert_eq!(v["error"]["kind"], "usage", "{args:?}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(said), "{args:?}: {v}");
        assert!(stderr(&o).contains(said), "{args:?}: clap's text stays on stderr");
    }
    // Without --json: clap's text only, and --help still prints help with exit 0.
    let o = cmd(d.path()).arg("stauts").output().unwrap();
    assert_eq!((o.status.code(), stdout(&o).is_empty()), (Some(2), true));
    assert!(cmd(d.path()).args(["next", "--help", "--json"]).output().unwrap().status.success());
}
