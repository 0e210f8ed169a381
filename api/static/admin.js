// The knowledge managers' page: upload documents and follow the ingest job to its report, see
// the knowledge gaps, and the atoms to review with a link into Neo4j Browser. Plain DOM, no
// framework: every piece of data is inserted as text, never parsed as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "skg_admin_key";
  const POLL_MS = 1000;
  const PAGE = 20;
  const JOB_STATES = {
    queued: "排队中",
    running: "导入中",
    succeeded: "导入完成",
    failed: "导入失败",
  };
  const STATUS_LABELS = { draft: "草稿", approved: "已审核", deprecated: "已废弃" };
  const REVIEW_EMPTY = {
    flagged: "没有被标记待处理的知识。",
    stale: "没有久未核实的知识。",
    invalid: "没有字段无效的知识。",
  };
  const NO_SCOPE =
    "该密钥没有 ingest 或 admin 权限，不能使用知识运营工作台。" +
    "请向管理员申请带 ingest（导入文档）或 admin（知识缺口、待审知识）权限的密钥。";
  const NO_INGEST =
    "该密钥没有 ingest 权限，不能导入文档。" + "需要导入请向管理员申请带 ingest 权限的密钥。";
  const ADMIN_ONLY =
    "只有管理员密钥（admin 权限）可以查看：这里汇总了所有团队的问题和知识。" +
    "当前密钥没有 admin 权限。";

  const $ = (id) => document.getElementById(id);
  const ui = {
    settings: $("settings"),
    settingsToggle: $("settings-toggle"),
    keyForm: $("key-form"),
    keyInput: $("key-input"),
    keyClear: $("key-clear"),
    keyState: $("key-state"),
    error: $("error"),
    refusal: $("refusal"),
    uploadRefusal: $("upload-refusal"),
    uploadBody: $("upload-body"),
    dropZone: $("drop-zone"),
    fileInput: $("file-input"),
    collection: $("collection"),
    visibility: $("visibility"),
    job: $("job"),
    jobs: $("jobs"),
    gapsRefusal: $("gaps-refusal"),
    gapsBody: $("gaps-body"),
    gaps: $("gaps"),
    gapsEmpty: $("gaps-empty"),
    gapsMore: $("gaps-more"),
    reviewRefusal: $("review-refusal"),
    reviewBody: $("review-body"),
    reviewCount: $("review-count"),
    review: $("review"),
    reviewMore: $("review-more"),
  };
  const state = { canIngest: false, isAdmin: false, kind: "flagged", reviewNext: 0, gapsNext: 0 };

  /** An element with attributes (`class`, `testid`, `on<event>`, others verbatim) and children
   *  (strings become text nodes). */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "testid") node.dataset.testid = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child != null && child !== false) node.append(child);
    }
    return node;
  }

  // ---- API key (kept apart from the reps' page key) ----------------------------------------

  let memoryKey = "";

  function getKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return memoryKey;
    }
  }

  function setKey(value) {
    memoryKey = value;
    try {
      if (value) localStorage.setItem(KEY_STORAGE, value);
      else localStorage.removeItem(KEY_STORAGE);
    } catch {
      // kept in memory for this visit only
    }
  }

  /** #key=... (never sent to the server) or ?key=...: keep it, then take it out of the
   *  address bar, as the reps' page does. */
  function takeKeyFromUrl() {
    const url = new URL(window.location.href);
    const fragment = new URLSearchParams(url.hash.slice(1));
    const key = fragment.get("key") ?? url.searchParams.get("key");
    if (key === null) return;
    if (key.trim()) setKey(key.trim());
    url.searchParams.delete("key");
    fragment.delete("key");
    const hash = fragment.toString();
    history.replaceState(history.state, "", url.pathname + url.search + (hash ? `#${hash}` : ""));
  }

  function openSettings(message) {
    ui.settings.hidden = false;
    ui.settingsToggle.setAttribute("aria-expanded", "true");
    const key = getKey();
    ui.keyState.textContent =
      message || (key ? `已保存密钥（尾号 ${key.slice(-4)}）` : "尚未设置访问密钥。");
    ui.keyInput.focus();
  }

  function closeSettings() {
    ui.settings.hidden = true;
    ui.settingsToggle.setAttribute("aria-expanded", "false");
  }

  // ---- API calls ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.message || `请求失败（HTTP ${status}）`);
      this.status = status;
      this.detail = typeof body?.detail === "string" ? body.detail : "";
      this.requestId = body?.request_id || "";
    }
  }

  function authHeaders() {
    const key = getKey();
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  async function api(path) {
    let response;
    try {
      response = await fetch(path, { headers: { Accept: "application/json", ...authHeaders() } });
    } catch {
      throw new ApiError(0, { message: "网络连接失败，请检查网络后重试" });
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      // not JSON: the status alone must do
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** POST /v1/ingest with upload progress (fetch cannot report it). */
  function upload(form, onProgress) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", "/v1/ingest");
      for (const [name, value] of Object.entries(authHeaders())) {
        request.setRequestHeader(name, value);
      }
      request.setRequestHeader("Accept", "application/json");
      request.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      request.onerror = () =>
        reject(new ApiError(0, { message: "网络连接失败，请检查网络后重试" }));
      request.onload = () => {
        let data = null;
        try {
          data = JSON.parse(request.responseText);
        } catch {
          // not JSON
        }
        if (request.status >= 200 && request.status < 300) resolve(data);
        else reject(new ApiError(request.status, data));
      };
      request.send(form);
    });
  }

  function errorBox(error) {
    const headline =
      error.status === 401 ? "访问密钥无效或已停用，请点右上角 ⚙ 重新输入。" : error.message;
    return [
      el("p", { class: "error-headline" }, headline),
      error.detail ? el("p", { class: "error-detail" }, error.detail) : null,
      error.requestId ? el("p", { class: "request-id" }, `请求编号：${error.requestId}`) : null,
    ];
  }

  function showError(error) {
    if (error.status === 401) openSettings("访问密钥无效或已停用，请重新输入。");
    ui.error.replaceChildren(...errorBox(error));
    ui.error.hidden = false;
  }

  // ---- What the key may do --------------------------------------------------------------------

  /** Ask what the key may do by trying a read of each kind: 403 means the scope is missing. */
  async function probe(path) {
    try {
      return { ok: true, data: await api(path) };
    } catch (error) {
      if (error.status === 403) return { ok: false };
      throw error;
    }
  }

  async function load() {
    ui.error.hidden = true;
    ui.refusal.hidden = true;
    const sections = document.querySelectorAll("main > section");
    if (!getKey()) {
      ui.refusal.textContent = "请先点右上角 ⚙ 输入访问密钥（需要 ingest 或 admin 权限）。";
      ui.refusal.hidden = false;
      for (const section of sections) section.hidden = true;
      openSettings();
      return;
    }
    let jobs;
    let gaps;
    try {
      [jobs, gaps] = await Promise.all([probe(`/v1/ingest/jobs?limit=10`), probe(gapsPath(0))]);
    } catch (error) {
      showError(error);
      return;
    }
    state.canIngest = jobs.ok;
    state.isAdmin = gaps.ok;
    ui.refusal.hidden = state.canIngest || state.isAdmin;
    ui.refusal.textContent = ui.refusal.hidden ? "" : NO_SCOPE;
    for (const section of sections) section.hidden = !ui.refusal.hidden;
    ui.uploadBody.hidden = !state.canIngest;
    ui.uploadRefusal.hidden = state.canIngest;
    ui.uploadRefusal.textContent = state.canIngest ? "" : NO_INGEST;
    for (const [refusal, body] of [
      [ui.gapsRefusal, ui.gapsBody],
      [ui.reviewRefusal, ui.reviewBody],
    ]) {
      refusal.hidden = state.isAdmin;
      refusal.textContent = state.isAdmin ? "" : ADMIN_ONLY;
      body.hidden = !state.isAdmin;
    }
    if (state.canIngest) renderJobs(jobs.data.items);
    else ui.jobs.replaceChildren(el("li", { class: "hint" }, "该密钥不能查看导入任务。"));
    if (state.isAdmin) {
      renderGaps(gaps.data, false);
      await loadReview(false);
    }
  }

  // ---- Upload and the job's progress and report ----------------------------------------------

  async function send(files) {
    if (!files.length) return;
    ui.error.hidden = true;
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    form.append("collection", ui.collection.value.trim() || "uploads");
    if (ui.visibility.value) form.append("visibility", ui.visibility.value);
    const names = [...files].map((f) => f.name);
    const progress = (share) => renderJob({ state: "uploading", files: names }, share);
    progress(0);
    try {
      const job = await upload(form, progress);
      await follow(job.id);
    } catch (error) {
      ui.job.hidden = true;
      showError(error);
    }
  }

  async function follow(jobId) {
    for (;;) {
      const job = await api(`/v1/ingest/jobs/${encodeURIComponent(jobId)}`);
      renderJob(job);
      if (job.state === "succeeded" || job.state === "failed") break;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    await load();
  }

  function steps(current) {
    const order = ["uploading", "queued", "running", "done"];
    const at = order.indexOf(current === "succeeded" || current === "failed" ? "done" : current);
    const labels = ["上传", "排队", "导入并更新索引", "完成"];
    return el(
      "ol",
      { class: "steps", testid: "job-steps" },
      labels.map((label, i) =>
        el("li", { class: i < at ? "done" : i === at ? "current" : "" }, label),
      ),
    );
  }

  function renderJob(job, share) {
    const label = job.state === "uploading" ? "上传中" : JOB_STATES[job.state] || job.state;
    const children = [
      el(
        "p",
        { class: `job-state ${job.state}` },
        el("strong", { testid: "job-state" }, label),
        share != null ? ` ${Math.round(share * 100)}%` : "",
        job.id ? el("span", { class: "hint" }, ` 任务 ${job.id}`) : "",
      ),
      steps(job.state),
      el("p", { class: "hint" }, `文件：${(job.files || []).join("、")}`),
    ];
    if (job.state === "failed" && job.error) {
      children.push(el("p", { class: "error-detail", testid: "job-error" }, job.error));
    }
    if (job.report) children.push(report(job.report));
    ui.job.replaceChildren(...children);
    ui.job.hidden = false;
  }

  function report(r) {
    const parts = [
      el(
        "p",
        { testid: "job-summary" },
        `文档 ${r.documents} 个（新增 ${r.documents_new}，` +
          `更新 ${r.documents_changed}，未变 ${r.documents_unchanged}）；` +
          `知识条目新增 ${r.atoms_created}、更新 ${r.atoms_updated}、` +
          `未变 ${r.atoms_unchanged}、删除 ${r.atoms_removed}；` +
          `实体 ${r.entities} 个，疑似重复 ${r.duplicates} 对；` +
          `用时 ${Number(r.seconds).toFixed(1)} 秒。`,
      ),
    ];
    if (r.atoms_held) {
      parts.push(
        el("p", { class: "warn" }, `${r.atoms_held} 条人工改过的知识来源已变，已标记待处理。`),
      );
    }
    if (r.failures?.length) {
      parts.push(
        el("h3", {}, `未导入的文件（${r.failures.length}）`),
        el(
          "ul",
          { class: "failures", testid: "job-failures" },
          r.failures.map((f) => el("li", {}, el("strong", {}, f.file), "：", f.error)),
        ),
      );
    }
    if (r.warnings?.length) {
      parts.push(
        el("h3", {}, `提醒（${r.warnings.length}）`),
        el(
          "ul",
          { class: "warnings", testid: "job-warnings" },
          r.warnings.map((w) => el("li", {}, w)),
        ),
      );
    }
    return el("div", { class: "report", testid: "job-report" }, parts);
  }

  function renderJobs(items) {
    if (!items.length) {
      ui.jobs.replaceChildren(el("li", { class: "hint" }, "还没有导入任务。"));
      return;
    }
    ui.jobs.replaceChildren(
      ...items.map((job) =>
        el(
          "li",
          { class: "row-item" },
          el("span", { class: `chip ${job.state}` }, JOB_STATES[job.state] || job.state),
          el("span", {}, (job.files || []).join("、")),
          el(
            "span",
            { class: "hint" },
            ` ${job.collection || ""} · ${(job.created_at || "").slice(0, 19).replace("T", " ")}`,
          ),
        ),
      ),
    );
  }

  // ---- Knowledge gaps -------------------------------------------------------------------------

  function gapsPath(offset) {
    return `/v1/gaps?days=30&limit=${PAGE}&offset=${offset}`;
  }

  function renderGaps(page, append) {
    const rows = page.items.map((gap) =>
      el(
        "tr",
        { testid: "gap" },
        el("td", {}, gap.question),
        el("td", { class: "num" }, String(gap.times)),
        el("td", {}, (gap.last_asked || "").slice(0, 10)),
        el("td", { class: "num" }, gap.confidence == null ? "" : gap.confidence.toFixed(2)),
        el("td", {}, gap.teams.join("、")),
      ),
    );
    if (append) ui.gaps.append(...rows);
    else ui.gaps.replaceChildren(...rows);
    ui.gapsEmpty.hidden = ui.gaps.children.length > 0;
    state.gapsNext = page.next_offset;
    ui.gapsMore.hidden = page.next_offset == null;
  }

  // ---- Atoms to review ------------------------------------------------------------------------

  async function loadReview(append) {
    const offset = append ? state.reviewNext : 0;
    const page = await api(`/v1/review?kind=${state.kind}&limit=${PAGE}&offset=${offset}`);
    const items = page.items.map(reviewItem);
    if (append) ui.review.append(...items);
    else ui.review.replaceChildren(...items);
    ui.reviewCount.textContent = page.total ? `共 ${page.total} 条` : REVIEW_EMPTY[state.kind];
    state.reviewNext = page.next_offset;
    ui.reviewMore.hidden = page.next_offset == null;
  }

  function reviewItem(item) {
    const reason = item.review_label || (item.problems.length ? "字段无效" : "");
    return el(
      "li",
      { class: "review-item", testid: "review-item", "data-atom-id": item.id },
      el(
        "p",
        { class: "review-head" },
        el("span", { class: "chip type" }, item.type_label),
        reason ? el("span", { class: "chip reason" }, reason) : null,
        el("strong", {}, item.title || "（缺少标题）"),
      ),
      item.note ? el("p", { class: "hint" }, item.note) : null,
      item.problems.length ? el("p", { class: "warn" }, item.problems.join("；")) : null,
      el(
        "p",
        { class: "hint" },
        [
          STATUS_LABELS[item.status] || item.status || "状态未知",
          item.unverified_days != null ? `${item.unverified_days} 天未核实` : "",
          item.document_path ? `来源：${item.document_path}` : "",
          `编号：${item.id}`,
        ]
          .filter(Boolean)
          .join(" · "),
      ),
      el(
        "a",
        {
          href: item.browser_url,
          target: "_blank",
          rel: "noopener noreferrer",
          testid: "browser-link",
        },
        "在 Neo4j Browser 中打开",
      ),
    );
  }

  // ---- Wiring ---------------------------------------------------------------------------------

  function wire() {
    ui.settingsToggle.addEventListener("click", () =>
      ui.settings.hidden ? openSettings() : closeSettings(),
    );
    ui.keyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = ui.keyInput.value.trim();
      if (!key) return;
      setKey(key);
      ui.keyInput.value = "";
      closeSettings();
      load();
    });
    ui.keyClear.addEventListener("click", () => {
      setKey("");
      openSettings("已清除密钥。");
    });
    ui.dropZone.addEventListener("click", () => ui.fileInput.click());
    ui.dropZone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") ui.fileInput.click();
    });
    ui.fileInput.addEventListener("change", () => {
      send([...ui.fileInput.files]);
      ui.fileInput.value = "";
    });
    for (const type of ["dragenter", "dragover"]) {
      ui.dropZone.addEventListener(type, (event) => {
        event.preventDefault();
        ui.dropZone.classList.add("hovering");
      });
    }
    ui.dropZone.addEventListener("dragleave", () => ui.dropZone.classList.remove("hovering"));
    ui.dropZone.addEventListener("drop", (event) => {
      event.preventDefault();
      ui.dropZone.classList.remove("hovering");
      send([...(event.dataTransfer?.files || [])]);
    });
    // A file dropped beside the zone must not make the browser leave the page to open it.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
    for (const tab of document.querySelectorAll("[role=tab]")) {
      tab.addEventListener("click", () => {
        state.kind = tab.dataset.kind;
        for (const other of document.querySelectorAll("[role=tab]")) {
          other.setAttribute("aria-selected", String(other === tab));
        }
        loadReview(false).catch(showError);
      });
    }
    ui.reviewMore.addEventListener("click", () => loadReview(true).catch(showError));
    ui.gapsMore.addEventListener("click", () =>
      api(gapsPath(state.gapsNext))
        .then((page) => renderGaps(page, true))
        .catch(showError),
    );
  }

  takeKeyFromUrl();
  wire();
  load().catch(showError);
})();
