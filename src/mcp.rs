//! `loop mcp`: the workflow as tools a coding agent calls over the Model Context Protocol (stdio,
//! newline-delimited JSON-RPC 2.0), on the official Rust SDK. Each tool gives the same JSON as
//! the CLI's `--json`, as text and as `structuredContent`; whatever the CLI exits 2 for is an error
//! result (`isError: true`, the same message). stdout carries protocol messages only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    AnnotateAble, CallToolResult, Content, Implementation, ListResourceTemplatesResult, PaginatedRequestParams,
    RawResourceTemplate, ReadResourceRequestParams, ReadResourceResult, ResourceContents, ServerCapabilities,
    ServerInfo,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use serde::Deserialize;

use ledger_loop::attempt::{self, ResultWord};
use ledger_loop::error::{Error, Result};
use ledger_loop::evidence::{compare, gates};
use ledger_loop::model::Model;
use ledger_loop::workspace::Workspace;

/// A step's output and loop's notes, on stderr: stdout carries the protocol.
struct ToStderr;

impl ledger_loop::progress::Progress for ToStderr {
    fn output(&self, bytes: &[u8], _stderr: bool) {
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), bytes);
    }

    fn say(&self, line: &str) {
        self.output(line.as_bytes(), true);
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct NextInput {
    /// Ledger item to decide for (default: the memo's or the ledger's focus).
    pub item: Option<String>,
    /// Phase to consider instead of the first unfinished one (ignores the memo).
    pub phase: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AttemptInput {
    /// Ledger item ID, e.g. VECTOR-TRICUBIC-002.
    pub item: String,
    /// success, failed, partial, blocked or planning.
    pub result: String,
    /// Phase or task the attempt worked on, e.g. C1.
    pub phase: Option<String>,
    /// Metrics, e.g. {"corr_warm": "0.721175"}; checked against the plan's gates.
    pub metrics: Option<BTreeMap<String, String>>,
    /// Observations (one line).
    pub note: Option<String>,
    /// What comes next (one line).
    pub next: Option<String>,
    /// Artifact paths inside the workspace.
    pub artifacts: Option<Vec<String>>,
    /// Plan task pointers, e.g. ["C1=D"] (D, P, B or empty).
    pub task: Option<Vec<String>>,
    /// New Status for the item (field and Index row).
    pub status: Option<String>,
    /// Return the unified diff and write nothing.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct BriefInput {
    /// Ledger item to brief (default: the focus item).
    pub item: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GateCheckInput {
    /// Run folder holding metrics.json, relative to the workspace.
    pub dir: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CompareInput {
    /// Candidate image (raw float32, .npy or 16-bit PNG), relative to the workspace.
    pub a: String,
    /// Reference image, relative to the workspace.
    pub b: String,
    /// Region of interest "x0,y0,x1,y1" (fast, slow; x1 and y1 exclusive).
    pub roi: Option<String>,
    /// Gates, comma-separated: "corr>=0.999,sum_ratio=1±5e-3".
    pub gates: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RunInput {
    /// Show what would run and be written, and write nothing.
    pub dry_run: Option<bool>,
}

#[derive(Clone)]
pub struct Server {
    ws: Workspace,
    allow_run: bool,
    tool_router: ToolRouter<Self>,
}

/// A tool's answer: the JSON as text and as structured content, or the CLI's error message.
fn answer(r: Result<serde_json::Value>) -> std::result::Result<CallToolResult, McpError> {
    Ok(match r {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => CallToolResult::error(vec![Content::text(e.to_string())]),
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::Failed(format!("internal: {e}")))
}

/// Run blocking workspace work off the protocol loop.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Failed(format!("internal: {e}")))?
}

#[tool_router]
impl Server {
    pub fn new(ws: Workspace, allow_run: bool) -> Server {
        Server { ws, allow_run, tool_router: Self::tool_router() }
    }

    /// A tool's work on the workspace, off the protocol loop; its JSON or its error is the
    /// answer. Each call reads the workspace afresh (its configuration included).
    async fn call(
        &self,
        f: impl FnOnce(Workspace) -> Result<serde_json::Value> + Send + 'static,
    ) -> std::result::Result<CallToolResult, McpError> {
        let root = self.ws.root.clone();
        answer(blocking(move || f(Workspace::discover(&root, Some(&root))?)).await)
    }

    /// A path argument, resolved inside the workspace; one that escapes it is refused.
    fn inside(&self, rel: &str) -> Result<PathBuf> {
        let p = self.ws.root.join(rel);
        self.ws.relative(&p).map_err(|_| Error::input(rel, 0, "resolves outside the workspace; refusing"))?;
        Ok(ledger_loop::workspace::normalize(&p))
    }

    #[tool(
        description = "The workspace's status: ledger items with attempts, Index rows, plans with phases and task states, protected assets, diagnostics (same JSON as `loop status --json`)."
    )]
    async fn status(&self) -> std::result::Result<CallToolResult, McpError> {
        self.call(|ws| to_json(&ledger_loop::status::status(&Model::load(ws)?))).await
    }

    #[tool(
        description = "The next gated step: focus item, plan, phase, task, gate checks with reasons, and the command with <STAMP> filled in, or manual: true (same JSON as `loop next --json`)."
    )]
    async fn next(&self, Parameters(p): Parameters<NextInput>) -> std::result::Result<CallToolResult, McpError> {
        self.call(move |ws| {
            to_json(&ledger_loop::next::decide_now(&Model::load(ws)?, p.item.as_deref(), p.phase.as_deref())?)
        })
        .await
    }

    #[tool(
        description = "Append a numbered attempt entry to a ledger item (locked, atomic byte splice; protected assets refused; text with line breaks, `|` or code fences refused). dry_run returns the unified diff and writes nothing."
    )]
    async fn attempt(&self, Parameters(p): Parameters<AttemptInput>) -> std::result::Result<CallToolResult, McpError> {
        self.call(move |ws| {
            let result: ResultWord = p.result.parse().map_err(|e| Error::Usage(format!("`result` {e}")))?;
            let tasks = p
                .task
                .unwrap_or_default()
                .iter()
                .map(|t| attempt::parse_task(t).map_err(|e| Error::Usage(format!("`task` {e}"))))
                .collect::<Result<Vec<_>>>()?;
            let req = attempt::Request {
                item: Some(p.item),
                result: Some(result),
                phase: p.phase,
                metrics: p.metrics.unwrap_or_default().into_iter().collect(),
                artifacts: p.artifacts.unwrap_or_default(),
                note: p.note,
                next: p.next,
                tasks,
                status: p.status,
                dry_run: p.dry_run.unwrap_or(false),
                from_agent: true,
                ..Default::default()
            };
            Ok(attempt::record(ws, &req)?.to_json())
        })
        .await
    }

    #[tool(
        description = "Lint the ledger and plans: findings with file, line, severity and code (same JSON as `loop lint --json`)."
    )]
    async fn lint(&self) -> std::result::Result<CallToolResult, McpError> {
        self.call(move |ws| to_json(&ledger_loop::lint::run(ws, false)?)).await
    }

    #[tool(
        description = "Render the next Do Now memo (input.md) for an item, with the decision behind it. Never writes; writing stays `loop brief --write`."
    )]
    async fn brief(&self, Parameters(p): Parameters<BriefInput>) -> std::result::Result<CallToolResult, McpError> {
        self.call(move |ws| {
            let model = Model::load(ws)?;
            let (template, name) = ledger_loop::brief::template(&model, None)?;
            let stamp = ledger_loop::clock::stamp(&ledger_loop::clock::now()?);
            let b = ledger_loop::brief::render(&model, p.item.as_deref(), &stamp, &template, &name)?;
            Ok(serde_json::json!({"memo": b.text, "decision": b.decision}))
        })
        .await
    }

    #[tool(
        description = "Evaluate a run folder's metrics.json against the gates its plan task states (same JSON as `loop gate check --json`)."
    )]
    async fn gate_check(
        &self,
        Parameters(p): Parameters<GateCheckInput>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let dir = self.inside(&p.dir);
        self.call(move |ws| {
            let req = gates::CheckRequest { dir: dir?, ..Default::default() };
            to_json(&gates::check(&req, || Model::load(ws))?)
        })
        .await
    }

    #[tool(
        description = "Compare two images: correlation, sum ratio, RMSE, max errors, worst pixel, optional gates (same JSON as `loop compare --json`)."
    )]
    async fn compare(&self, Parameters(p): Parameters<CompareInput>) -> std::result::Result<CallToolResult, McpError> {
        let (a, b) = (self.inside(&p.a), self.inside(&p.b));
        self.call(move |_| {
            let roi =
                p.roi.as_deref().map(compare::parse_roi).transpose().map_err(|e| Error::Usage(format!("roi: {e}")))?;
            let req = compare::CompareRequest { a: a?, b: b?, roi, gate: p.gates, ..Default::default() };
            to_json(&compare::report(&req)?)
        })
        .await
    }

    #[tool(
        description = "Run the next step exactly as `loop run` does and return its run.json (the step's output goes to the server's stderr). Only when the server was started with --allow-run."
    )]
    async fn run(&self, Parameters(p): Parameters<RunInput>) -> std::result::Result<CallToolResult, McpError> {
        if !self.allow_run {
            return answer(Err(Error::Usage(
                "running steps is off: start the server with `loop mcp --allow-run` to enable the run tool".into(),
            )));
        }
        self.call(move |ws| {
            let model = Model::load(ws)?;
            let d = ledger_loop::next::decide_now(&model, None, None)?;
            if let Some(why) = &d.blocked {
                return Err(Error::Failed(format!("blocked: {why}")));
            }
            let preview = ledger_loop::run::preview(&model, &d)?;
            if p.dry_run.unwrap_or(false) {
                return Ok(serde_json::json!({"decision": d, "dry_run": preview}));
            }
            let sink: ledger_loop::progress::Sink = std::sync::Arc::new(ToStderr);
            to_json(&ledger_loop::run::execute(&model, &d, &sink)?)
        })
        .await
    }
}

