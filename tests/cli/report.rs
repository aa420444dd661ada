//! `loop report`: its data agree with `loop status --json` and with git, item by item and state
//! by state; the page, loaded in headless Chromium, draws them with no script error.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::clones::{engineer_turn, one_clone, sh};
use super::common::*;

/// Debian's chromium. A machine without it gets it the way `.ci/run` does, when it may
/// (root with apt-get); else the test says how.
fn chromium() -> PathBuf {
    let found = || {
        ["chromium", "chromium-browser"].iter().find_map(|n| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join(n))
                .find(|p| p.is_file())
        })
    };
    if let Some(p) = found() {
        return p;
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    if root {
        let _ = Command::new("apt-get").args(["install", "-y", "-qq", "chromium"]).status();
    }
    found().expect("the browser test needs Debian's chromium: `apt-get install chromium` (.ci/run does it)")
}

/// The page after its script ran, as Chromium holds it, and what Chromium logged.
fn render(page: &Path) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "chromium: {}", stderr(&o));
    (stdout(&o), stderr(&o))
}

fn assert_rendered(dom: &str, log: &str) {
    assert!(dom.contains("data-rendered=\"ok\""), "the page's script did not finish:\n{log}");
    assert!(!dom.contains("data-errors"), "script errors: {dom}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect();
    assert!(console.is_empty(), "console: {console:?}");
}

/// The demo workspace with a history: three attempts whose `corr` climbs to the plan's gate
/// (`corr ≥0.999`), each its own commit on its own day, then one engineer turn of loop's.
fn with_history() -> tempfile::TempDir {
    let d = one_clone("work", "");
    let p = d.path();
    let plan = std::fs::read_to_string(p.join("plans/active/demo.md")).unwrap();
    write(
        p,
        "plans/active/demo.md",
        &plan.replace("Exit Criteria: the notes exist.", "Exit Criteria: the notes exist; corr ≥0.999."),
    );
    sh(p, "git commit -qam 'The gate'");
    for (day, corr, result) in
        [("2026-01-02", "0.71", "failed"), ("2026-01-03", "0.93", "partial"), ("2026-01-04", "0.9991", "success")]
    {
        let at = format!("{day}T10:00:00Z");
        let o = cmd(p)
            .env("LOOP_NOW", &at)
            .args([
                "attempt",
                "DEMO-001",
                "--result",
                result,
                "--metric",
                &format!("corr={corr}"),
                "--note",
                "measured",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        sh(p, &format!("GIT_AUTHOR_DATE={at} GIT_COMMITTER_DATE={at} git commit -qam 'Attempt of {day}'"));
    }
    // A run folder the last entry names, with the metrics.json a run writes.
    write(p, "reports/demo/20260105T100000Z/metrics.json", "{\"speedup\": 1.4, \"label\": \"warm\"}\n");
    let o = cmd(p)
        .env("LOOP_NOW", "2026-01-05T10:00:00Z")
        .args(["attempt", "DEMO-001", "--result", "success", "--metric", "corr=0.9995"])
        .args(["--note", "profiled; artifacts reports/demo/20260105T100000Z/"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    sh(p, "GIT_AUTHOR_DATE=2026-01-05T10:00:00Z GIT_COMMITTER_DATE=2026-01-05T10:00:00Z git commit -qam 'Profiled'");
    let (o, v) = engineer_turn(p);
    assert_eq!(o.status.code(), Some(0), "{v}");
    d
}

fn report(dir: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["report", "--json"];
    all.extend_from_slice(args);
    let o = run(dir, &all);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    (o.status.code(), v)
}

/// Each item of `status --json` is in the report with the same status and the same attempts.
fn agrees_with_status(dir: &Path, r: &Value) {
    let st = json(&run(dir, &["status", "--json"]));
    let items = st["ledger"]["items"].as_array().unwrap();
    assert_eq!(r["items"].as_array().unwrap().len(), items.len(), "{}", dir.display());
    for (s, i) in items.iter().zip(r["items"].as_array().unwrap()) {
        assert_eq!((&i["id"], &i["status"]), (&s["id"], &s["status"]), "{}", dir.display());
        let lines = |v: &Value| v.as_array().unwrap().iter().map(|a| a["line"].clone()).collect::<Vec<_>>();
        assert_eq!(lines(&i["attempts"]), lines(&s["attempts"]), "[{}] in {}", s["id"], dir.display());
    }
}

#[test]
fn the_data_hold_every_ledger_state_and_agree_with_status() {
    let d = with_history();
    let p = d.path();
    let (code, r) = report(p, &[]);
    assert_eq!(code, Some(0));
    agrees_with_status(p, &r);
    // One state per commit that changed the ledger, oldest first, the last one HEAD's counts.
    let states = git_ok(p, &["rev-list", "--reverse", "HEAD", "--", "docs/fix_plan.md"]);
    let commits: Vec<&str> = r["history"].as_array().unwrap().iter().map(|s| s["commit"].as_str().unwrap()).collect();
    assert_eq!(commits, states.lines().collect::<Vec<_>>());
    let attempts: usize = r["items"].as_array().unwrap().iter().map(|i| i["attempts"].as_array().unwrap().len()).sum();
    assert_eq!(r["history"].as_array().unwrap().last().unwrap()["attempts"], attempts);
    // The metric as recorded, and the plan's gate for it.
    let item = &r["items"][0];
    let corr: Vec<f64> =
        item["attempts"].as_array().unwrap().iter().filter_map(|a| a["metrics"]["corr"].as_f64()).collect();
    assert_eq!(corr, [0.71, 0.93, 0.9991, 0.9995]);
    let last = item["attempts"].as_array().unwrap().iter().rev().find(|a| a["metrics"]["corr"] == 0.9995).unwrap();
    assert_eq!(last["artifacts"], serde_json::json!(["reports/demo/20260105T100000Z/"]), "{last}");
    assert_eq!(last["metrics"]["speedup"], 1.4, "metrics.json of the run folder: {last}");
    assert!(
        item["gates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["metric"] == "corr" && g["op"] == ">=" && g["threshold"] == 0.999),
        "{}",
        item["gates"]
    );
    // The turn from refs/loop/state; where the loop stands, as `loop next` says.
    assert_eq!(r["turns"].as_array().unwrap().len(), 2, "{}", r["turns"]);
    let next = json(&run(p, &["next", "--json"]));
    assert_eq!(r["now"]["focus"], next["item"]["id"]);
    // --item and --since narrow what is shown; bad values are refused with exit 2.
    let (_, r) = report(p, &["--since", "2026-01-04"]);
    let days: Vec<&str> =
        r["items"][0]["attempts"].as_array().unwrap().iter().map(|a| a["date"].as_str().unwrap()).collect();
    assert!(!days.is_empty() && days.iter().all(|d| *d >= "2026-01-04"), "{days:?}");
    for bad in [["--item", "NOPE-001"], ["--since", "yesterday"]] {
        let o = run(p, &["report", bad[0], bad[1]]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(!p.join("reports/loop-report.html").exists());
    }
}

#[test]
fn the_page_draws_the_ledgers_numbers_in_a_real_browser() {
    let d = with_history();
    let p = d.path();
    let o = run(p, &["report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("wrote reports/loop-report.html"), "{}", stdout(&o));
    let page = p.join("reports/loop-report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing fetched when it opens.
    for remote in ["src=\"http", "href=\"http", "@import", "<link"] {
        assert!(!html.contains(remote), "{remote}");
    }
    let (dom, log) = render(&page);
    assert_rendered(&dom, &log);
    let st = json(&run(p, &["status", "--json"]));
    let attempts = st["ledger"]["items"][0]["attempts"].as_array().unwrap().len();
    assert!(dom.contains(&format!("id=\"n-attempts\">{attempts}<")), "n-attempts ≠ {attempts}");
    assert!(dom.contains(&format!("data-id=\"DEMO-001\" data-attempts=\"{attempts}\"")), "lane");
    assert_eq!(dom.matches("class=\"attempt r-").count(), attempts, "one dot per attempt");
    assert!(dom.contains("data-metric=\"corr\" data-last=\"0.9995\""), "metric card");
    // The attempt with a run folder links to it, relative to the page.
    assert!(dom.contains("href=\"../reports/demo/20260105T100000Z/\""), "artifact link");
    assert!(dom.contains("class=\"gate\""), "the gate line");
    assert!(dom.contains("id=\"turn-table\""), "turns");
    assert!(dom.contains("data-path=\"plans/active/demo.md\""), "plan");
}

/// Every real workspace the fixtures hold gets a page: the same items as `status`, the same
/// exit code (2 where loop cannot read the ledger, which the page says).
#[test]
fn the_fixtures_dialects_each_get_a_page() {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for set in ["ptychopinn", "wild"] {
        let base = if set == "wild" { repo_root().join("tests/fixtures/wild") } else { fixtures().join(set) };
        for e in std::fs::read_dir(&base).unwrap().flatten() {
            if e.path().join("docs/fix_plan.md").is_file() || e.path().join("docs").is_dir() {
                dirs.push(e.path());
            }
        }
    }
    dirs.push(nanobragg("workspace"));
    dirs.sort();
    let mut unread = 0;
    for (k, src) in dirs.iter().enumerate() {
        let d = copy_tree(src);
        let p = d.path();
        if !p.join("docs/fix_plan.md").is_file() {
            continue;
        }
        git_ok(p, &["init", "-q", "-b", "main"]);
        git_ok(p, &["add", "-A"]);
        git_ok(p, &["commit", "-qm", "state"]);
        let (code, r) = report(p, &[]);
        let status = run(p, &["status", "--json"]).status.code();
        assert_eq!(code, status, "{}", src.display());
        if code == Some(0) {
            agrees_with_status(p, &r);
        } else {
            unread += 1;
            assert!(r["diagnostics"].as_array().unwrap().iter().any(|d| d["severity"] == "error"), "{}", src.display());
        }
        assert_eq!(r["history"].as_array().unwrap().len(), 1, "{}", src.display());
        // Three in the browser: the first, one loop cannot read, the last.
        if k == 0 || k + 1 == dirs.len() || (code == Some(2) && unread == 1) {
            let o = run(p, &["report"]);
            assert_eq!(o.status.code(), code, "{}", stderr(&o));
            let (dom, log) = render(&p.join("reports/loop-report.html"));
            assert_rendered(&dom, &log);
            assert_eq!(dom.contains("id=\"unread\""), code == Some(2), "{}", src.display());
        }
    }
    assert!(unread >= 1, "no fixture loop cannot read: the refusal path went untested");
}

/// The whole upstream history, when a clone of hoidn/nanoBragg `feature/spec-based-2` is at
/// `LOOP_UPSTREAM_CLONE` (README: "loop report"): every ledger state git has, the items as
/// `status` reads them at HEAD.
#[test]
fn the_upstream_history_when_a_clone_is_given() {
    let Some(clone) = std::env::var_os("LOOP_UPSTREAM_CLONE").map(PathBuf::from) else {
        eprintln!("skipped: set LOOP_UPSTREAM_CLONE to a clone of hoidn/nanoBragg feature/spec-based-2");
        return;
    };
    let (_, r) = report(&clone, &[]);
    agrees_with_status(&clone, &r);
    let ours: std::collections::BTreeSet<String> =
        r["history"].as_array().unwrap().iter().map(|s| s["commit"].as_str().unwrap().to_string()).collect();
    // Every commit that changed the ledger, and merges only where they made a version of their own.
    let plain = git_ok(&clone, &["rev-list", "--full-history", "--no-merges", "HEAD", "--", "docs/fix_plan.md"]);
    let plain: std::collections::BTreeSet<String> = plain.lines().map(str::to_string).collect();
    assert!(plain.is_subset(&ours), "{} plain commits missing", plain.difference(&ours).count());
    for merge in ours.difference(&plain) {
        let blob = git_ok(&clone, &["rev-parse", &format!("{merge}:docs/fix_plan.md")]);
        let parents = git_ok(&clone, &["log", "-1", "--format=%P", merge]);
        for parent in parents.split_whitespace() {
            let theirs = git(&clone, &["rev-parse", &format!("{parent}:docs/fix_plan.md")]);
            assert_ne!(stdout(&theirs), blob, "{merge} repeats {parent}'s ledger");
        }
    }
}
