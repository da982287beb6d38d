/*
 * The campaign page's side of the bilateral messages (DESIGN §11, channel 2). Loaded only
 * by pages the server rendered with a channel: <main data-qual-div data-qual-parent
 * data-qual-wait>, the parent origin checked against the account's parent_origins.
 *
 * Waiting page: asks the parent `requestParticipantAction` (true: show the pre-login
 * screen; false: go on), then `isLoggedIn`; a `userInfo` answer's JWT is posted to the
 * player's server, which verifies it and renders the step (never verified here). No answer
 * within data-qual-wait seconds: the page says so and tells the parent `error` TOKEN_EMPTY.
 * Error page: tells the parent `error` with the page's code.
 *
 * Every message goes to the exact parent origin, never '*'; a message is taken only from
 * that origin, from the parent window itself, in the expected shape; anything else is
 * ignored. Plain JavaScript, no dependencies, no build step.
 */
(function (window, document) {
  "use strict";

  var MAX_TOKEN = 65536; // the verifier's own limit: a longer JWT is not worth posting
  var main = document.querySelector("main[data-qual-parent]");
  if (!main) {
    return;
  }
  var parentOrigin = main.getAttribute("data-qual-parent");
  var divId = main.getAttribute("data-qual-div");
  var wait = Number(main.getAttribute("data-qual-wait")) * 1000;
  var parentWindow = window.parent;
  if (!parentOrigin || !divId || parentWindow === window) {
    return; // not framed (a minisite, a pop-up): nobody to speak to
  }
  var ancestors = window.location.ancestorOrigins;
  if (ancestors && ancestors.length && ancestors[0] !== parentOrigin) {
    return; // framed by another registered origin than the loader said: stay silent
  }

  function send(type, extra) {
    var message = { qual: 1, type: type, divId: divId };
    if (extra) {
      Object.keys(extra).forEach(function (key) {
        message[key] = extra[key];
      });
    }
    parentWindow.postMessage(message, parentOrigin);
  }

  if (main.getAttribute("data-step") === "error") {
    send("error", { code: main.getAttribute("data-code") || "UNKNOWN" });
    return;
  }
  if (main.getAttribute("data-step") !== "waiting") {
    return;
  }

  var form = document.getElementById("qual-identify");
  var timer = null;
  var done = false;

  function show(state) {
    main.setAttribute("data-state", state);
    Array.prototype.forEach.call(main.querySelectorAll("[data-when]"), function (section) {
      section.hidden = section.getAttribute("data-when") !== state;
    });
  }

  function startWaiting() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      if (done) {
        return;
      }
      show("timeout");
      send("error", { code: "TOKEN_EMPTY" });
    }, wait);
  }

  function askLoggedIn() {
    show("asking");
    send("isLoggedIn");
    startWaiting();
  }

  function onMessage(event) {
    if (done || event.origin !== parentOrigin || event.source !== parentWindow) {
      return;
    }
    var data = event.data;
    if (!data || typeof data !== "object" || data.qual !== 1 || data.divId !== divId) {
      return;
    }
    if (data.type === "userInfo") {
      var token = data.payload;
      if (typeof token !== "string" || token.length > MAX_TOKEN) {
        return; // malformed: ignored, the page keeps waiting
      }
      done = true;
      window.clearTimeout(timer);
      show("verifying");
      form.elements.qual_token.value = token;
      form.submit();
    } else if (data.type === "requestParticipantAction") {
      if (data.payload === true) {
        window.clearTimeout(timer); // the person acts at their own pace
        show("prelogin");
      } else if (data.payload === false) {
        askLoggedIn();
      }
    }
  }

  window.addEventListener("message", onMessage);
  Array.prototype.forEach.call(main.querySelectorAll("[data-ask]"), function (button) {
    button.addEventListener("click", askLoggedIn);
  });
  show("asking");
  send("requestParticipantAction");
  startWaiting();
})(window, document);
