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
 * Pages of the SSO channel (below) use it for their popup's result only.
 *
 * Every message goes to the exact parent origin, never '*'; a message is taken only from
 * that origin, from the parent window itself, in the expected shape; anything else is
 * ignored. Plain JavaScript, no dependencies, no build step.
 */
(function (window, document) {
  "use strict";

  var RESULT = /^[A-Za-z0-9_-]{43}$/; // a sign-in result id (32 random bytes, base64url)

  /*
   * Single sign-on (channel 3). A framed sign-in step opens the IdP in a popup (IdPs refuse
   * to be framed) and waits for the popup's result id: only from that popup window, only
   * from the player's own origin; then loads the campaign page with it. At the top, the
   * "Sign in" link is plain navigation. The popup's last page hands the id to its opener
   * (targetOrigin: the player's own origin, so another site that opened it hears nothing)
   * and closes; with no opener, it goes on to the campaign page itself.
   */
  var done = document.querySelector('main[data-step="sso-done"]');
  if (done) {
    var result = done.getAttribute("data-sso-result");
    var opener = window.opener;
    if (opener && opener !== window && RESULT.test(result)) {
      opener.postMessage({ qual: 1, type: "ssoResult", result: result }, window.location.origin);
      window.close();
      return;
    }
    window.location.replace(done.getAttribute("data-sso-back"));
    return;
  }
  var signIn = document.querySelector('main[data-step="sso"]');
  if (signIn) {
    if (window.parent === window) {
      return; // not framed: the link signs in in this window
    }
    var popup = null;
    var link = signIn.querySelector("[data-sso-start]");
    link.addEventListener("click", function (event) {
      event.preventDefault();
      popup = window.open(
        link.getAttribute("href") + "?popup=1",
        "qual_sso",
        "popup,width=520,height=720"
      );
      signIn.querySelector("[data-sso-blocked]").hidden = !!popup;
    });
    window.addEventListener("message", function (event) {
      if (!popup || event.source !== popup || event.origin !== window.location.origin) {
        return;
      }
      var data = event.data;
      if (!data || typeof data !== "object" || data.qual !== 1 || data.type !== "ssoResult") {
        return;
      }
      if (typeof data.result !== "string" || !RESULT.test(data.result)) {
        return;
      }
      var back = signIn.getAttribute("data-sso-back");
      var glue = back.indexOf("?") < 0 ? "?" : "&";
      window.location.assign(back + glue + "sso_result=" + encodeURIComponent(data.result));
    });
    return;
  }

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