/// `ledger://items/{id}` and `plan://{path}`: the section's markdown.
fn read(root: &Path, uri: &str) -> Result<String> {
    let model = Model::load(Workspace::discover(root, Some(root))?)?;
    if let Some(id) = uri.strip_prefix("ledger://items/") {
        let item =
            model.ledger.find(id).into_iter().next().ok_or_else(|| ledger_loop::focus::unknown_item(&model, id))?;
        return Ok(model.ledger.doc.text[item.range.clone()].to_string());
    }
    if let Some(path) = uri.strip_prefix("plan://") {
        let plan = model.plan(path).ok_or_else(|| Error::input(path, 0, "not an active plan of this workspace"))?;
        return Ok(plan.doc.text.clone());
    }
    Err(Error::Usage(format!("unknown resource `{uri}` (ledger://items/{{id}}, plan://{{path}})")))
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerInfo {
        let mut info = Implementation::from_build_env();
        info.name = "ledger-loop".into();
        info.version = env!("CARGO_PKG_VERSION").into();
        ServerInfo::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(info)
            .with_instructions(
                "The plan-and-ledger workflow: `next` decides the step, `run` runs it (with --allow-run), `attempt` records it.",
            )
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourceTemplatesResult, McpError> {
        let t = |uri: &str, name: &str, what: &str| {
            let mut r = RawResourceTemplate::new(uri, name);
            r.description = Some(what.into());
            r.mime_type = Some("text/markdown".into());
            r.no_annotation()
        };
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            t("ledger://items/{id}", "ledger item", "An item's section of docs/fix_plan.md"),
            t("plan://{path}", "plan", "A plan file under plans/active"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ReadResourceResult, McpError> {
        let root = self.ws.root.clone();
        let uri = request.uri.clone();
        match blocking(move || read(&root, &uri)).await {
            // Ledger sections and plans are markdown (rmcp's `text()` would say plain "text").
            Ok(text) => Ok(ReadResourceResult::new(vec![ResourceContents::TextResourceContents {
                uri: request.uri,
                mime_type: Some("text/markdown".into()),
                text,
                meta: None,
            }])),
            Err(e) => Err(McpError::resource_not_found(e.to_string(), None)),
        }
    }
}

/// Serve on stdin/stdout until the client closes stdin.
pub fn serve(ws: Workspace, allow_run: bool) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the MCP runtime: {e}")))?;
    rt.block_on(async move {
        let service = Server::new(ws, allow_run)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Error::Failed(format!("MCP handshake failed: {e}")))?;
        service.waiting().await.map_err(|e| Error::Failed(format!("MCP server stopped: {e}")))?;
        Ok(())
    })
}
