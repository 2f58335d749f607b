// The dashboard's live feed: the merchant's events from /dashboard/live/stream (the
// event stream, authenticated by the dashboard's session cookie), newest on top.
// Built with textContent only: event data never becomes markup.
(function () {
  "use strict";
  var MAX_ITEMS = 100; // lines kept in the page; older ones scroll away
  var MAX_RETRY_MS = 30000;
  var feed = document.getElementById("feed");
  var state = document.getElementById("feed-state");
  if (!feed) {
    return;
  }
  var cursor = feed.dataset.since || "";
  var retryMs = 1000;

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  function line(event) {
    var subject = (event.data && event.data.object) || {};
    var payment = subject.object === "payment_intent" ? subject.id : subject.payment_intent;
    var created = new Date(event.created * 1000);
    var item = document.createElement("li");
    var time = document.createElement("time");
    time.textContent =
      pad(created.getUTCHours()) + ":" + pad(created.getUTCMinutes()) + ":" + pad(created.getUTCSeconds());
    var type = document.createElement("span");
    type.className = "type";
    type.textContent = event.type;
    var target = document.createElement(payment ? "a" : "code");
    if (payment) {
      target.href = "/dashboard/payments/" + encodeURIComponent(payment);
    }
    target.textContent = subject.id || "";
    item.append(time, " ", type, " ", target);
    return item;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var query = cursor ? "?since=" + encodeURIComponent(cursor) : "";
    var socket = new WebSocket(scheme + location.host + "/dashboard/live/stream" + query);
    socket.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.object === "stream.ready") {
        state.textContent = "live";
        retryMs = 1000;
        return;
      }
      if (frame.object !== "event") {
        return;
      }
      cursor = frame.id; // a reconnect resumes after the last event shown
      var empty = feed.querySelector(".empty");
      if (empty) {
        empty.remove();
      }
      feed.insertBefore(line(frame), feed.firstChild);
      while (feed.children.length > MAX_ITEMS) {
        feed.lastElementChild.remove();
      }
    };
    socket.onclose = function (closed) {
      if (closed.code === 4401) {
        state.textContent = "logged out: reload to log in";
        return;
      }
      state.textContent = "reconnecting…";
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    };
  }

  connect();
})();
