//! The real Claude Code and Codex CLIs (pinned in tests/agents/npm, installed with `npm ci`)
//! against scripted model servers on 127.0.0.1, through `loop turn` and `loop orchestrate`,
//! with the agent command lines docs/orchestrate.md gives — read from that page, so they stay the
//! lines that work.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::clones::{demo, finish, ledger_of, loop_attempts, looped, remote_of, sh, spawn, turns_on};
use super::common::*;
use super::model_server::{Api, Reply, Server};

/// The folder of the pinned CLIs' `node_modules/.bin`, installed on first use.
fn clis() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let npm = repo_root().join("tests/agents/npm");
        let bin = npm.join("node_modules/.bin");
        let installed = |name: &str, version: &str| {
            Command::new(bin.join(name))
                .arg("--version")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(version))
        };
        if !(installed("claude", "2.1.197") && installed("codex", "0.171.0")) {
            let o = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&npm).output();
            let o = o.unwrap_or_else(|e| {
                panic!("npm ci in {} could not start ({e}): Node.js and npm are needed", npm.display())
            });
            assert!(o.status.success(), "npm ci in {}: {}", npm.display(), String::from_utf8_lossy(&o.stderr));
        }
        assert!(installed("claude", "2.1.197") && installed("codex", "0.171.0"), "the pinned CLIs did not install");
        bin
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cli {
    Claude,
    Codex,
}

/// A role's agent line from docs/orchestrate.md's configuration block for the CLI.
fn readme_agent(cli: Cli, role: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("docs/orchestrate.md")).unwrap();
    let word = match cli {
        Cli::Claude => "claude",
        Cli::Codex => "codex",
    };
    for block in readme.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(block).unwrap();
        let agent = v["orchestrate"]["roles"][role]["agent"].as_str().unwrap_or_default();
        if agent.starts_with(word) {
            return agent.to_string();
        }
    }
    panic!("docs/orchestrate.md gives no {word} line for the {role}");
}

/// A CLI pointed at a scripted server: its home (config, sessions) and environment.
struct Agent {
    cli: Cli,
    server: Server,
    home: tempfile::TempDir,
}

impl Agent {
    fn new(cli: Cli, script: Vec<Reply>) -> Agent {
        let api = if cli == Cli::Claude { Api::Anthropic } else { Api::OpenAi };
        Agent::at(cli, Server::start(api, script))
    }

    fn at(cli: Cli, server: Server) -> Agent {
        let home = tempfile::tempdir().unwrap();
        if cli == Cli::Codex {
            let dir = home.path().join("codex");
            std::fs::create_dir_all(&dir).unwrap();
            let config = format!(
                "model = \"gpt-5\"\nmodel_provider = \"scripted\"\n\n[model_providers.scripted]\nname = \"scripted\"\nbase_url = \"{}/v1\"\nwire_api = \"responses\"\nrequest_max_retries = 1\nstream_max_retries = 1\nstream_idle_timeout_ms = 120000\n",
                server.url
            );
            std::fs::write(dir.join("config.toml"), config).unwrap();
        }
        Agent { cli, server, home }
    }

