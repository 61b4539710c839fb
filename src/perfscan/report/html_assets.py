"""The HTML report's stylesheet and script, kept as strings so they ship inside the package.

Plain CSS and plain JavaScript (ES5, no library): the script sorts and filters the findings
table, expands rows, draws the CPU icicle chart from the page's embedded JSON, zooms it, and
highlights a selected finding's frames, waterfall bar or memory bar. It only ever writes text
with `textContent` and attributes with `setAttribute`, never HTML.
"""

CSS = r"""
:root{
  --bg:#f5f6f8;--panel:#fff;--text:#1b2130;--muted:#5c6575;--line:#e1e5eb;--line2:#eef1f5;
  --accent:#2456d3;--accent-soft:#e7edfc;--focus:#2456d3;
  --crit:#b42318;--crit-bg:#fde7e5;--high:#b93b0a;--high-bg:#fdeadd;--med:#8f5a06;--med-bg:#fbf0d5;
  --low:#1e4fc2;--low-bg:#e2eafc;--info:#586172;--info-bg:#eceff3;
  --k-project:#9ec0fa;--k-test:#d2c4f8;--k-library:#f2d08e;--k-third-party:#f2d08e;--k-stdlib:#d6dbe3;
  --k-builtin:#e7eaef;--k-root:#c5ccd7;--k-other:#d6dbe3;--k-text:#111827;
  --hl:#f7873a;--hl-text:#1a0d02;--self:rgba(17,24,39,.28);--mem:#8f7ae6;
  --shadow:0 1px 2px rgba(16,24,40,.06),0 1px 3px rgba(16,24,40,.08);
}
@media (prefers-color-scheme:dark){
  :root{
    --bg:#0f1217;--panel:#171b22;--text:#e6e9ef;--muted:#9aa3b2;--line:#2a303a;--line2:#222731;
    --accent:#7aa2ff;--accent-soft:#1d2740;--focus:#8fb1ff;
    --crit:#ff8a80;--crit-bg:#3d1714;--high:#ffa574;--high-bg:#3b2112;--med:#f2c466;--med-bg:#352a10;
    --low:#8fb1ff;--low-bg:#18264a;--info:#aab2c0;--info-bg:#252a33;
    --k-project:#3c68c4;--k-test:#6a55b8;--k-library:#8a6a2a;--k-third-party:#8a6a2a;--k-stdlib:#414956;
    --k-builtin:#353b46;--k-root:#4a5361;--k-other:#414956;--k-text:#f3f5f8;
    --hl:#f08a3e;--hl-text:#1a0d02;--self:rgba(0,0,0,.38);--mem:#7d68d8;
    --shadow:0 1px 2px rgba(0,0,0,.4);
  }
}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--text);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
body{margin:0}
main{max-width:1320px;margin:0 auto;padding:20px 24px 40px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.92em}
a{color:var(--accent)}
:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
h1{font-size:26px;line-height:1.2;margin:2px 0 2px}
h2{font-size:18px;margin:0}
h3{font-size:14px;margin:12px 0 4px}
section,header.top{background:var(--panel);border:1px solid var(--line);border-radius:10px;box-shadow:var(--shadow);padding:16px 20px;margin:0 0 16px}
.brand{margin:0;color:var(--muted);font-size:12px;font-weight:600;letter-spacing:.06em;text-transform:uppercase;display:flex;align-items:center;gap:8px}
.logo{width:14px;height:14px;border-radius:3px;background:linear-gradient(135deg,var(--k-project) 0 50%,var(--hl) 50% 100%)}
.root{margin:0 0 10px;color:var(--muted);font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0 0 12px}
.facts dt{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.facts dd{margin:0;font-weight:600}
.passes{display:flex;flex-wrap:wrap;gap:8px}
.pass{border:1px solid var(--line);border-radius:999px;padding:2px 12px 2px 10px;font-size:13px;display:flex;align-items:center;gap:6px;max-width:100%}
.pass .dot{width:8px;height:8px;border-radius:50%;background:var(--muted);flex:none}
.pass.st-ok .dot{background:#2f9e58}.pass.st-failed .dot{background:var(--crit)}.pass.st-timed-out .dot{background:var(--high)}
.pass .why{color:var(--muted);overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:420px}
details.meta{margin-top:10px;color:var(--muted)}
details.meta summary{cursor:pointer;font-size:13px}
details.meta ul{margin:4px 0;padding-left:20px}
.toc{display:flex;gap:18px;margin:0 0 12px 4px;font-size:13px}
.toc a{text-decoration:none;font-weight:600}
.toc a:hover{text-decoration:underline}
.summary{display:flex;flex-wrap:wrap;align-items:center;gap:10px 28px}
.cards{display:flex;gap:8px}
.card{min-width:78px;padding:6px 12px;border-radius:8px;display:flex;flex-direction:column;align-items:flex-start}
.card .n{font-size:22px;font-weight:700;line-height:1.1}
.card .l{font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.card.zero{opacity:.45}
.domains{margin:0;color:var(--muted)}
.domains b{color:var(--text)}
.topline{margin:0;flex-basis:100%}
.topline .k{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.05em;margin-right:6px}
.sev-critical{--c:var(--crit);--cb:var(--crit-bg)}.sev-high{--c:var(--high);--cb:var(--high-bg)}
.sev-medium{--c:var(--med);--cb:var(--med-bg)}.sev-low{--c:var(--low);--cb:var(--low-bg)}.sev-info{--c:var(--info);--cb:var(--info-bg)}
.card,.sev{background:var(--cb);color:var(--c)}
.sev{display:inline-block;border-radius:999px;padding:0 9px;font-size:12px;font-weight:700;line-height:20px}
.base{display:block;color:var(--muted);font-size:11px}
.sec-head{display:flex;align-items:baseline;gap:12px;margin-bottom:8px}
.count{color:var(--muted);font-size:13px}
.lede{color:var(--muted);margin:0 0 10px;max-width:980px}
.empty{color:var(--muted);margin:4px 0}
.filters{display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;margin:0 0 10px;font-size:13px}
.filters select{font:inherit;color:var(--text);background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:3px 6px;margin-left:4px}
.hint{color:var(--muted)}
.table-wrap{overflow-x:auto}
table.findings{width:100%;border-collapse:collapse}
.findings th{text-align:left;font-size:12px;color:var(--muted);border-bottom:1px solid var(--line);padding:0}
.findings th button.sort{all:unset;box-sizing:border-box;display:block;width:100%;padding:6px 8px;cursor:pointer;font-weight:600;text-transform:uppercase;letter-spacing:.04em;font-size:11px}
.findings th button.sort:focus-visible{outline:2px solid var(--focus)}
.findings th[aria-sort=ascending] .arrow::after{content:" \25B2"}
.findings th[aria-sort=descending] .arrow::after{content:" \25BC"}
.findings td{padding:7px 8px;border-bottom:1px solid var(--line2);vertical-align:top}
.findings tr.finding:hover td{background:var(--line2)}
.findings tbody.selected tr td{background:var(--accent-soft)}
.findings tbody.selected tr.finding td:first-child{box-shadow:inset 3px 0 0 var(--accent)}
.c-rank{width:46px;white-space:nowrap;color:var(--muted);font-variant-numeric:tabular-nums}
.c-sev{width:104px}.c-domain{width:82px}.c-mag{min-width:170px}.c-pattern{width:210px}
.dom{font-size:12px;font-weight:600}
button.expand{all:unset;cursor:pointer;display:flex;gap:6px;align-items:flex-start;word-break:break-word}
button.expand:focus-visible{outline:2px solid var(--focus);outline-offset:2px;border-radius:3px}
button.expand .tname{font-weight:600}
.chev{flex:none;width:0;height:0;margin-top:6px;border-left:5px solid var(--muted);border-top:4px solid transparent;border-bottom:4px solid transparent;transition:transform .12s}
button.expand[aria-expanded=true] .chev{transform:rotate(90deg)}
.c-pattern code{white-space:nowrap;background:var(--line2);border-radius:4px;padding:1px 5px;font-size:12px}
.muted{color:var(--muted)}
tr.detail td{padding-top:0;padding-bottom:12px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:4px 0 0;font-size:13px}
dl.kv div{display:contents}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0;word-break:break-word}
.evidence{white-space:pre-wrap;margin:0}
ul.measured{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:2px 18px}
ul.measured .ml{color:var(--muted)}
a.show{font-weight:600;font-size:13px}
tr.detail td > p{margin:8px 0 0}
.btn{font:inherit;font-size:12px;color:var(--text);background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:2px 10px;cursor:pointer;margin-left:auto}
.btn:disabled{opacity:.45;cursor:default}
.legend{display:flex;flex-wrap:wrap;align-items:center;gap:4px 6px;font-size:12px;color:var(--muted);margin:0 0 8px}
.sw{display:inline-block;width:12px;height:12px;border-radius:3px;margin-left:10px;background:var(--k-other)}
.sw:first-child{margin-left:0}
.sw.k-project,.k-project{--kc:var(--k-project)}.sw.k-test,.k-test{--kc:var(--k-test)}
.sw.k-library,.k-library{--kc:var(--k-library)}.sw.k-third-party,.k-third-party{--kc:var(--k-third-party)}
.sw.k-stdlib,.k-stdlib{--kc:var(--k-stdlib)}.sw.k-builtin,.k-builtin{--kc:var(--k-builtin)}.k-root{--kc:var(--k-root)}.k-other{--kc:var(--k-other)}
.sw{background:var(--kc)}.sw.hl{background:var(--hl)}.sw.self{background:linear-gradient(var(--self),var(--self)),var(--k-project)}
.flame{position:relative;min-height:22px;overflow:hidden;border-top:1px solid var(--line2)}
.fr{all:unset;box-sizing:border-box;position:absolute;height:21px;padding:0 5px;font-size:12px;line-height:21px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;cursor:pointer;background:var(--kc,var(--k-other));color:var(--k-text);border-right:1px solid var(--panel);border-bottom:1px solid var(--panel)}
.fr:hover{filter:brightness(1.08) saturate(1.1)}
.fr:focus-visible{outline:2px solid var(--focus);outline-offset:-2px;z-index:2}
.fr.anc{opacity:.7}
.fr.finding{font-weight:700;box-shadow:inset 3px 0 0 var(--hl)}
.flame.dim .fr{opacity:.5}
.flame.dim .fr.hl,.fr.hl{opacity:1;background:var(--hl);color:var(--hl-text);box-shadow:none}
.info{margin:8px 0 0;font-size:12px;color:var(--muted);min-height:18px;font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.wf{font-size:12px}
.wf-row{display:grid;grid-template-columns:minmax(180px,300px) 1fr 84px;align-items:center;gap:10px;min-height:22px;border-radius:4px}
.wf-row:not(.wf-axis):not(.wf-group):hover{background:var(--line2)}
.wf-axis{color:var(--muted);font-size:11px;border-bottom:1px solid var(--line);margin-bottom:2px}
.wf-group .wf-name{font-weight:700;color:var(--muted);padding-top:6px}
.wf-name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace}
.wf-track{position:relative;height:16px;background:repeating-linear-gradient(90deg,transparent 0 calc(25% - 1px),var(--line2) calc(25% - 1px) 25%)}
.wf-axis .wf-track{background:none;height:18px}
.tick{position:absolute;top:0;transform:translateX(-50%);white-space:nowrap}
.tick:first-child{transform:none}.tick.end{right:0;transform:none}
.wf-bar{position:absolute;top:2px;bottom:2px;background:var(--kc);border-radius:3px;overflow:hidden;min-width:2px}
.wf-self{position:absolute;right:0;top:0;bottom:0;background:var(--self)}
.wf-ms{text-align:right;font-variant-numeric:tabular-nums}
.wf-row.hl{background:var(--accent-soft)}
.wf-row.hl .wf-bar{background:var(--hl)}
.wf-row.hl .wf-name{font-weight:700}
a.rank{margin-left:6px;font-size:11px;font-weight:700;text-decoration:none;background:var(--hl);color:var(--hl-text);border-radius:999px;padding:0 6px}
.mem{font-size:13px}
.mem-row{display:grid;grid-template-columns:minmax(200px,340px) 1fr 240px;align-items:center;gap:12px;padding:4px 0;border-bottom:1px solid var(--line2)}
.mem-name .fn{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600;word-break:break-all}
.loc{display:block;color:var(--muted);font-size:12px}
.mem-track{height:14px;background:var(--line2);border-radius:3px;position:relative}
.mem-bar{position:absolute;left:0;top:0;bottom:0;background:var(--mem);border-radius:3px}
.mem-val b{font-variant-numeric:tabular-nums}
.mem-row.hl{background:var(--accent-soft)}
.mem-row.hl .mem-bar{background:var(--hl)}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
@media (max-width:760px){.wf-row{grid-template-columns:140px 1fr 64px}.mem-row{grid-template-columns:1fr}.c-pattern{display:none}}
@media print{.filters,.btn,.toc{display:none}section,header.top{box-shadow:none;break-inside:avoid}}
"""

