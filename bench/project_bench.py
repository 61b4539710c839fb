"""bench: one corpus project measured round by round (plain run, scan, peers) and its table cells."""

from __future__ import annotations

import collections
import json
import os
import shlex
import shutil

from children import log, run_child
from peers import PEER_TITLES, PEERS, PYTEST_ARGS, run_peer
from report import ratio, secs, spread, tally
from score import matches, rank_of, score


def copy_project(src, dst):
    shutil.copytree(
        src, dst, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".codeflash", ".pytest_cache")
    )
    for root, dirs, files in os.walk(dst):  # an external corpus may have no write bits
        for name in dirs + files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o200)
    os.chmod(dst, os.stat(dst).st_mode | 0o200)


class ProjectBench:
    def __init__(self, name, corpus, work, ctx):
        self.name, self.ctx = name, ctx
        self.src = corpus / name
        self.copy = work / "projects" / name
        self.logs = work / "logs" / name
        self.reports = work / "reports" / name
        self.expected = json.loads((self.src / "EXPECTED.json").read_text("utf-8"))
        cpu_rules = [r for r in self.expected.get("expect", []) if r.get("domain") == "cpu" and r.get("symbol")]
        sym = cpu_rules[0]["symbol"] if cpu_rules else None
        self.planted = ([sym] if isinstance(sym, str) else list(sym)) if sym else []
        self.plain = []  # seconds per round
        self.plain_venv = []  # seconds per round of the same tests in the peers' venv (its own baseline)
        self.scans = []  # dicts per round
        self.peers = collections.defaultdict(list)  # peer -> [(seconds or None, top or None, note)]

    def setup(self):
        copy_project(self.src, self.copy)
        self.reports.mkdir(parents=True, exist_ok=True)
        log(f"{self.name}: warm-up run (not counted)")
        c = self.run_plain("warmup")
        if not c.ok:
            log(f"{self.name}: warm-up run did not pass ({c.why()}); timings still reported")

    def run_plain(self, tag):
        return run_child(
            [*self.ctx.runner, "-m", "pytest", *PYTEST_ARGS],
            self.copy,
            self.ctx.env,
            self.logs,
            f"plain-{tag}",
            self.ctx.timeout,
        )

    def round(self, i):
        order = ["plain", "scan"] + ([] if self.ctx.peers is None else ["plain-venv", *PEERS])
        for variant in order:
            if variant == "plain":
                c = self.run_plain(i)
                self.plain.append(c.seconds)
                log(f"{self.name} round {i}: plain {c.seconds:.1f} s" + ("" if c.ok else f" ({c.why()})"))
            elif variant == "scan":
                self.scans.append(self.run_scan(i))
            elif variant == "plain-venv":
                self.plain_venv.append(self.run_plain_venv(i))
            else:
                self.peers[variant].append(run_peer(self.ctx, self.name, self.copy, self.logs, variant, i))

    def run_plain_venv(self, i):
        """The plain run in the peers' venv: pyinstrument, Scalene and py-spy are measured against
        it, since that venv's pytest and plugins (none) differ from the runner's."""
        peers = self.ctx.peers
        if not peers.python.exists() or peers.missing_pytest:
            return None
        c = run_child(
            [peers.python, "-m", "pytest", *PYTEST_ARGS],
            self.copy,
            self.ctx.env,
            self.logs,
            f"plain-venv-{i}",
            self.ctx.timeout,
        )
        log(f"{self.name} round {i}: plain in the peers' venv {c.seconds:.1f} s" + ("" if c.ok else f" ({c.why()})"))
        return c.seconds if not (c.timed_out or c.start_error) else None

    # perfscan ------------------------------------------------------------
    def run_scan(self, i):
        argv = [self.ctx.host_python, "-m", "perfscan", self.copy, "--runner", shlex.join(self.ctx.runner), "--quiet"]
        c = run_child(argv, self.copy, self.ctx.perfscan_env, self.logs, f"scan-{i}", self.ctx.timeout)
        out = {"seconds": c.seconds, "error": None, "report": None}
        report = self.copy / ".codeflash" / "scan-report.json"
        if c.rc not in (0, 1) or not report.exists():
            out["error"] = f"scan failed: {c.why()}"
            log(f"{self.name} round {i}: {out['error']}")
            return out
        kept = self.reports / f"scan-report-{i}.json"
        shutil.copyfile(report, kept)
        report.unlink()
        out["report"] = json.loads(kept.read_text("utf-8"))
        out["score"] = self.score(out["report"])
        out["ranks"] = self.planted_ranks(out["report"])
        log(f"{self.name} round {i}: scan {c.seconds:.1f} s, {out['score'].get('line', '?')}")
        return out

    def score(self, report):
        result = score(self.expected, report)
        return {
            "line": result.summary,
            "met": result.met,
            "total": result.total,
            "forbidden": result.forbidden,
            "outside": result.outside,
        }

    def planted_ranks(self, report):
        """For each expect rule: the best rank of a finding matching it (score.py's matching);
        a finding in the right place but with another severity or pattern is marked '*'."""
        findings = report.get("findings", [])
        ranks = []
        for rule in self.expected.get("expect", []):
            strict = [rank_of(f) for f in findings if matches(f, rule)]
            where = {k: rule[k] for k in ("domain", "file", "symbol", "module") if k in rule}
            loose = [rank_of(f) for f in findings if matches(f, where, strict=False)]
            status = ((report.get("passes") or {}).get(rule.get("domain")) or {}).get("status")
            if strict:
                ranks.append(f"#{min(strict)}")
            elif loose:
                ranks.append(f"#{min(loose)}*")
            elif status != "ok":
                ranks.append(f"n/a ({rule.get('domain')} pass {status or 'absent'})")
            else:
                ranks.append("miss")
        return ranks

    def rule_label(self, rule):
        what = rule.get("symbol") or rule.get("module") or "?"
        what = what[0] if isinstance(what, list) else what
        pat = rule.get("pattern")
        pat = pat[0] if isinstance(pat, list) and pat else pat
        return f"{rule.get('domain')} {what}" + (f" ({pat})" if pat else "")

    # cells ---------------------------------------------------------------
    def ratios(self, values, base):
        return [v / p for v, p in zip(values, base) if v is not None and p]

    def pass_cell(self, name, as_ratio):
        vals, other = [], []
        for i, s in enumerate(self.scans):
            if not s.get("report"):
                other.append(s["error"])
                continue
            p = (s["report"].get("passes") or {}).get(name)
            if not p:
                other.append("n/a: not in the report")
            elif p.get("status") == "ok":
                v = float(p.get("seconds") or 0.0)
                vals.append(v / self.plain[i] if as_ratio and self.plain[i] else v)
            elif p.get("status") == "skipped":
                other.append(f"n/a: {p.get('error') or 'skipped'}")
            else:
                other.append(f"{p.get('status')}: {p.get('error') or ''} ({float(p.get('seconds') or 0):.1f} s)")
        cell = spread(vals, ratio if as_ratio else secs)
        if cell and other:
            return f"{cell}; {len(other)}/{len(self.scans)} rounds {tally(other)}"
        return cell or tally(other) or "n/a"

    def scan_cells(self):
        ok = [(s["seconds"], p) for s, p in zip(self.scans, self.plain) if not s.get("error")]
        errors = [s["error"] for s in self.scans if s.get("error")]
        scan_s = spread([s for s, _ in ok], secs) or "-"
        scan_r = spread([s / p for s, p in ok if p], ratio) or tally(errors)
        if ok and errors:
            scan_r += f"; {len(errors)}/{len(self.scans)} failed: {tally(errors)}"
        return [
            self.name,
            spread(self.plain, secs),
            scan_s,
            scan_r,
            self.pass_cell("cpu", True),
            self.pass_cell("memory", True),
            self.pass_cell("import", False),
            self.pass_cell("async", False),
        ]

    def accuracy_cells(self):
        scored = [s for s in self.scans if s.get("report")]
        if not scored:
            reason = tally([s["error"] for s in self.scans])
            return [self.name, reason, "-", "-", "-", "-"]
        deps = [
            (
                (s["report"].get("deployment") or {}).get("model")
                if isinstance(s["report"].get("deployment"), dict)
                else s["report"].get("deployment")
            )
            for s in scored
        ]
        dep = tally(deps)
        want = self.expected.get("deployment")
        dep_cell = f"{dep} (ok)" if dep == want else f"{dep} (expected {want})"
        scores = [s["score"] for s in scored]
        if any("error" in sc for sc in scores):
            bad = tally([sc["error"] for sc in scores if "error" in sc])
            return [self.name, dep_cell, bad, "-", "-", "-"]
        met = tally([f"{sc['met']}/{sc['total']}" for sc in scores])
        forb = tally([str(sc["forbidden"]) for sc in scores])
        outside = tally([str(sc["outside"]) for sc in scores])
        rules = self.expected.get("expect", [])
        if rules:
            parts = []
            for k, rule in enumerate(rules):
                parts.append(f"{self.rule_label(rule)}: {tally([s['ranks'][k] for s in scored])}")
            ranks = "; ".join(parts)
        else:
            ranks = "- (nothing planted)"
        return [self.name, dep_cell, met, forb, outside, ranks]

    def perfscan_top(self):
        tops = []
        for s in self.scans:
            if not s.get("report"):
                continue
            cpu = [f for f in s["report"].get("findings", []) if f.get("domain") == "cpu"]
            cpu.sort(key=rank_of)
            if cpu:
                tops.append((cpu[0].get("qualname") or cpu[0].get("symbol") or "").split(":")[-1].split(".")[-1])
            else:
                p = (s["report"].get("passes") or {}).get("cpu") or {}
                tops.append(None if p.get("status") == "ok" else f"n/a: cpu pass {p.get('status')}")
        return tops

    def top_cell(self, tops):
        """Whether the top project function is the planted one, over the rounds."""
        if not self.planted:
            shown = [t or "(none)" for t in tops]
            return f"- (top: {tally(shown)})" if shown else "-"
        marks = []
        for t in tops:
            if t is None:
                marks.append("no project function")
            elif t.startswith("n/a"):
                marks.append(t)
            else:
                marks.append(f"yes ({t})" if t in self.planted else f"no ({t})")
        return tally(marks) if marks else "-"

    def peer_cells(self):
        over, top = [self.name, ", ".join(self.planted) or "-"], [self.name, ", ".join(self.planted) or "-"]
        over.append(spread(self.plain, secs) or "-")
        over.append(spread([v for v in self.plain_venv if v is not None], secs) or "n/a: no peers' venv")
        over.append(self.pass_cell("cpu", True))
        top.append(self.top_cell(self.perfscan_top()))
        for peer in PEERS:
            runs = self.peers.get(peer, [])
            secs_ = [r[0] for r in runs]
            rs = self.ratios(secs_, self.plain if peer == "cprofile" else self.plain_venv)
            failed = [r[2] for r in runs if r[0] is None]
            notes = [r[2] for r in runs if r[0] is not None and r[2]]
            if rs:
                cell = spread(rs, ratio)
                if failed:
                    cell += f"; {len(failed)}/{len(runs)} rounds failed: {tally(failed)}"
                if notes:
                    cell += f" (tests: {tally(notes)})"
            else:
                cell = f"{PEER_TITLES[peer]}: {tally(failed)}" if failed else "not run"
            over.append(cell)
            ok_runs = [r for r in runs if r[0] is not None]
            if ok_runs:
                t = self.top_cell(
                    [r[1] if r[1] is not None or not r[2].startswith("unreadable") else f"n/a: {r[2]}" for r in ok_runs]
                )
            else:
                t = f"{PEER_TITLES[peer]}: {tally(failed)}" if failed else "not run"
            top.append(t)
        return over, top