    fn env(&self) -> Vec<(String, String)> {
        let path = format!("{}:{}", clis().display(), super::clones::path_env());
        let mut e = vec![("PATH".to_string(), path), ("HOME".into(), self.home.path().display().to_string())];
        let more: &[(&str, &str)] = match self.cli {
            Cli::Claude => &[
                ("ANTHROPIC_API_KEY", "test-key"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
                ("DISABLE_AUTOUPDATER", "1"),
                ("CLAUDE_CODE_MAX_RETRIES", "1"),
            ],
            Cli::Codex => &[("OPENAI_API_KEY", "test-key")],
        };
        e.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        match self.cli {
            Cli::Claude => e.push(("ANTHROPIC_BASE_URL".into(), self.server.url.clone())),
            Cli::Codex => e.push(("CODEX_HOME".into(), self.home.path().join("codex").display().to_string())),
        }
        e
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        finish(spawn(dir, args, &env), 180)
    }

    /// `run` with loop's clock at `now` (RFC 3339).
    fn run_at(&self, dir: &Path, args: &[&str], now: &str) -> Output {
        let mut env = self.env();
        env.push(("LOOP_NOW".into(), now.into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        finish(spawn(dir, args, &env), 180)
    }

    fn turn(&self, dir: &Path, role: &str) -> (Output, Value) {
        let o = self.run(dir, &["turn", "--role", role, "--json", "--quiet"]);
        let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
        (o, v)
    }
}

/// What an engineer does for the demo's manual step: the notes the memo asks for, the step's
/// check, and its own attempt — all through its shell.
const WORK: &str = "t=$(sed -n 's/^Do Now: .*Phase \\([A-Z][0-9]*\\) .*/\\1/p' input.md | head -1); mkdir -p notes && echo \"notes for $t\" > notes/$t.md && test -s notes/$t.md && loop attempt DEMO-001 --phase $t --result partial --note \"the agent checked notes/$t.md\"";

/// The demo workspace in git with the memo written, its roles' agents as given.
fn workspace(engineer: &str, supervisor: Option<&str>, settings: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    seed(d.path(), engineer, supervisor, settings);
    sh(d.path(), "git init -q -b main && git add -A && git commit -qm 'The demo workspace' && loop brief --write >/dev/null && git add -A && git commit -qm 'The memo'");
    d
}

fn seed(dir: &Path, engineer: &str, supervisor: Option<&str>, settings: &str) {
    demo(dir, "work", "");
    let mut roles = json!({"engineer": {"agent": engineer, "model": "gpt-5"}});
    if let Some(s) = supervisor {
        roles["supervisor"] = json!({"agent": s, "model": "gpt-5"});
    }
    let mut yaml = format!(
        "orchestrate:\n  roles: {roles}\n  prices: {{gpt-5: {{input: 1.25, output: 10, cached_input: 0.125}}}}\n{settings}"
    );
    for (k, v) in [("idle_timeout", "20s"), ("lease", "5s"), ("poll", "100ms"), ("retry_pause", "100ms")] {
        if !settings.contains(k) {
            yaml.push_str(&format!("  {k}: {v}\n"));
        }
    }
    std::fs::write(dir.join("loop.yaml"), yaml).unwrap();
}

fn plan(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("plans/active/demo.md")).unwrap()
}

fn ledger(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("docs/fix_plan.md")).unwrap()
}

fn head(dir: &Path) -> String {
    sh(dir, "git rev-parse HEAD")
}

/// An engineer turn that does the step ends `ok`, its task `[D]`, with tokens and cost.
fn engineer_does_the_step(cli: Cli) {
    let a = Agent::new(cli, vec![Reply::Shell(WORK.into()), Reply::Text("Done: notes written and checked.".into())]);
    let d = workspace(&readme_agent(cli, "engineer"), None, "");
    let (o, v) = a.turn(d.path(), "engineer");
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(0), Some("ok")), "{cli:?}: {v}\n{}", stderr(&o));
    assert!(plan(d.path()).contains("| A1 | Write notes/A1.md by hand | [D] |"), "{cli:?}: {}", plan(d.path()));
    let l = ledger(d.path());
    assert!(l.contains("the agent checked notes/A1.md"), "{cli:?}: the agent's own attempt: {l}");
    assert!(loop_attempts(&l).iter().any(|a| a.contains("success (Phase A1)")), "{cli:?}: {l}");
    let w = &v["work"];
    assert_eq!(w["verify"][0]["exit_code"], 0, "{v}");
    assert!(w["tokens_in"].as_u64().unwrap() >= 200 && w["tokens_out"].as_u64().unwrap() >= 40, "{cli:?}: {w}");
    assert!(w["cost_usd"].as_f64().unwrap() > 0.0, "{cli:?}: {w}");
    let runs = json(&looped(d.path(), &["runs", "--json"], &[]).output().unwrap());
    let last = runs.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["outcome"].as_str(), last["tokens_in"].clone()), (Some("ok"), w["tokens_in"].clone()), "{runs}");
    assert_eq!(last["cost_usd"], w["cost_usd"], "{runs}");
    let text = stdout(&looped(d.path(), &["runs"], &[]).output().unwrap());
    assert!(text.contains(&format!("${:.4}", w["cost_usd"].as_f64().unwrap())), "{text}");
    // The agent's shell ran what the server asked for, with loop on its PATH.
    assert!(a.server.requests().len() >= 2, "{cli:?}");
}

