/*
 * The campaign player's embed loader: load it on the customer's page, and push commands
 * on the queue before or after it arrives:
 *
 *   window._qual_async = window._qual_async || [];
 *   _qual_async.push(['createIframe', divId, host, account, campaign,
 *                     width, height, params, '', '', style]);
 *
 * `params` is a query string ('qual_token=...') or an object ({qual_token: '...'}); only
 * `qual_token` is passed on.
 *
 * Bilateral messages (DESIGN §11, channel 2), on the same queue:
 *
 *   _qual_async.push(['registerChildMessageCallback', 'isLoggedIn', function (data) {
 *     // data.divId: which campaign asks; once the person is signed in:
 *     _qual_async.push(['sendChildMessage', data.divId, 'userInfo', jwt]);
 *   }]);
 *   _qual_async.push(['registerChildMessageCallback', 'error', function (error) {
 *     // error.divId, error.code: TOKEN_EXPIRED, TOKEN_INVALID_SIGNATURE, ... UNKNOWN
 *   }]);
 *
 * `requestParticipantAction` goes both ways: a campaign asks it first (answer true to have
 * it show its pre-login screen, false to go on; with no callback registered the loader
 * answers false), and the page may send it at any time. Messages go to the campaign's exact
 * origin, never '*'; a message is taken only from that origin, from that campaign's iframe
 * window, in the protocol's shape; anything else is ignored. Plain JavaScript, no
 * dependencies, no build step.
 */
(function (window, document) {
  "use strict";

  var current = window._qual_async;
  if (current && current.__qualLoaded) {
    return; // loaded twice: the first copy already runs the queue
  }

  function paramsOf(params) {
    var out = {};
    if (!params) {
      return out;
    }
    if (typeof params === "string") {
      var search = new URLSearchParams(params.charAt(0) === "?" ? params.slice(1) : params);
      search.forEach(function (value, key) {
        out[key] = value;
      });
      return out;
    }
    if (typeof params === "object") {
      Object.keys(params).forEach(function (key) {
        out[key] = String(params[key]);
      });
    }
    return out;
  }

  function base(host) {
    // '//host' keeps the page's scheme; a full origin is taken as given.
    return /^https?:\/\//.test(host) ? host.replace(/\/+$/, "") : "//" + host;
  }

  var CHILD_MESSAGES = { isLoggedIn: true, requestParticipantAction: true, error: true };
  var CODE = /^[A-Z][A-Z_]{0,63}$/;
  var frames = {}; // divId -> {frame, origin}
  var callbacks = {}; // message name -> [fn]
  var listening = false;

  function call(name, data) {
    (callbacks[name] || []).forEach(function (fn) {
      try {
        fn(data);
      } catch (error) {
        if (window.console) {
          window.console.error("_qual_async: the " + name + " callback failed: " + error.message);
        }
      }
    });
  }

  function post(divId, name, payload) {
    var entry = Object.prototype.hasOwnProperty.call(frames, divId) ? frames[divId] : null;
    if (!entry || !entry.frame.contentWindow) {
      throw new Error("no campaign iframe for " + divId);
    }
    var message = { qual: 1, type: String(name), divId: divId };
    if (payload !== undefined) {
      message.payload = payload;
    }
    entry.frame.contentWindow.postMessage(message, entry.origin);
  }

  function onMessage(event) {
    var data = event.data;
    if (!data || typeof data !== "object" || data.qual !== 1 || typeof data.divId !== "string") {
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(frames, data.divId)) {
      return;
    }
    var entry = frames[data.divId];
    // The campaign's own origin and its own iframe's window: nothing else is heard.
    if (event.origin !== entry.origin || event.source !== entry.frame.contentWindow) {
      return;
    }
    if (typeof data.type !== "string" || !CHILD_MESSAGES[data.type]) {
      return;
    }
    if (data.type === "error") {
      if (typeof data.code !== "string" || !CODE.test(data.code)) {
        return;
      }
      call("error", { divId: data.divId, code: data.code });
      return;
    }
    if (data.type === "requestParticipantAction" && !(callbacks.requestParticipantAction || []).length) {
      post(data.divId, "requestParticipantAction", false); // nobody decides: go on
      return;
    }
    call(data.type, { divId: data.divId });
  }

  function listen() {
    if (!listening) {
      window.addEventListener("message", onMessage);
      listening = true;
    }
  }

  var commands = {
    createIframe: function (divId, host, account, campaign, width, height, params, _a, _b, style) {
      var div = document.getElementById(divId);
      if (!div) {
        throw new Error("no element with id " + divId);
      }
      var src = base(String(host)) + "/play/" + encodeURIComponent(account) + "/" +
        encodeURIComponent(campaign);
      var given = paramsOf(params);
      var query = new URLSearchParams();
      if (given.qual_token) {
        query.set("qual_token", given.qual_token);
      }
      // Who the campaign may speak to: the server takes it only if the account
      // registered this exact origin.
      query.set("qual_div", String(divId));
      query.set("qual_parent", window.location.origin);
      src += "?" + query.toString();
      var frame = document.createElement("iframe");
      frame.id = divId + "_iframe";
      frame.src = src;
      frame.width = width || "100%";
      frame.height = height || "800";
      frame.setAttribute("frameborder", "0");
      frame.setAttribute("title", "Campaign");
      if (style) {
        frame.style.cssText = String(style);
      }
      while (div.firstChild) {
        div.removeChild(div.firstChild);
      }
      div.appendChild(frame);
      frames[divId] = { frame: frame, origin: new URL(src, window.location.href).origin };
      listen();
      return frame;
    },
    registerChildMessageCallback: function (name, fn) {
      if (typeof fn !== "function") {
        throw new Error("registerChildMessageCallback needs a function");
      }
      (callbacks[name] = callbacks[name] || []).push(fn);
      listen();
    },
    sendChildMessage: function (divId, name, payload) {
      post(String(divId), name, payload);
    }
  };

  function run(command) {
    if (!command || typeof command.length !== "number" || !command.length) {
      return;
    }
    var fn = commands[command[0]];
    if (typeof fn !== "function") {
      if (window.console) {
        window.console.warn("_qual_async: unknown command " + String(command[0]));
      }
      return;
    }
    try {
      fn.apply(null, Array.prototype.slice.call(command, 1));
    } catch (error) {
      if (window.console) {
        window.console.error("_qual_async: " + command[0] + " failed: " + error.message);
      }
    }
  }

  var pending = Array.isArray(current) ? current.slice() : [];
  window._qual_async = {
    __qualLoaded: true,
    push: function () {
      for (var i = 0; i < arguments.length; i++) {
        run(arguments[i]);
      }
      return 0;
    }
  };
  pending.forEach(run);
})(window, document);