JS = r"""
(function () {
  "use strict";
  var doc = document;
  var data = {};
  try { data = JSON.parse(doc.getElementById("perfscan-data").textContent) || {}; } catch (err) { data = {}; }
  function all(sel, root) { return Array.prototype.slice.call((root || doc).querySelectorAll(sel)); }

  /* ---- the findings table: filter, sort, expand ---- */
  var table = doc.getElementById("findings-table");
  var groups = table ? all("tbody.finding-group", table) : [];
  var fDomain = doc.getElementById("f-domain"), fSev = doc.getElementById("f-sev");
  function applyFilter() {
    var d = fDomain ? fDomain.value : "", s = fSev ? fSev.value : "", shown = 0;
    groups.forEach(function (g) {
      var ok = (!d || g.getAttribute("data-domain") === d) && (!s || g.getAttribute("data-severity") === s);
      g.hidden = !ok;
      if (ok) shown++;
    });
    var c = doc.getElementById("findings-count");
    if (c) c.textContent = shown + " of " + groups.length;
  }
  if (fDomain) fDomain.addEventListener("change", applyFilter);
  if (fSev) fSev.addEventListener("change", applyFilter);

  var sortKey = "rank", sortDir = 1;
  all("button.sort", table || doc).forEach(function (b) {
    b.addEventListener("click", function () {
      var key = b.getAttribute("data-key"), num = b.getAttribute("data-type") === "num";
      sortDir = sortKey === key ? -sortDir : (key === "mag" ? -1 : 1);
      sortKey = key;
      groups.sort(function (a, c) {
        var x = a.getAttribute("data-" + key), y = c.getAttribute("data-" + key), r;
        r = num ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : x > y ? 1 : 0);
        return r * sortDir || parseFloat(a.getAttribute("data-rank")) - parseFloat(c.getAttribute("data-rank"));
      });
      groups.forEach(function (g) { table.appendChild(g); });
      all("th", table).forEach(function (th) { th.removeAttribute("aria-sort"); });
      b.parentNode.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
    });
  });

  function setOpen(g, open) {
    var btn = g.querySelector("button.expand"), det = g.querySelector("tr.detail");
    if (btn) btn.setAttribute("aria-expanded", open ? "true" : "false");
    if (det) det.hidden = !open;
  }
  groups.forEach(function (g) {
    var btn = g.querySelector("button.expand");
    if (!btn) return;
    btn.addEventListener("click", function () {
      var open = btn.getAttribute("aria-expanded") !== "true";
      setOpen(g, open);
      select(open ? g : (selected === g ? null : selected));
    });
  });

  /* ---- selecting a finding highlights its frames and bars ---- */
  var selected = null, flame = null;
  function select(g) {
    if (selected) selected.classList.remove("selected");
    selected = g;
    all(".wf-row.hl, .mem-row.hl").forEach(function (el) { el.classList.remove("hl"); });
    var q = g ? g.getAttribute("data-qualname") : null, d = g ? g.getAttribute("data-domain") : null;
    if (g) g.classList.add("selected");
    if (d === "import") {
      var m = g.getAttribute("data-module") || q;
      all(".wf-row").forEach(function (r) { if (r.getAttribute("data-module") === m) r.classList.add("hl"); });
    } else if (d === "memory") {
      all(".mem-row").forEach(function (r) { if (r.getAttribute("data-qualname") === q) r.classList.add("hl"); });
    }
    if (flame) { flame.highlight = d === "cpu" ? q : null; if (flame.highlight) flame.focus = flame.root; flame.draw(false); }
  }
  function openRank(rank) {
    var g = doc.getElementById("finding-" + rank);
    if (!g) return;
    if (g.hidden) { if (fDomain) fDomain.value = ""; if (fSev) fSev.value = ""; applyFilter(); }
    setOpen(g, true);
    select(g);
  }
  function fromHash() {
    var m = /^#finding-(\d+)$/.exec(window.location.hash || "");
    if (m) openRank(m[1]);
  }
  window.addEventListener("hashchange", fromHash);
  doc.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a[data-rank]") : null;
    if (a && !a.classList.contains("show")) openRank(a.getAttribute("data-rank"));
  });

  /* ---- the CPU icicle chart ---- */
  var chart = doc.getElementById("flame-chart");
  if (chart && data.flame && data.flame.c) {
    var ROW = 22, root = data.flame, width = 1000;
    var wall = parseFloat(chart.getAttribute("data-wall")) || root.t || 1;
    var info = doc.getElementById("flame-info"), reset = doc.getElementById("flame-reset");
    var ranks = {};
    ((data.report || {}).findings || []).forEach(function (f) {
      if (f.domain === "cpu" && !(f.qualname in ranks)) ranks[f.qualname] = f.rank;
    });
    var stack = [[root, null]];
    while (stack.length) {
      var item = stack.pop(), node = item[0];
      node.p = item[1];
      for (var i = 0; i < node.c.length; i++) stack.push([node.c[i], node]);
    }
    var fmt = function (t) { return t >= 1 ? t.toFixed(2) + " s" : (t * 1000).toFixed(t < 0.01 ? 2 : 1) + " ms"; };
    var describe = function (n) {
      return (n.q || n.n) + (n.f ? " \u00b7 " + n.f : "") + " \u00b7 " + fmt(n.t) + " (" +
        (100 * n.t / wall).toFixed(1) + "% of profiled test time)" + (ranks[n.q] ? " \u00b7 finding #" + ranks[n.q] : "");
    };
    flame = { root: root, focus: root, highlight: null };
    var bar = function (n, x, w, depth, isAnc) {
      var b = doc.createElement("button");
      b.type = "button";
      var cls = "fr k-" + n.k;
      if (isAnc) cls += " anc";
      if (ranks[n.q]) cls += " finding";
      if (flame.highlight && n.q === flame.highlight) cls += " hl";
      b.className = cls;
      b.style.left = (x * 100).toFixed(4) + "%";
      b.style.width = (w * 100).toFixed(4) + "%";
      b.style.top = (depth * ROW) + "px";
      if (n.q) b.setAttribute("data-qualname", n.q);
      if (w * width >= 28) b.textContent = (ranks[n.q] ? "#" + ranks[n.q] + " " : "") + n.n;
      b.setAttribute("aria-label", describe(n));
      b.title = describe(n);
      var show = function () { if (info) info.textContent = describe(n); };
      b.addEventListener("mouseenter", show);
      b.addEventListener("focus", show);
      b.addEventListener("click", function () {
        flame.focus = (n === flame.focus && n.p) ? n.p : n;
        flame.draw(true);
      });
      return b;
    };
    flame.draw = function (keepFocus) {
      var frag = doc.createDocumentFragment(), maxDepth = 0, focus = flame.focus, focusEl = null;
      width = chart.clientWidth || 1000;
      var anc = [];
      for (var a = focus.p; a; a = a.p) anc.unshift(a);
      anc.forEach(function (a, i) { frag.appendChild(bar(a, 0, 1, i, true)); });
      var place = function (n, x, w, depth) {
        if (w < 0.0012) return;
        var el = bar(n, x, w, depth, false);
        if (n === focus) focusEl = el;
        frag.appendChild(el);
        if (depth > maxDepth) maxDepth = depth;
        var cx = x;
        n.c.forEach(function (c) {
          var cw = n.t > 0 ? w * c.t / n.t : 0;
          place(c, cx, cw, depth + 1);
          cx += cw;
        });
      };
      place(focus, 0, 1, anc.length);
      chart.textContent = "";
      chart.appendChild(frag);
      chart.style.height = ((maxDepth + 1) * ROW) + "px";
      chart.classList.toggle("dim", !!flame.highlight);
      if (reset) reset.disabled = focus === root;
      if (keepFocus && focusEl) focusEl.focus();
    };
    if (reset) reset.addEventListener("click", function () { flame.focus = root; flame.draw(false); });
    chart.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && flame.focus !== root) { flame.focus = root; flame.draw(true); }
    });
    flame.draw(false);
  }
  fromHash();
})();
"""
