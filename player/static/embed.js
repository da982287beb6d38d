/*
 * The campaign player's embed loader: load it on the customer's page, and push commands
 * on the queue before or after it arrives:
 *
 *   window._qual_async = window._qual_async || [];
 *   _qual_async.push(['createIframe', divId, host, account, campaign,
 *                     width, height, params, '', '', style]);
 *
 * `params` is a query string ('qual_token=...') or an object ({qual_token: '...'}); only
 * `qual_token` is passed on. Plain JavaScript, no dependencies, no build step.
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

  var commands = {
    createIframe: function (divId, host, account, campaign, width, height, params, _a, _b, style) {
      var div = document.getElementById(divId);
      if (!div) {
        throw new Error("no element with id " + divId);
      }
      var src = base(String(host)) + "/play/" + encodeURIComponent(account) + "/" +
        encodeURIComponent(campaign);
      var given = paramsOf(params);
      if (given.qual_token) {
        src += "?qual_token=" + encodeURIComponent(given.qual_token);
      }
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
      return frame;
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
