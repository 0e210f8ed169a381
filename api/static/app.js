// The sales rep's page: ask by typing, by holding the talk button or by uploading a recording;
// questions and answers stack as a conversation (follow-ups are read with the turns before),
// typed answers stream in as they are composed; expand cited atoms, send feedback. Plain DOM,
// no framework: every piece of data is inserted as text (append/textContent), never as HTML.
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
    thread: $("thread"),
    newConversation: $("new-conversation"),
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

  // One plain message for a missing or refused key, shown in one place.
  const NO_KEY = "还没有访问密钥：请向管理员索取密钥链接，用手机打开链接即可使用。";
  const BAD_KEY = "访问密钥无效或已停用：请向管理员索取新的密钥链接。";

  function keyStateText() {
    const key = getKey();
    return key ? `已保存密钥（尾号 ${key.slice(-4)}）` : NO_KEY;
  }

  function openSettings(message, focus = true) {
    ui.settings.hidden = false;
    ui.settingsToggle.setAttribute("aria-expanded", "true");
    ui.keyState.textContent = (message || keyStateText()).trim();
    ui.keyState.classList.toggle("warn", Boolean(message?.trim()));
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
    return getKey() ? BAD_KEY : NO_KEY;
  }

  /** A 401 anywhere opens the key panel; the message itself is said once, by the caller. */
  function promptForKey(error) {
    if (error.status === 401) openSettings(" ", false);
  }

  /** What to tell the rep about a failed call: a headline, then the server's own words (for
   *  a refused key, only the headline: the rep needs a new link, not the protocol). */
  function errorLines(error) {
    if (error.status === 401) return [el("p", { class: "error-headline" }, keyHeadline())];
    let headline = error.message;
    if (error.status === 503) {
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

  // ---- Asking: a conversation of turns --------------------------------------------------

  let busy = false;
  let conversationId = null; // the conversation follow-ups continue; null: the next starts one

  function setBusy(on) {
    busy = on;
    ui.loading.hidden = !on;
    ui.ask.disabled = on;
    ui.upload.disabled = on;
    ui.talk.disabled = on || !canRecord;
  }

  function asPageError(error) {
    if (error instanceof ApiError) return error;
    console.error(error); // a bug in this page, not a server answer
    return new ApiError(0, { message: "页面出错了，请刷新后重试", detail: String(error) });
  }

  /** A turn of the thread: the question as asked, then its answer as it arrives. */
  function newTurn(question) {
    const answer = el("article", { class: "answer", testid: "answer" });
    answer.dataset.state = "waiting";
    answer.dataset.events = "";
    const turn = el(
      "section",
      { class: "turn", testid: "turn" },
      question ? el("p", { class: "turn-question", testid: "turn-question" }, question) : null,
      answer,
    );
    ui.thread.append(turn);
    return { turn, answer };
  }

  async function askText(event) {
    event.preventDefault();
    const question = ui.question.value.trim();
    if (!question) {
      ui.question.focus();
      return;
    }
    if (busy) return;
    ui.question.blur(); // closes the phone keyboard so the answer is visible
    clearError();
    setBusy(true);
    const { turn, answer } = newTurn(question);
    turn.scrollIntoView({ behavior: "smooth", block: "start" });
    try {
      const body = { question };
      if (conversationId) body.conversation_id = conversationId;
      await streamAnswer(body, answer);
      ui.question.value = "";
    } catch (error) {
      turn.remove();
      showError(asPageError(error));
    } finally {
      setBusy(false);
    }
  }

  async function askAudio(blob, filename) {
    if (busy) return;
    clearError();
    setBusy(true);
    const form = new FormData();
    form.append("audio", blob, filename);
    if (conversationId) form.append("conversation_id", conversationId);
    try {
      const data = await api("/v1/ask/voice", { form });
      conversationId = data.conversation_id;
      const { turn, answer } = newTurn("");
      turn.prepend(transcriptView(data.transcript));
      ui.question.value = data.transcript.text; // so the rep can fix a word and ask again
      renderAnswer(answer, data);
      turn.scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (error) {
      showError(asPageError(error));
    } finally {
      setBusy(false);
      setVoiceStatus("");
    }
  }

  function newConversation() {
    conversationId = null;
    ui.thread.replaceChildren();
    clearError();
    ui.question.value = "";
    ui.question.focus();
  }

  // ---- Streaming: server-sent events over fetch (EventSource cannot POST or send a key) ---

  async function streamAnswer(body, article) {
    const headers = { Accept: "text/event-stream", "Content-Type": "application/json" };
    const key = getKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    let response;
    try {
      response = await fetch("/v1/ask", { method: "POST", headers, body: JSON.stringify(body) });
    } catch {
      throw new ApiError(0, { message: "网络连接失败，请检查网络后重试" });
    }
    if (!response.ok || !response.body) {
      let data = null;
      try {
        data = await response.json();
      } catch {
        // not JSON (a proxy's error page): the status alone must do
      }
      throw new ApiError(response.status, data, response.headers.get("Retry-After"));
    }
    const live = liveAnswer(article);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseEvent(block);
        if (event) live.on(event.name, event.data);
      }
      if (done) break;
    }
    if (article.dataset.state !== "done") {
      throw new ApiError(0, { message: "回答没有收完，请重试" });
    }
  }

  function parseEvent(block) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    return data.length ? { name, data: JSON.parse(data.join("\n")) } : null;
  }

  /** An answer filled in event by event: how it was read, each section, citations, the
   *  polished prose, then feedback once it is done. */
  function liveAnswer(article) {
    let polished = null;
    let prose = "";
    let citations = [];
    const sections = el("div", { class: "sections" });
    return {
      on(name, data) {
        article.dataset.events += (article.dataset.events ? " " : "") + name;
        if (name === "understanding") {
          article.dataset.state = "streaming";
          conversationId = data.conversation_id;
          article.append(el("p", { class: "understood", testid: "understood" }, data.understood));
          article.append(sections);
        } else if (name === "section") {
          sections.append(sectionView(data, article));
        } else if (name === "citations") {
          citations = data.citations;
          article.append(citationsView(citations, article));
        } else if (name === "token") {
          if (!polished) {
            polished = el("p", { class: "polished", testid: "polished" });
            sections.before(polished);
          }
          prose += data.text;
          polished.textContent = prose;
        } else if (name === "declined") {
          article.append(...declinedView(data.leads, article));
          article.classList.add("declined");
        } else if (name === "done") {
          if (polished) polished.replaceChildren(...withChips(prose, article));
          article.dataset.answerId = data.answer_id;
          article.dataset.state = "done";
          const bar = feedbackBar({ answer_id: data.answer_id }, "feedback", [
            ["helpful", "有用", "👍"],
            ["not_helpful", "没用", "👎"],
          ]);
          const list = article.querySelector(".citations");
          if (list) list.before(bar);
          else article.append(bar);
        } else if (name === "error") {
          throw new ApiError(500, data);
        }
      },
    };
  }

  // ---- Rendering the answer ---------------------------------------------------------------

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

  function citeChip(number, article) {
    return el(
      "button",
      {
        type: "button",
        class: "cite-chip",
        "aria-label": `查看引用 ${number}`,
        onclick: () => openCitation(number, article),
      },
      `[${number}]`,
    );
  }

  /** Text with "[n]" markers (the polished answer) as text and citation chips. */
  function withChips(text, article) {
    return text
      .split(/\[(\d+)\]/)
      .map((part, i) => (i % 2 ? citeChip(Number(part), article) : part));
  }

  function sectionView(section, article) {
    return el(
      "section",
      { class: "answer-section", testid: "answer-section" },
      el("h2", {}, section.heading),
      el(
        "ul",
        {},
        section.points.map((point) =>
          el("li", {}, point.text, " ", point.citations.map((n) => citeChip(n, article))),
        ),
      ),
    );
  }

  function citationsView(citations, article) {
    return el(
      "section",
      { class: "citations" },
      el("h2", {}, "引用来源"),
      el("ol", {}, citations.map((c) => citationView(c, article))),
    );
  }

  function declinedView(leads, article) {
    // No reliable answer: say so plainly; the nearest atoms are shown apart, as leads only.
    const parts = [
      el("p", { class: "empty", testid: "answer-declined" }, "知识库里没有这个问题的可靠答案"),
      el(
        "p",
        { class: "hint" },
        "可以换个说法，或写明客户、产品或行业再问。这个问题会作为知识缺口交给知识运营补充。",
      ),
    ];
    if (leads.length) {
      parts.push(
        el(
          "section",
          { class: "leads", testid: "leads" },
          el("h2", {}, "最接近的线索（仅供参考，不是答案）"),
          el("ol", {}, leads.map((c) => citationView(c, article))),
        ),
      );
    }
    return parts;
  }

  /** A whole answer at once (a spoken question's). */
  function renderAnswer(article, data) {
    const answer = data.answer;
    article.dataset.answerId = data.answer_id;
    article.dataset.state = "done";
    const read = [INTENT_LABELS[answer.intent] || INTENT_LABELS.explain];
    if (answer.rewritten) read.unshift(`${answer.rewritten.replace(/[？?]$/, "")}（承接上一问）`);
    if (answer.entities.length) read.push(`识别到 ${answer.entities.join("、")}`);
    const understood = `理解：${read.join("；")}`;
    article.append(el("p", { class: "understood", testid: "understood" }, understood));
    if (answer.note) article.append(el("p", { class: "note" }, answer.note));

    if (answer.answered === false) {
      article.classList.add("declined");
      article.append(...declinedView(answer.leads, article));
    } else if (!answer.sections.length) {
      article.append(
        el("p", { class: "empty", testid: "answer-empty" }, "没有找到相关知识"),
        el("p", { class: "hint" }, "换个说法试试，或告诉知识运营补充这方面的内容。"),
      );
    } else {
      if (answer.polished) {
        article.append(el("p", { class: "polished" }, ...withChips(answer.polished, article)));
      }
      for (const section of answer.sections) article.append(sectionView(section, article));
    }
    article.append(
      feedbackBar({ answer_id: data.answer_id }, "feedback", [
        ["helpful", "有用", "👍"],
        ["not_helpful", "没用", "👎"],
      ]),
    );
    if (answer.citations.length) article.append(citationsView(answer.citations, article));
  }

  function citationView(citation, article) {
    const body = el("div", { class: "atom-body" });
    const item = el(
      "details",
      { class: "citation", testid: "citation" },
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
    item.dataset.cite = String(citation.number);
    item.addEventListener("toggle", () => {
      if (item.open && !item.dataset.state) loadAtom(citation, item, body, article);
    });
    return el("li", {}, item);
  }

  function openCitation(number, article) {
    const item = article.querySelector(`.citations [data-cite="${number}"]`);
    if (!item) return;
    item.open = true;
    item.scrollIntoView({ behavior: "smooth", block: "start" });
    item.classList.remove("flash");
    void item.offsetWidth; // restart the highlight animation
    item.classList.add("flash");
  }

  async function loadAtom(citation, item, body, article) {
    item.dataset.state = "loading";
    body.replaceChildren(el("p", { class: "hint" }, "加载中…"));
    try {
      const data = await api(`/v1/atoms/${encodeURIComponent(citation.atom_id)}`);
      body.replaceChildren(atomView(data, citation, article.dataset.answerId || undefined));
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

  function atomView(data, citation, answerId) {
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
      feedbackBar({ atom_id: atom.id, answer_id: answerId }, "atom-feedback", [
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

  // ---- The brief view (客户简报, issue 17) ---------------------------------------------------
  // A form with the customer and the deal's stage (more context optional); the brief's sections
  // with citation chips that open their sources. Its own functions: the question view above is
  // left as it is. `?view=brief&customer=…&stage=…` opens it filled in (a CRM's link).

  const brief = {
    tabAsk: $("tab-ask"),
    tabBrief: $("tab-brief"),
    view: $("brief-view"),
    form: $("brief-form"),
    customer: $("brief-customer"),
    stage: $("brief-stage"),
    industry: $("brief-industry"),
    competitors: $("brief-competitors"),
    roles: $("brief-roles"),
    notes: $("brief-notes"),
    submit: $("brief-submit"),
    loading: $("brief-loading"),
    error: $("brief-error"),
    result: $("brief-result"),
  };

  function showBriefView(on) {
    brief.view.hidden = !on;
    document.querySelector("main").hidden = on;
    if (ui.newConversation) ui.newConversation.hidden = on; // a question-view control
    brief.tabBrief.setAttribute("aria-selected", String(on));
    brief.tabAsk.setAttribute("aria-selected", String(!on));
    if (on && !brief.customer.value) brief.customer.focus();
  }

  /** "a，b、c" → ["a", "b", "c"] */
  function briefList(text) {
    return text
      .split(/[,，、;；\n]/)
      .map((s) => s.trim())
      .filter(Boolean)
      .slice(0, 10);
  }

  function briefRequest() {
    const body = { customer: brief.customer.value.trim(), stage: brief.stage.value };
    const industry = brief.industry.value.trim();
    if (industry) body.industry = industry;
    const competitors = briefList(brief.competitors.value);
    if (competitors.length) body.competitors = competitors;
    const roles = briefList(brief.roles.value);
    if (roles.length) body.roles = roles;
    const notes = brief.notes.value.trim();
    if (notes) body.notes = notes;
    return body;
  }

  async function submitBrief(event) {
    event?.preventDefault();
    const body = briefRequest();
    if (!body.customer) {
      brief.customer.focus();
      return;
    }
    brief.error.hidden = true;
    brief.result.replaceChildren();
    brief.loading.hidden = false;
    brief.submit.disabled = true;
    try {
      const data = await api("/v1/briefs", { json: body });
      brief.result.replaceChildren(briefView(data.brief));
    } catch (error) {
      if (!(error instanceof ApiError)) {
        console.error(error); // a bug in this page, not a server answer
        error = new ApiError(0, { message: "页面出错了，请刷新后重试", detail: String(error) });
      }
      promptForKey(error);
      brief.error.replaceChildren(...errorLines(error));
      brief.error.hidden = false;
    } finally {
      brief.loading.hidden = true;
      brief.submit.disabled = false;
    }
  }

  function briefView(data) {
    const article = el("article", { class: "answer brief", testid: "brief" });
    const title = [`客户简报：${data.customer}`, data.stage, data.industry].filter(Boolean);
    article.append(el("h2", { class: "brief-title", testid: "brief-title" }, title.join(" · ")));
    if (data.note) article.append(el("p", { class: "note", testid: "brief-note" }, data.note));
    for (const section of data.sections) {
      const part = el(
        "section",
        { class: "answer-section brief-section", testid: "brief-section" },
        el("h2", {}, section.heading),
      );
      part.dataset.key = section.key;
      if (section.points.length) {
        part.append(
          el(
            "ul",
            {},
            section.points.map((point) =>
              el("li", {}, point.text, " ", point.citations.map((n) => briefChip(n, article))),
            ),
          ),
        );
      } else {
        part.append(el("p", { class: "brief-empty", testid: "brief-empty" }, section.empty));
      }
      article.append(part);
    }
    if (data.citations.length) {
      article.append(
        el(
          "section",
          { class: "citations" },
          el("h2", {}, "引用来源"),
          el("ol", {}, data.citations.map(briefCitation)),
        ),
      );
    }
    return article;
  }

  function briefChip(number, article) {
    return el(
      "button",
      {
        type: "button",
        class: "cite-chip",
        testid: "brief-chip",
        "aria-label": `查看引用 ${number}`,
        onclick: () => {
          const item = article.querySelector(`.citations [data-cite="${number}"]`);
          if (!item) return;
          item.open = true;
          item.scrollIntoView({ behavior: "smooth", block: "start" });
          item.classList.remove("flash");
          void item.offsetWidth; // restart the highlight animation
          item.classList.add("flash");
        },
      },
      `[${number}]`,
    );
  }

  function briefCitation(citation) {
    const body = el("div", { class: "atom-body" });
    const item = el(
      "details",
      { class: "citation", testid: "brief-citation" },
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
    item.dataset.cite = String(citation.number);
    item.dataset.atomId = citation.atom_id;
    item.addEventListener("toggle", async () => {
      if (!item.open || item.dataset.state) return;
      item.dataset.state = "loading";
      body.replaceChildren(el("p", { class: "hint" }, "加载中…"));
      try {
        const data = await api(`/v1/atoms/${encodeURIComponent(citation.atom_id)}`);
        const path = citation.path.length > 1 ? `关联路径：${citation.path.join(" → ")}` : null;
        body.replaceChildren(
          el(
            "div",
            { class: "atom-detail", testid: "brief-atom" },
            el("p", { class: "atom-meta" }, data.atom.type_label),
            el("p", { class: "atom-text" }, data.atom.text),
            path ? el("p", { class: "atom-meta" }, path) : null,
          ),
        );
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
    });
    return el("li", {}, item);
  }

  function initBriefView() {
    brief.tabAsk.addEventListener("click", () => showBriefView(false));
    brief.tabBrief.addEventListener("click", () => showBriefView(true));
    brief.form.addEventListener("submit", submitBrief);
    const params = new URLSearchParams(window.location.search);
    if (params.get("view") !== "brief") return;
    brief.customer.value = params.get("customer") || "";
    if ([...brief.stage.options].some((o) => o.value === params.get("stage"))) {
      brief.stage.value = params.get("stage");
    }
    showBriefView(true);
    if (brief.customer.value && getKey()) submitBrief();
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
    ui.newConversation.addEventListener("click", newConversation);
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
  initBriefView(); // the brief view (issue 17)
})();
