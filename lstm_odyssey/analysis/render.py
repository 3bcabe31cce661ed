"""The views of a :class:`.model.Report`: one self-contained HTML page (figures embedded as data
URIs), one Markdown file and the CSVs. Each view walks the same sections in the same order;
a section's CSVs are named under it in both documents, so that every number traces to a file.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .model import Bullets, Cell, Figure, Heading, Matrix, Report, Section, Table, Text, Tone
from .model import Verdict as VerdictBlock

# verdict words → the CSS class that colours them, in every table and in the matrix
TONES = {"worse": "worse", "better": "better", "reproduced": "good", "not reproduced": "bad",
         "consistent, underpowered": "weak", "not testable": "na", "too few trials": "na",
         "constant samples": "na", "n.s.": "ns", "n.s., underpowered": "weak",
         "equivalent": "good", "undecided": "weak", "too few pairs": "na"}
# matrix tones whose colour scales with the effect (rgb of the full colour)
SCALED = {"worse": (214, 69, 65), "better": (56, 142, 60), "good": (56, 142, 60)}
MAX_MATRIX_COLUMNS = 10  # more variants than this: variants as rows, so the page never scrolls


def fmt(x: object) -> str:
    """A table cell for people: booleans as yes/no, floats to 3 significant digits."""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, float | np.floating):
        if math.isnan(x):
            return "–"
        return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"
    if x is None or x is pd.NA:
        return "–"
    return str(x)


# -- HTML --------------------------------------------------------------------------------------
CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;
color:#222}h1{font-size:1.4em;margin:.2em 0}h2{border-bottom:1px solid #bbb;margin-top:1.6em;
font-size:1.15em}h3{font-size:1em}table.tbl{border-collapse:collapse;font-size:.8em;
margin:.4em 0;max-width:100%}table.tbl td,table.tbl th{border:1px solid #ccc;padding:2px 5px;
overflow-wrap:break-word;vertical-align:top;text-align:left}table.tbl th{background:#eee}
table.tbl th small{font-weight:normal;color:#555}figure{margin:1em 0}
img{max-width:100%}nav{background:#f6f6f6;padding:.3em 1em;font-size:.85em}
nav ol{columns:3;margin:.2em 0}.note{color:#555;font-size:.85em;margin:.2em 0}
#answer h2{margin-top:.4em}table.findings td:nth-child(1){white-space:nowrap}
table.findings td:nth-child(2){width:24%}table.findings td:nth-child(3),
table.findings td:nth-child(5),table.findings td:nth-child(6){width:7.5em}
table.findings td:nth-child(7){width:5em}table.findings{font-size:.75em}
h3 small{font-weight:normal;color:#555}
ul.evidence{font-size:.85em;margin:.2em 0}.warn{background:#fbeaa8;padding:.3em .6em}
span.worse,span.better,span.good,span.bad,span.weak,span.na,span.ns{padding:0 .3em}
table.matrix td{text-align:center;white-space:nowrap;font-size:.95em}.legend{font-size:.8em}
table.matrix td small{color:#444}table.matrix td,table.matrix th{padding:1px 4px;line-height:1.15}
.legend span{padding:0 .4em}.worse,.bad{background:#f4c7c3}.better,.good{background:#c9e8c5}
.ns{background:#d6e6f5}.weak{background:#fbeaa8}.na{color:#777;background:#f3f3f3}
.ref{background:#e3e3e3}"""


def _table_html(df: pd.DataFrame, css: str = "") -> str:
    if not len(df):
        return "<p><em>(empty)</em></p>"
    classes = "tbl" + (f" {css}" if css else "")
    table = df.map(fmt).to_html(index=False, escape=True, classes=classes, border=0)
    for word, tone in TONES.items():
        table = table.replace(f"<td>{html.escape(word)}</td>",
                              f'<td class="{tone}">{html.escape(word)}</td>')
    return table


def _cell_html(c: Cell) -> str:
    style = ""
    if c.tone in SCALED:
        r, g, b = SCALED[c.tone]
        style = f' style="background:rgba({r},{g},{b},{0.12 + 0.6 * c.strength:.2f})"'
    main, _, small = c.text.partition("\n")
    text = html.escape(main) + (f"<br><small>{html.escape(small)}</small>" if small else "")
    return f'<td class="{c.tone}"{style} title="{html.escape(c.tip)}">{text}</td>'


def _matrix_html(m: Matrix) -> str:
    heads = [f"{html.escape(r.label)}<br><small>{html.escape(r.unit)}</small>" for r in m.rows]
    if len(m.columns) <= MAX_MATRIX_COLUMNS:
        head = "<th>task</th>" + "".join(f"<th>{html.escape(v)}</th>" for v in m.columns)
        body = "".join(f"<tr><th>{th}</th>" + "".join(map(_cell_html, r.cells)) + "</tr>"
                       for th, r in zip(heads, m.rows))
    else:
        head = "<th>variant</th>" + "".join(f"<th>{th}</th>" for th in heads)
        body = "".join(f"<tr><th>{html.escape(v)}</th>"
                       + "".join(_cell_html(r.cells[i]) for r in m.rows) + "</tr>"
                       for i, v in enumerate(m.columns))
    legend = " ".join(f'<span class="{tone}">{html.escape(words)}</span>'
                      for tone, words in m.legend)
    return (f'<table class="tbl matrix"><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table><p class="legend">{legend} — '
            f"{html.escape(m.note)}</p>")


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'
            f"<figcaption>{html.escape(path.stem)}</figcaption></figure>")


