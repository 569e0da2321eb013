// The comms console's one script: the inbox updates itself, the alert page draws its chart.
// No data is ever put into the page as HTML: rows are built with textContent.
(function () {
  "use strict";

  // -- inbox: poll the JSON twin of the page and redraw the list when the store changed --------
  var inbox = document.getElementById("inbox");
  if (inbox && inbox.dataset.poll) {
    var live = document.getElementById("live");
    var changed = inbox.dataset.changed;
    var every = parseInt(inbox.dataset.every, 10) || 2000;
    var known = {};
    Array.prototype.forEach.call(inbox.querySelectorAll("li[data-key]"), function (li) {
      known[li.dataset.key] = true;
    });

    var el = function (tag, cls, text) {
      var node = document.createElement(tag);
      if (cls) node.className = cls;
      if (text !== undefined) node.textContent = text;
      return node;
    };

    var row = function (a) {
      var li = el("li", "state-" + a.state + (known[a.key] ? "" : " new"));
      li.dataset.key = a.key;
      var link = el("a", "title", a.brand + " · " + a.topic_label);
      link.href = "/console/alerts/" + encodeURIComponent(a.key);
      li.appendChild(link);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "tag sev-" + a.severity, a.severity));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "tag", a.state_label));
      var started = el("p", "meta", "Started ");
      var time = el("time", "", a.started);
      time.setAttribute("datetime", a.started_iso);
      started.appendChild(time);
      li.appendChild(started);
      li.appendChild(el("p", "meta", a.summary));
      return li;
    };

    var poll = function () {
      fetch(inbox.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (r.redirected || !r.ok) throw new Error("signed out or unavailable");
          return r.json();
        })
        .then(function (data) {
          if (String(data.version) === String(changed)) return;
          changed = data.version;
          var fresh = data.rows.filter(function (a) { return !known[a.key]; }).length;
          var items = data.rows.map(row);
          inbox.replaceChildren.apply(inbox, items.length ? items : [el("li", "empty", "No alerts match these filters.")]);
          data.rows.forEach(function (a) { known[a.key] = true; });
          live.textContent = (fresh ? fresh + " new alert" + (fresh > 1 ? "s" : "") + ". " : "Alerts updated. ") +
            "Last checked " + new Date().toLocaleTimeString() + ".";
        })
        .catch(function () {
          live.textContent = "Live updates paused: reload the page (you may need to sign in again).";
        })
        .then(function () { window.setTimeout(poll, every); });
    };
    window.setTimeout(poll, every);
  }

  // -- alert detail: the 48-hour series against its expected band, with the moments marked ------
  var holder = document.getElementById("chart");
  var source = document.getElementById("series-data");
  var draw = function () {
    if (!holder || !source || typeof window.uPlot !== "function") return;
    var d = JSON.parse(source.textContent);
    if (!d.x.length) return;
    var colours = { paged: "#a11a1f", acknowledged: "#7a4b00", resolved: "#1e6b34" };
    var marks = {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          d.marks.forEach(function (m) {
            var x = u.valToPos(m.at, "x", true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.save();
            ctx.strokeStyle = colours[m.kind] || "#1b1b1b";
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.restore();
          });
        }]
      }
    };
    var width = function () { return Math.max(280, holder.clientWidth); };
    var plot = new window.uPlot({
      width: width(),
      height: 260,
      scales: { x: { time: true } },
      series: [
        {},
        { label: "Band low", stroke: "rgba(11,79,138,0.35)", width: 1 },
        { label: "Band high", stroke: "rgba(11,79,138,0.35)", width: 1 },
        { label: "Expected", stroke: "#0b4f8a", width: 2, dash: [6, 4] },
        { label: "Observed", stroke: "#a11a1f", width: 2 }
      ],
      bands: [{ series: [2, 1], fill: "rgba(11,79,138,0.12)" }],
      axes: [{}, { label: "mentions / 5 min" }],
      plugins: [marks]
    }, [d.x, d.lower, d.upper, d.expected, d.observed], holder);
    window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 260 }); });
    holder.dataset.drawn = "true";
  };
  if (document.readyState === "complete") draw(); else window.addEventListener("load", draw);

  // -- brands overview: one small line per brand x topic (its caption is the text alternative) --
  var sparks = document.getElementById("sparks-data");
  var drawSparks = function () {
    if (!sparks || typeof window.uPlot !== "function") return;
    var all = JSON.parse(sparks.textContent);
    Array.prototype.forEach.call(document.querySelectorAll(".spark"), function (box) {
      var s = all[parseInt(box.dataset.index, 10)];
      if (!s || !s.x.length) return;
      new window.uPlot({
        width: Math.max(120, box.clientWidth),
        height: 60,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true } },
        axes: [{ show: false }, { show: false }],
        series: [{}, { stroke: s.hot ? "#a11a1f" : "#0b4f8a", width: 1.5 }]
      }, [s.x, s.y], box);
      box.dataset.drawn = "true";
    });
  };
  if (document.readyState === "complete") drawSparks(); else window.addEventListener("load", drawSparks);
})();
