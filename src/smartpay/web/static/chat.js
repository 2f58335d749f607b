// The payment chat page. Plain JavaScript, no dependencies.
// What the customer types is echoed masked: a card number shows as •••• 4242 and the
// security code as •••, so the page never displays them again.
(function () {
  "use strict";
  var root = document.querySelector(".chat");
  var list = document.getElementById("messages");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var send = document.getElementById("send");
  var statusLine = document.getElementById("status");
  var sessionId = root.getAttribute("data-session-id") || null;
  var currentField = null;
  var finished = false;

  function maskEcho(text, field) {
    var masked = text.replace(/(?:\d[ -]?){11,18}\d/g, function (run) {
      var digits = run.replace(/\D/g, "");
      return "•••• " + digits.slice(-4);
    });
    if (field === "cvv") {
      masked = masked.replace(/\b\d{1,7}\b/g, "•••");
    } else {
      masked = masked.replace(/((?:cvc|cvv|code)\D{0,12})\d{3,4}\b/gi, "$1•••");
      // "John Smith, •••• 4242, 12/27, 123": a short number after the expiry is the CVC.
      masked = masked.replace(/(\d{1,2}\s*[\/-]\s*\d{2,4}\D+)\d{3,4}(\s*)$/, "$1•••$2");
    }
    return masked;
  }

  function linkify(item, text) {
    var parts = text.split(/(https?:\/\/\S+|\/sandbox\/3ds\/\S+)/);
    parts.forEach(function (part, index) {
      if (index % 2 === 1) {
        var a = document.createElement("a");
        a.href = part;
        a.textContent = "Complete verification";
        a.setAttribute("data-testid", "next-action");
        item.appendChild(a);
      } else if (part) {
        item.appendChild(document.createTextNode(part));
      }
    });
  }

  function add(text, who) {
    var item = document.createElement("li");
    item.className = "msg msg--" + who;
    item.setAttribute("aria-label", (who === "me" ? "You: " : "Assistant: "));
    linkify(item, text);
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
  }

  function describe(status, field) {
    if (status === "completed") return "Done.";
    if (status === "cancelled") return "Cancelled.";
    if (status === "error") return "This session has ended.";
    if (status === "confirming") return "Please confirm.";
    var labels = { name: "name on card", card: "card number", expiry: "expiry date", cvv: "security code" };
    return field ? "Now: " + labels[field] : "";
  }

  function headers() {
    var h = { "Content-Type": "application/json" };
    var keyInput = document.getElementById("publishable-key");
    if (!sessionId && keyInput && keyInput.value) h.Authorization = "Bearer " + keyInput.value.trim();
    return h;
  }

  function post(message) {
    send.disabled = true;
    var body = { message: message };
    if (sessionId) body.sessionId = sessionId;
    return fetch("/chat", { method: "POST", headers: headers(), body: JSON.stringify(body) })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        var data = result.data;
        if (!result.ok) {
          add((data.error && data.error.message) || "Something went wrong.", "bot");
          if (data.error && data.error.code === "chat_session_expired") finish("error");
          return;
        }
        sessionId = data.sessionId;
        currentField = data.currentField;
        add(data.response, "bot");
        root.setAttribute("data-status", data.status);
        statusLine.textContent = describe(data.status, data.currentField);
        input.setAttribute("type", "text");
        if (["completed", "cancelled", "error"].indexOf(data.status) >= 0) finish(data.status);
      })
      .catch(function () { add("The connection failed. Please try again.", "bot"); })
      .then(function () { if (!finished) { send.disabled = false; input.focus(); } });
  }

  function finish(status) {
    finished = true;
    root.setAttribute("data-status", status);
    input.disabled = true;
    send.disabled = true;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    add(maskEcho(text, currentField), "me");
    post(text);
  });

  var start = document.getElementById("start");
  if (start) {
    start.addEventListener("click", function () { post(""); });
  } else {
    post("");
  }
})();
