// The sales rep's page: ask by typing, by holding the talk button or by uploading a recording;
// show the cited answer, expand its atoms, send feedback. Plain DOM, no framework: every piece
// of data is inserted as text (append/textContent), never parsed as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "skg_api_key";
  const MIN_SECONDS = 0.5;
  const MAX_SECONDS = 60; // the server refuses long audio anyway; a rep's question is short
  const INTENT_LABELS = {
    definition: "术语解释",
    howto: "怎么做/怎么讲",
    case: "找案例",
    objection: "异议应对",
    lesson: "复盘教训",
    explain: "综合说明",
  };
  const STATUS_LABELS = { draft: "待审核", approved: "已审核", deprecated: "已停用" };
  const VISIBILITY_LABELS = { public: "公开", team: "团队可见", private: "仅本人" };
  // What MediaRecorder should produce, best first (Safari only does mp4), and the file suffix.
  const RECORDER_TYPES = [
    ["audio/webm;codecs=opus", "webm"],
    ["audio/ogg;codecs=opus", "ogg"],
    ["audio/mp4", "m4a"],
    ["audio/webm", "webm"],
  ];

  const $ = (id) => document.getElementById(id);
  const ui = {
    settings: $("settings"),
    settingsToggle: $("settings-toggle"),
    keyForm: $("key-form"),
    keyInput: $("key-input"),
    keyClear: $("key-clear"),
    keyState: $("key-state"),
    askForm: $("ask-form"),
    question: $("question"),
    ask: $("ask"),
    talk: $("talk"),
    voiceStatus: $("voice-status"),
    upload: $("upload"),
    loading: $("loading"),
    error: $("error"),
    result: $("result"),
  };

  // ---- DOM helper -------------------------------------------------------------------------

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

  // ---- API key ----------------------------------------------------------------------------

  let memoryKey = ""; // when localStorage is blocked (some private modes)

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

  /** A shared link or QR code may carry the key, as #key=... (never sent to the server, so
   *  never in its access log) or ?key=...: keep it, then take it out of the address bar (and
   *  so out of history, bookmarks and screenshots). */
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

  function keyStateText() {
    const key = getKey();
    return key ? `已保存密钥（尾号 ${key.slice(-4)}）` : "尚未设置访问密钥，请向管理员索取。";
  }

  function openSettings(message, focus = true) {
    ui.settings.hidden = false;
    ui.settingsToggle.setAttribute("aria-expanded", "true");
    ui.keyState.textContent = message || keyStateText();
    ui.keyState.classList.toggle("warn", Boolean(message));
    if (focus) ui.keyInput.focus();
  }

  function closeSettings() {
    ui.settings.hidden = true;
    ui.settingsToggle.setAttribute("aria-expanded", "false");
  }

  // ---- API calls and errors ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super(body?.message || `请求失败（HTTP ${status}）`);
      this.status = status;
      this.code = body?.code || "";
      this.detail = typeof body?.detail === "string" ? body.detail : "";
      this.requestId = body?.request_id || "";
      this.retryAfter = retryAfter;
    }
  }

  async function api(path, { json, form } = {}) {
    const headers = { Accept: "application/json" };
    const key = getKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    let response;
    try {
      response = await fetch(path, { method: body ? "POST" : "GET", headers, body });
    } catch {
      throw new ApiError(0, { message: "网络连接失败，请检查网络后重试" });
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      // not JSON (a proxy's error page): the status alone must do
    }
    if (!response.ok) {
      throw new ApiError(response.status, data, response.headers.get("Retry-After"));
    }
    return data;
  }

  function keyHeadline() {
    return getKey()
      ? "访问密钥无效或已停用，请点右上角 ⚙ 重新输入密钥。"
      : "请先点右上角 ⚙ 输入访问密钥（向管理员索取）。";
  }

  /** A 401 anywhere opens the key panel with the reason. */
  function promptForKey(error) {
    if (error.status === 401) openSettings(keyHeadline());
  }

  /** What to tell the rep about a failed call: a headline, then the server's own words. */
  function errorLines(error) {
    let headline = error.message;
    if (error.status === 401) {
      headline = keyHeadline();
    } else if (error.status === 503) {
      const seconds = Number.parseInt(error.retryAfter, 10);
      headline = "服务暂时不可用，请稍后重试" + (seconds > 0 ? `（约 ${seconds} 秒后）` : "。");
    }
    const lines = [el("p", { class: "error-headline" }, headline)];
    if (error.message && error.message !== headline) lines.push(el("p", {}, error.message));
    if (error.detail) lines.push(el("p", { class: "error-detail" }, error.detail));
    if (error.requestId) {
      lines.push(el("p", { class: "request-id" }, `请求编号：${error.requestId}`));
    }
    return lines;
  }

  function showError(error) {
    promptForKey(error);
    ui.error.replaceChildren(...errorLines(error));
    ui.error.hidden = false;
  }

  function clearError() {
    ui.error.hidden = true;
    ui.error.replaceChildren();
  }

  // ---- Asking -----------------------------------------------------------------------------

  let busy = false;

  function setBusy(on) {
    busy = on;
    ui.loading.hidden = !on;
    ui.ask.disabled = on;
    ui.upload.disabled = on;
    ui.talk.disabled = on || !canRecord;
  }

  async function run(request) {
    if (busy) return;
    clearError();
    ui.result.replaceChildren();
    setBusy(true);
    try {
      renderResult(await request());
    } catch (error) {
      if (!(error instanceof ApiError)) {
        console.error(error); // a bug in this page, not a server answer
        error = new ApiError(0, { message: "页面出错了，请刷新后重试", detail: String(error) });
      }
      showError(error);
    } finally {
      setBusy(false);
    }
  }

  function askText(event) {
    event.preventDefault();
    const question = ui.question.value.trim();
    if (!question) {
      ui.question.focus();
      return;
    }
    ui.question.blur(); // closes the phone keyboard so the answer is visible
    run(() => api("/v1/ask", { json: { question } }));
  }

  async function askAudio(blob, filename) {
    const form = new FormData();
    form.append("audio", blob, filename);
    await run(() => api("/v1/ask/voice", { form }));
    setVoiceStatus("");
  }

  // ---- Rendering the answer ---------------------------------------------------------------

  function renderResult(data) {
    const parts = [];
    if (data.transcript) {
      parts.push(transcriptView(data.transcript));
      ui.question.value = data.transcript.text; // so the rep can fix a word and ask again
    }
    parts.push(answerView(data));
    ui.result.replaceChildren(...parts);
    parts[0].scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function transcriptView(transcript) {
    return el(
      "div",
      { class: "transcript", testid: "transcript" },
      el("span", { class: "label" }, "识别为"),
      el("q", {}, transcript.text),
      transcript.changes?.length
        ? el("small", { class: "changes" }, `已纠正：${transcript.changes.join("，")}`)
        : null,
    );
  }

  function citeChip(number) {
    return el(
      "button",
      {
        type: "button",
        class: "cite-chip",
        "aria-label": `查看引用 ${number}`,
        onclick: () => openCitation(number),
      },
      `[${number}]`,
    );
  }

  /** Text with "[n]" markers (the polished answer) as text and citation chips. */
  function withChips(text) {
    return text.split(/\[(\d+)\]/).map((part, i) => (i % 2 ? citeChip(Number(part)) : part));
  }

  function answerView(data) {
    const answer = data.answer;
    const article = el("article", { class: "answer", testid: "answer" });
    article.dataset.answerId = data.answer_id;
    let understood = `理解：${INTENT_LABELS[answer.intent] || INTENT_LABELS.explain}`;
    if (answer.entities.length) understood += `；识别到 ${answer.entities.join("、")}`;
    article.append(el("p", { class: "understood" }, understood));
    if (answer.note) article.append(el("p", { class: "note" }, answer.note));

    if (answer.answered === false) {
      // No reliable answer: say so plainly; the nearest atoms are shown apart, as leads only.
      article.classList.add("declined");
      article.append(
        el("p", { class: "empty", testid: "answer-declined" }, "知识库里没有这个问题的可靠答案"),
        el(
          "p",
          { class: "hint" },
          "可以换个说法，或写明客户、产品或行业再问。这个问题会作为知识缺口交给知识运营补充。",
        ),
      );
      if (answer.leads.length) {
        article.append(
          el(
            "section",
            { class: "leads", testid: "leads" },
            el("h2", {}, "最接近的线索（仅供参考，不是答案）"),
            el("ol", {}, answer.leads.map(citationView)),
          ),
        );
      }
    } else if (!answer.sections.length) {
      article.append(
        el("p", { class: "empty", testid: "answer-empty" }, "没有找到相关知识"),
        el("p", { class: "hint" }, "换个说法试试，或告诉知识运营补充这方面的内容。"),
      );
    } else {
      if (answer.polished) {
        article.append(el("p", { class: "polished" }, ...withChips(answer.polished)));
      }
      for (const section of answer.sections) {
        article.append(
          el(
            "section",
            { class: "answer-section", testid: "answer-section" },
            el("h2", {}, section.heading),
            el(
              "ul",
              {},
              section.points.map((point) =>
                el("li", {}, point.text, " ", point.citations.map(citeChip)),
              ),
            ),
          ),
        );
      }
    }
    article.append(
      feedbackBar({ answer_id: data.answer_id }, "feedback", [
        ["helpful", "有用", "👍"],
        ["not_helpful", "没用", "👎"],
      ]),
    );
    if (answer.citations.length) {
      article.append(
        el(
          "section",
          { class: "citations" },
          el("h2", {}, "引用来源"),
          el("ol", {}, answer.citations.map(citationView)),
        ),
      );
    }
    return article;
  }

  function citationView(citation) {
    const body = el("div", { class: "atom-body" });
    const item = el(
      "details",
      { class: "citation", testid: "citation", id: `cite-${citation.number}` },
      el(
        "summary",
        {},
        el("span", { class: "num" }, `[${citation.number}]`),
        el(
          "span",
          { class: "cite-text" },
          el("span", { class: "cite-title" }, citation.atom_title),
          el(
            "span",
            { class: "source" },
            `${citation.document_title || citation.document_path} · ${citation.section || "全文"}`,
          ),
        ),
      ),
      body,
    );
    item.dataset.atomId = citation.atom_id;
    item.addEventListener("toggle", () => {
      if (item.open && !item.dataset.state) loadAtom(citation, item, body);
    });
    return el("li", {}, item);
  }

  function openCitation(number) {
    const item = document.getElementById(`cite-${number}`);
    if (!item) return;
    item.open = true;
    item.scrollIntoView({ behavior: "smooth", block: "start" });
    item.classList.remove("flash");
    void item.offsetWidth; // restart the highlight animation
    item.classList.add("flash");
  }

  async function loadAtom(citation, item, body) {
    item.dataset.state = "loading";
    body.replaceChildren(el("p", { class: "hint" }, "加载中…"));
    try {
      const data = await api(`/v1/atoms/${encodeURIComponent(citation.atom_id)}`);
      body.replaceChildren(atomView(data, citation));
      item.dataset.state = "loaded";
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      delete item.dataset.state; // try again on the next opening
      promptForKey(error);
      body.replaceChildren(
        error.status === 404
          ? el("p", { class: "hint" }, "这条知识已下线，或你没有查看权限。")
          : el("div", { class: "error" }, ...errorLines(error)),
      );
    }
  }

  function currentAnswerId() {
    return document.querySelector("[data-answer-id]")?.dataset.answerId || undefined;
  }

  function atomView(data, citation) {
    const { atom, citation: source, entities, feedback } = data;
    const meta = [
      atom.type_label,
      STATUS_LABELS[atom.status] || atom.status,
      VISIBILITY_LABELS[atom.visibility] || atom.visibility,
      atom.team ? `团队：${atom.team}` : "",
      `第 ${atom.version} 版`,
      atom.updated_at ? `更新于 ${atom.updated_at.slice(0, 10)}` : "",
    ].filter(Boolean);
    const facts = el(
      "dl",
      { class: "atom-facts" },
      el("dt", {}, "来源"),
      el(
        "dd",
        {},
        `${source.document_title || source.document_path} · ${source.section || "全文"}`,
        el("small", {}, source.document_path),
      ),
    );
    if (citation.path.length > 1) {
      facts.append(el("dt", {}, "关联路径"), el("dd", {}, citation.path.join(" → ")));
    }
    if (feedback && (feedback.helpful || feedback.used_in_deal || feedback.deal_won)) {
      const counts = [`${feedback.helpful} 人觉得有用`];
      if (feedback.used_in_deal) counts.push(`用于 ${feedback.used_in_deal} 个商机`);
      if (feedback.deal_won) counts.push(`赢单 ${feedback.deal_won} 次`);
      facts.append(el("dt", {}, "反馈"), el("dd", {}, counts.join(" · ")));
    }
    return el(
      "div",
      { class: "atom-detail", testid: "atom-detail" },
      el("p", { class: "atom-meta" }, meta.join(" · ")),
      el("p", { class: "atom-text" }, atom.text),
      facts,
      entities.length
        ? el(
            "div",
            { class: "entities", "aria-label": "相关实体" },
            entities.map((e) => el("span", { class: "entity", title: e.kind }, e.name)),
          )
        : null,
      // Within an answer, a vote on one atom also says which question it helped with.
      feedbackBar({ atom_id: atom.id, answer_id: currentAnswerId() }, "atom-feedback", [
        ["helpful", "有用"],
        ["not_helpful", "没用"],
        ["used_in_deal", "用于商机"],
      ]),
    );
  }

  /** Feedback buttons for one answer or atom; one click each, then "感谢反馈". */
  function feedbackBar(target, testPrefix, choices) {
    const status = el("span", {
      class: "feedback-status",
      testid: `${testPrefix}-status`,
      role: "status",
    });
    const buttons = choices.map(([kind, label, icon]) =>
      el(
        "button",
        {
          type: "button",
          class: "feedback-button",
          testid: `${testPrefix}-${kind.replaceAll("_", "-")}`,
          onclick: (event) => send(kind, event.currentTarget),
        },
        icon ? el("span", { "aria-hidden": "true" }, `${icon} `) : null,
        label,
      ),
    );
    async function send(kind, button) {
      for (const b of buttons) b.disabled = true;
      status.textContent = "正在提交…";
      try {
        await api("/v1/feedback", { json: { kind, ...target } });
        button.classList.add("chosen");
        status.textContent = "感谢反馈";
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        for (const b of buttons) b.disabled = false;
        promptForKey(error);
        status.replaceChildren(el("span", { class: "warn" }, errorLines(error)[0].textContent));
      }
    }
    return el("div", { class: "feedback", role: "group", "aria-label": "反馈" }, buttons, status);
  }

  // ---- Hold to talk -----------------------------------------------------------------------

  const canRecord =
    Boolean(navigator.mediaDevices?.getUserMedia) && typeof window.MediaRecorder === "function";
  const recorderType = canRecord
    ? RECORDER_TYPES.find(([type]) => MediaRecorder.isTypeSupported(type))
    : undefined;
  let recording = null; // the press in progress: {pressedAt, holding, stream, recorder, ...}

  function setVoiceStatus(text, tone = "") {
    ui.voiceStatus.textContent = text;
    ui.voiceStatus.className = `hint ${tone}`;
  }

  function micErrorText(error) {
    switch (error.name) {
      case "NotAllowedError":
      case "SecurityError":
        return "未获得麦克风权限。请在浏览器设置中允许使用麦克风，或上传录音、直接输入问题。";
      case "NotFoundError":
      case "OverconstrainedError":
        return "没有检测到麦克风，请上传录音或直接输入问题。";
      case "NotReadableError":
        return "麦克风正被其他应用占用，请稍后再试。";
      default:
        return `无法录音（${error.name}），请上传录音或直接输入问题。`;
    }
  }

  async function startTalk(event) {
    if (busy || recording || ui.talk.disabled) return;
    event.preventDefault();
    const press = { pressedAt: performance.now(), holding: true, chunks: [] };
    recording = press;
    ui.talk.classList.add("pressed");
    setVoiceStatus("正在打开麦克风…");
    try {
      press.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      recording = null;
      ui.talk.classList.remove("pressed");
      setVoiceStatus(micErrorText(error), "warn");
      return;
    }
    if (!press.holding) {
      // Released before the microphone opened: a tap, or the first permission prompt.
      press.stream.getTracks().forEach((track) => track.stop());
      recording = null;
      const tapped = press.releasedAt - press.pressedAt < MIN_SECONDS * 1000;
      setVoiceStatus(tapped ? "说话时间太短" : "麦克风已就绪，请按住按钮说话", "warn");
      return;
    }
    const recorder = new MediaRecorder(
      press.stream,
      recorderType ? { mimeType: recorderType[0] } : undefined,
    );
    press.recorder = recorder;
    recorder.addEventListener("dataavailable", (e) => {
      if (e.data.size) press.chunks.push(e.data);
    });
    recorder.addEventListener("stop", () => finishTalk(press));
    recorder.start(250);
    press.startedAt = performance.now();
    ui.talk.classList.add("recording");
    press.timer = setInterval(() => {
      const seconds = (performance.now() - press.startedAt) / 1000;
      setVoiceStatus(`● 正在录音 ${seconds.toFixed(1)} 秒，松开发送`, "live");
      if (seconds >= MAX_SECONDS) stopTalk();
    }, 100);
  }

  function stopTalk(cancel = false) {
    const press = recording;
    if (!press || !press.holding) return;
    press.holding = false;
    press.cancelled = cancel;
    press.releasedAt = performance.now();
    ui.talk.classList.remove("pressed");
    if (press.recorder && press.recorder.state !== "inactive") {
      press.seconds = (press.releasedAt - press.startedAt) / 1000;
      press.recorder.stop(); // "stop" fires finishTalk once the last chunk is in
    }
  }

  function finishTalk(press) {
    clearInterval(press.timer);
    press.stream.getTracks().forEach((track) => track.stop());
    recording = null;
    ui.talk.classList.remove("recording");
    if (press.cancelled) {
      setVoiceStatus("录音已取消");
      return;
    }
    if (press.seconds < MIN_SECONDS || !press.chunks.length) {
      setVoiceStatus("说话时间太短", "warn");
      return;
    }
    const type = press.recorder.mimeType || recorderType?.[0] || "audio/webm";
    const suffix = (RECORDER_TYPES.find(([t]) => type.startsWith(t.split(";")[0])) || [])[1];
    setVoiceStatus(`已录音 ${press.seconds.toFixed(1)} 秒，正在识别…`);
    askAudio(new Blob(press.chunks, { type }), `question.${suffix || "webm"}`);
  }

  function uploadChosen() {
    const file = ui.upload.files[0];
    ui.upload.value = ""; // choosing the same file again still fires "change"
    if (!file) return;
    setVoiceStatus(`正在识别 ${file.name}…`);
    askAudio(file, file.name);
  }

  // ---- Wiring -----------------------------------------------------------------------------

  function init() {
    takeKeyFromUrl();
    ui.settingsToggle.addEventListener("click", () =>
      ui.settings.hidden ? openSettings() : closeSettings(),
    );
    ui.keyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = ui.keyInput.value.trim();
      if (!key) {
        ui.keyState.textContent = "请先粘贴密钥。";
        return;
      }
      setKey(key);
      ui.keyInput.value = "";
      closeSettings();
      clearError();
    });
    ui.keyClear.addEventListener("click", () => {
      setKey("");
      ui.keyInput.value = "";
      ui.keyState.textContent = keyStateText();
    });
    if (!getKey()) openSettings("", false);

    ui.askForm.addEventListener("submit", askText);
    ui.upload.addEventListener("change", uploadChosen);

    ui.talk.disabled = !canRecord;
    if (!canRecord) {
      setVoiceStatus(
        "此浏览器无法在本页录音（手机上需通过 HTTPS 打开）。请上传录音或直接输入问题。",
        "warn",
      );
      return;
    }
    ui.talk.addEventListener("pointerdown", (event) => {
      if (event.button === 0) startTalk(event);
    });
    ui.talk.addEventListener("pointerup", () => stopTalk());
    ui.talk.addEventListener("pointerleave", () => stopTalk());
    ui.talk.addEventListener("pointercancel", () => stopTalk(true));
    ui.talk.addEventListener("contextmenu", (event) => event.preventDefault());
    ui.talk.addEventListener("keydown", (event) => {
      if ((event.key === " " || event.key === "Enter") && !event.repeat) startTalk(event);
    });
    ui.talk.addEventListener("keyup", (event) => {
      if (event.key === " " || event.key === "Enter") stopTalk();
    });
  }

  init();
})();