def _span(verdict: str) -> str:
    return f'<span class="{TONES.get(verdict, "na")}">{html.escape(verdict)}</span>'


def _block_html(b) -> str:
    if isinstance(b, Text):
        if b.tone == Tone.WARN:
            return f'<p class="warn">{html.escape(b.text)}</p>' if b.text else ""
        cls = ' class="note"' if b.tone == Tone.NOTE else ""
        return f"<p{cls}>{html.escape(b.text)}</p>"
    if isinstance(b, Bullets):
        return '<ul class="evidence">' + "".join(f"<li>{html.escape(i)}</li>"
                                                  for i in b.items) + "</ul>"
    if isinstance(b, Heading):
        sub = f" <small>— {html.escape(b.sub)}</small>" if b.sub else ""
        return f"<h3>{html.escape(b.text)}{sub}</h3>"
    if isinstance(b, Table):
        return _table_html(b.frame, b.css)
    if isinstance(b, Figure):
        return _img(b.path)
    if isinstance(b, Matrix):
        return _matrix_html(b)
    if isinstance(b, VerdictBlock):
        cls = ' class="note"' if b.tone == Tone.NOTE else ""
        label = f"{html.escape(b.label)}: " if b.label else ""
        return f"<p{cls}>{label}{_span(b.verdict)} — {html.escape(b.reason)}</p>"
    raise TypeError(f"no HTML view of {type(b).__name__}")


def _csv_note(s: Section) -> str:
    return "CSV: " + ", ".join(s.csvs) if s.csvs else ""


def _section_body_html(s: Section) -> str:
    note = f'<p class="note">{html.escape(_csv_note(s))}</p>' if s.csvs else ""
    return "".join(_block_html(b) for b in s.blocks) + note


def to_html(r: Report) -> str:
    """The report as one self-contained HTML page: the answer first, then the table of
    contents and every detail section."""
    answer = "".join(f"<h2>{html.escape(s.title)}</h2>{_section_body_html(s)}"
                     for s in r.answer)
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in r.sections)
    body = "".join(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>'
                   f"{_section_body_html(s)}</section>" for s in r.sections)
    warn = f'<p class="warn">{html.escape(r.warning)}</p>' if r.warning else ""
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>{html.escape(r.title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(r.title)}</h1><p class=\"note\">{html.escape(r.status)}</p>"
            f'{warn}<div id="answer">{answer}</div>'
            f"<nav><strong>Details</strong><ol>{toc}</ol></nav>{body}</body></html>")


# -- Markdown ----------------------------------------------------------------------------------
def table_md(df: pd.DataFrame) -> str:
    return df.map(fmt).to_markdown(index=False) if len(df) else "_(empty)_"


def _matrix_md(m: Matrix) -> str:
    words = dict(m.legend)
    rows = [[f"{r.label}, {r.unit}", *[
        c.text.replace("\n", " ") + (f" ({words[c.tone]})" if c.tone in words else "")
        for c in r.cells]] for r in m.rows]
    return table_md(pd.DataFrame(rows, columns=["task", *m.columns])) + f"\n\n{m.note}"


def _block_md(b) -> str:
    if isinstance(b, Text):
        return (f"**{b.text}**" if b.tone == Tone.WARN else
                f"_{b.text}_" if b.tone == Tone.NOTE else b.text) if b.text else ""
    if isinstance(b, Bullets):
        return "\n".join(f"- {i}" for i in b.items)
    if isinstance(b, Heading):
        return f"### {b.text}" + (f" — {b.sub}" if b.sub else "")
    if isinstance(b, Table):
        return table_md(b.frame)
    if isinstance(b, Figure):
        return f"![{b.path.stem}](figures/{b.path.name})"
    if isinstance(b, Matrix):
        return _matrix_md(b)
    if isinstance(b, VerdictBlock):
        label = f"{b.label}: " if b.label else ""
        return f"{label}**{b.verdict}** — {b.reason}"
    raise TypeError(f"no Markdown view of {type(b).__name__}")


def to_markdown(r: Report) -> str:
    """The report as Markdown: the same sections as :func:`to_html`, figures as links."""
    parts = [f"# {r.title}", f"{r.status}.", *([f"**{r.warning}**"] if r.warning else [])]
    for s in r.all_sections:
        parts += [f"## {s.title}", *(_block_md(b) for b in s.blocks)]
        if s.csvs:
            parts.append(f"_{_csv_note(s)}_")
    return "\n\n".join(p for p in parts if p) + "\n"


# -- CSV ---------------------------------------------------------------------------------------
def write_csvs(r: Report, out: Path) -> list[Path]:
    """Every CSV of the report (machine column names), in ``out``."""
    paths = []
    for name, df in r.csvs.items():
        df.to_csv(out / name, index=False)
        paths.append(out / name)
    return paths