#[test]
fn claude_engineer_runs_the_check_and_loop_attempt_and_ends_ok() {
    engineer_does_the_step(Cli::Claude);
}

#[test]
fn codex_engineer_runs_the_check_and_loop_attempt_and_ends_ok() {
    engineer_does_the_step(Cli::Codex);
}

/// Words about limits in what the agent's own commands printed are not a limit.
fn limit_words_in_a_good_turn_are_ok(cli: Cli) {
    let says = format!("echo 'note: the parser hit a rate limit; usage limit tests pass' && {WORK}");
    let a = Agent::new(
        cli,
        vec![
            Reply::Shell(says),
            Reply::Text("Fixed the rate limit handling; usage limit reached in tests only.".into()),
        ],
    );
    let d = workspace(&readme_agent(cli, "engineer"), None, "");
    let (o, v) = a.turn(d.path(), "engineer");
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(0), Some("ok")), "{cli:?}: {v}");
}

#[test]
fn claude_limit_words_in_a_good_turn_are_ok() {
    limit_words_in_a_good_turn_are_ok(Cli::Claude);
}

#[test]
fn codex_limit_words_in_a_good_turn_are_ok() {
    limit_words_in_a_good_turn_are_ok(Cli::Codex);
}

/// A turn the provider ended: its outcome, no attempt, no commit, the turn stays with the role.
fn provider_ends(cli: Cli, a: &Agent, settings: &str, want: &str, code: i32) -> Value {
    let d = workspace(&readme_agent(cli, "engineer"), None, settings);
    let (before, at) = (ledger(d.path()), head(d.path()));
    let (o, v) = a.turn(d.path(), "engineer");
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(code), Some(want)), "{cli:?}: {v}\n{}", stderr(&o));
    assert_eq!(v["work"]["provider"], true, "{v}");
    assert_eq!(ledger(d.path()), before, "{cli:?} {want}: the ledger changed");
    assert_eq!(head(d.path()), at, "{cli:?} {want}: something was committed");
    let st = json(&looped(d.path(), &["state", "--json"], &[]).output().unwrap());
    assert_eq!(
        (st["state"]["next"].as_str(), st["state"]["last"]["outcome"].as_str()),
        (Some("engineer"), Some(want)),
        "{st}"
    );
    v
}

fn error(code: u16, body: Value) -> Reply {
    Reply::Status(code, body.to_string(), vec![("retry-after", "0".into())])
}

fn refused_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
}

#[test]
fn claude_provider_failures_are_unavailable_and_write_nothing() {
    let anthropic = |kind: &str, m: &str| json!({"type": "error", "error": {"type": kind, "message": m}});
    let replies = vec![
        Some(error(500, anthropic("api_error", "Internal server error"))),
        Some(error(529, anthropic("overloaded_error", "Overloaded"))),
        Some(error(
            429,
            anthropic("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
        )),
        Some(Reply::Close),
        // Nothing listens: the connection is refused.
        None,
    ];
    at_once(replies, |reply| {
        let mut a = Agent::new(Cli::Claude, vec![reply.clone().unwrap_or(Reply::Text("unused".into()))]);
        if reply.is_none() {
            a.server.url = refused_port();
        }
        let v = provider_ends(Cli::Claude, &a, "", "unavailable", 12);
        assert!(v["work"]["detail"].as_str().unwrap().contains("provider"), "{reply:?}: {v}");
    });
}

/// Each case on its own thread: the cases wait on agents and servers, not on the CPU. A case's
/// panic fails the test once every case has ended.
fn at_once<T: Send>(cases: Vec<T>, case: impl Fn(T) + Sync) {
    std::thread::scope(|s| {
        for c in cases {
            s.spawn(|| case(c));
        }
    });
}

#[test]
fn codex_provider_failures_are_unavailable_and_write_nothing() {
    let openai = |kind: &str, m: &str| json!({"error": {"type": kind, "code": kind, "message": m}});
    let replies = vec![
        Some(error(
            429,
            openai("rate_limit_exceeded", "Rate limit reached for gpt-5 on tokens per min. Please try again in 1s."),
        )),
        Some(error(500, openai("server_error", "The server had an error"))),
        Some(error(503, openai("server_error", "overloaded"))),
        // Refused: Codex reconnects for ever, printing retry notices that are not progress.
        None,
    ];
    at_once(replies, |reply| match reply {
        Some(reply) => {
            let a = Agent::new(Cli::Codex, vec![reply]);
            provider_ends(Cli::Codex, &a, "", "unavailable", 12);
        }
        None => {
            let server = Server::start(Api::OpenAi, vec![Reply::Text("unused".into())]);
            let mut a = Agent::at(Cli::Codex, server);
            let cfg = a.home.path().join("codex/config.toml");
            let text = std::fs::read_to_string(&cfg).unwrap().replace(&a.server.url, &refused_port());
            std::fs::write(&cfg, text).unwrap();
            a.server.url = "unused".into();
            let v = provider_ends(Cli::Codex, &a, "  idle_timeout: 4s\n", "unavailable", 12);
            assert!(v["work"]["detail"].as_str().unwrap().contains("retrying"), "{v}");
        }
    });
}

#[test]
fn usage_limits_are_limits_with_their_reset_and_write_nothing() {
    // Codex: ChatGPT plan's usage limit.
    let body = json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": "plus", "resets_at": 1893456000, "resets_in_seconds": 3600}});
    let a = Agent::new(Cli::Codex, vec![error(429, body)]);
    let v = provider_ends(Cli::Codex, &a, "", "limit", 6);
    assert!(v["work"]["resets_at"].as_str().is_some_and(|t| t.starts_with("20")), "{v}");
    // Claude with an API key: the credit balance is the quota.
    let body = json!({"type": "error", "error": {"type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}});
    let a = Agent::new(Cli::Claude, vec![error(400, body)]);
    provider_ends(Cli::Claude, &a, "", "limit", 6);
}

#[test]
fn a_hung_provider_is_idle_within_the_idle_timeout_and_writes_nothing() {
    let cases = vec![
        (Cli::Claude, Reply::HangBeforeHeaders),
        (Cli::Claude, Reply::HangMidStream),
        (Cli::Codex, Reply::HangBeforeHeaders),
        (Cli::Codex, Reply::HangMidStream),
    ];
    // Long enough for four CLIs starting at once on two cores to say their first event: a
    // CLI that said nothing at all is not known to be waiting for the provider.
    at_once(cases, |(cli, reply)| {
        let a = Agent::new(cli, vec![reply.clone()]);
        let v = provider_ends(cli, &a, "  idle_timeout: 8s\n", "idle", 5);
        // Recognised by the idle clock, not by the CLI's own minutes-long request timeout.
        let took = v["work"]["duration_s"].as_f64().unwrap();
        assert!(took < 60.0, "{cli:?} {reply:?}: {took} s");
    });
}

#[test]
fn a_refused_command_is_denied_and_named() {
    let a = Agent::new(
        Cli::Claude,
        vec![Reply::Shell("git push origin main".into()), Reply::Text("I could not push.".into())],
    );
    let d = workspace(&readme_agent(Cli::Claude, "engineer"), None, "");
    // On screen, then in run.json.
    let o = a.run(d.path(), &["turn", "--role", "engineer", "--quiet"]);
    assert_eq!(o.status.code(), Some(11), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("refused: Bash: git push origin main"), "{}", stdout(&o));
    let run = sh(d.path(), "cat reports/turns/*/run.json");
    let v: Value = serde_json::from_str(&run).unwrap();
    assert_eq!(v["outcome"], "denied", "{v}");
    assert_eq!(v["work"]["denied"], json!(["Bash: git push origin main"]), "{v}");
    let l = ledger(d.path());
    assert!(
        loop_attempts(&l).iter().any(|a| a.contains("Result: blocked") && a.contains("git push origin main")),
        "{l}"
    );
}

#[test]
fn a_claude_supervisor_writes_the_memo() {
    let d = tempfile::tempdir().unwrap();
    seed(d.path(), &readme_agent(Cli::Claude, "engineer"), Some(&readme_agent(Cli::Claude, "supervisor")), "");
    sh(d.path(), "git init -q -b main && git add -A && git commit -qm 'The demo workspace'");
    let memo = d.path().canonicalize().unwrap().join("input.md");
    let text = "# Do Now\nFocus: DEMO-001\nDo Now: DEMO-001 — Phase A1 by hand: write notes/A1.md, then run `test -s notes/A1.md`.\n";
    let a = Agent::new(
        Cli::Claude,
        vec![
            Reply::Shell("loop status".into()),
            Reply::Tool("Write", json!({"file_path": memo.display().to_string(), "content": text})),
            Reply::Text("The memo is written.".into()),
        ],
    );
    let (o, v) = a.turn(d.path(), "supervisor");
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(0), Some("ok")), "{v}\n{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&memo).unwrap(), text);
    assert!(sh(d.path(), "git show --name-only --format= HEAD").contains("input.md"));
}

/// Three engineer turns, each a tool call doing the work and a final text.
fn three_turns() -> Vec<Reply> {
    (0..3).flat_map(|_| [Reply::Shell(WORK.into()), Reply::Text("Done.".into())]).collect()
}

/// Two clones, a bare remote: the builtin supervisor and Claude as the engineer alternate
/// three iterations; every task ends `[D]` on the remote, one loop attempt each.
#[test]
fn two_clones_alternate_three_iterations_with_claude_as_the_engineer() {
    let r = remote_of(|seed_dir, _| seed(seed_dir, &readme_agent(Cli::Claude, "engineer"), None, ""));
    let a = Agent::new(Cli::Claude, three_turns());
    let env = a.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = |role: &'static str| ["orchestrate", "--role", role, "--sync-via-git", "--iterations", "3", "--quiet"];
    let eng = spawn(&r.engineer, &args("engineer"), &env);
    let sup = spawn(&r.supervisor, &args("supervisor"), &env);
    let (e, s) = (finish(eng, 300), finish(sup, 300));
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    let turns: Vec<(String, String, String)> = turns_on(&r.bare).into_iter().skip(1).map(|t| (t.1, t.2, t.3)).collect();
    let want: Vec<(String, String, String)> = (1..=3)
        .flat_map(|i| [("supervisor", i), ("engineer", i)])
        .map(|(role, i)| (role.to_string(), i.to_string(), "ok".to_string()))
        .collect();
    assert_eq!(turns, want);
    let l = ledger_of(&r.bare);
    assert_eq!(loop_attempts(&l).len(), 3, "{l}");
    let plan = sh(&r.bare, "git show main:plans/active/demo.md");
    assert_eq!(plan.matches("| [D] |").count(), 3, "{plan}");
    let runs = json(&looped(&r.engineer, &["runs", "--json"], &[]).output().unwrap());
    let engineer: Vec<&Value> = runs.as_array().unwrap().iter().filter(|t| t["role"] == "engineer").collect();
    assert!(engineer.iter().all(|t| t["tokens_in"].as_u64() > Some(0) && t["cost_usd"].as_f64() > Some(0.0)), "{runs}");
}

/// `unavailable` is retried after a pause; a recovered provider finishes the turn; retries spent
/// stop the loop with nothing in the ledger.
#[test]
fn orchestrate_retries_an_unavailable_provider_then_stops() {
    let overloaded =
        error(529, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));
    let a = Agent::new(
        Cli::Claude,
        vec![overloaded.clone(), overloaded.clone(), Reply::Shell(WORK.into()), Reply::Text("Done.".into())],
    );
    let d = workspace(&readme_agent(Cli::Claude, "engineer"), None, "  provider_retries: 2\n");
    sh(d.path(), "loop state stamp supervisor ok >/dev/null");
    let o = a.run(d.path(), &["orchestrate", "--role", "engineer", "--json", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let outcomes: Vec<&str> = v["turns"].as_array().unwrap().iter().map(|t| t["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["unavailable", "ok"], "{v}");
    assert_eq!(loop_attempts(&ledger(d.path())).len(), 1);
    // Always failing: provider_retries tries after the first, then a stop with no attempt.
    let a = Agent::new(Cli::Claude, vec![overloaded]);
    let d = workspace(&readme_agent(Cli::Claude, "engineer"), None, "  provider_retries: 1\n");
    sh(d.path(), "loop state stamp supervisor ok >/dev/null");
    let before = ledger(d.path());
    let o = a.run(d.path(), &["orchestrate", "--role", "engineer", "--iterations", "3", "--json", "--quiet"]);
    assert_eq!(o.status.code(), Some(12), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!((v["stopped"].as_str(), v["turns"].as_array().unwrap().len()), (Some("unavailable"), 2), "{v}");
    assert_eq!(ledger(d.path()), before);
    let runs = json(&looped(d.path(), &["runs", "--json"], &[]).output().unwrap());
    let unavailable = runs.as_array().unwrap().iter().filter(|t| t["outcome"] == "unavailable").count();
    assert_eq!(unavailable, 2, "{runs}");
}

/// A usage limit with a reset the provider gives: `orchestrate` waits it out and takes the turn
/// again (`on_limit: wait`, the default); with `on_limit: stop`, or a reset past `wall_budget`,
/// it stops with `limit` and nothing in the ledger.
#[test]
fn orchestrate_waits_out_a_usage_limit_or_stops_as_configured() {
    let limit = || {
        let reset = chrono::Utc::now().timestamp() + 1;
        let body = json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": "plus", "resets_at": reset, "resets_in_seconds": 1}});
        error(429, body)
    };
    let a = Agent::new(Cli::Codex, vec![limit(), Reply::Shell(WORK.into()), Reply::Text("Done.".into())]);
    let d = workspace(&readme_agent(Cli::Codex, "engineer"), None, "");
    sh(d.path(), "loop state stamp supervisor ok >/dev/null");
    // Codex states the reset to the minute, so loop waits for the minute's end: by the one
    // clock, that minute is over and the wait is loop's few seconds of slack.
    let later = (chrono::Utc::now() + chrono::Duration::minutes(2)).to_rfc3339();
    let o = a.run_at(d.path(), &["orchestrate", "--role", "engineer", "--json"], &later);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("a usage limit; waiting"), "{}", stderr(&o));
    let v = json(&o);
    let outcomes: Vec<&str> = v["turns"].as_array().unwrap().iter().map(|t| t["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["limit", "ok"], "{v}");
    assert_eq!(loop_attempts(&ledger(d.path())).len(), 1, "{}", ledger(d.path()));
    for (settings, why) in
        [("  on_limit: stop\n", "on_limit: stop"), ("  wall_budget: 2s\n", "falls after wall_budget")]
    {
        let a = Agent::new(Cli::Codex, vec![limit()]);
        let d = workspace(&readme_agent(Cli::Codex, "engineer"), None, settings);
        sh(d.path(), "loop state stamp supervisor ok >/dev/null");
        let before = ledger(d.path());
        let o = a.run(d.path(), &["orchestrate", "--role", "engineer", "--iterations", "2", "--json", "--quiet"]);
        assert_eq!(o.status.code(), Some(6), "{settings}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!((v["stopped"].as_str(), v["turns"].as_array().unwrap().len()), (Some("limit"), 1), "{v}");
        assert!(v["message"].as_str().unwrap().contains(why), "{settings}: {v}");
        assert_eq!(ledger(d.path()), before, "{settings}");
    }
}

/// Codex reports tokens only: `prices:` makes its cost, and `cost_budget` stops its loop.
#[test]
fn a_cost_budget_stops_a_codex_loop() {
    let a = Agent::new(Cli::Codex, three_turns());
    // One turn costs about (200·1.25 + 40·10)/1e6 dollars: the budget is spent after it.
    let d = workspace(&readme_agent(Cli::Codex, "engineer"), Some("builtin"), "  cost_budget: 0.0001\n");
    sh(d.path(), "loop state stamp supervisor ok >/dev/null");
    let o = a.run(d.path(), &["orchestrate", "--role", "engineer", "--iterations", "3", "--json", "--quiet"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!((v["stopped"].as_str(), v["turns"].as_array().unwrap().len()), (Some("budget"), 1), "{v}");
    let cost = v["turns"][0]["work"]["cost_usd"].as_f64().unwrap();
    assert!((cost - (200.0 * 1.25 + 40.0 * 10.0) / 1e6).abs() < 1e-9, "{cost}");
}

#[test]
fn the_readme_lines_are_the_ones_tested() {
    for cli in [Cli::Claude, Cli::Codex] {
        for role in ["engineer", "supervisor"] {
            let line = readme_agent(cli, role);
            assert!(!line.contains("--full-auto"), "{line}");
        }
    }
    assert!(readme_agent(Cli::Claude, "engineer").contains("--allowedTools"));
    assert!(readme_agent(Cli::Codex, "engineer").contains("--json"));
}
